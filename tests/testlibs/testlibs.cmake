# Test-only allocator libraries for the runner's failure handling (crash, hang,
# memory cap, identity, overlapping blocks for --verify) and for a well-behaved
# user allocator.
if(NOT HEAPMARK_CORE_ONLY)
  foreach(mode forward crash hang hog)
    add_library(hmtest_${mode} SHARED ${CMAKE_CURRENT_LIST_DIR}/misbehaving_alloc.c)
    string(TOUPPER ${mode} MODE)
    target_compile_definitions(hmtest_${mode} PRIVATE HM_MODE_${MODE})
  endforeach()
  add_library(hmtest_not_an_allocator SHARED ${CMAKE_CURRENT_LIST_DIR}/not_an_allocator.c)
  target_link_options(hmtest_not_an_allocator PRIVATE -Wl,--version-script=${CMAKE_CURRENT_LIST_DIR}/not_an_allocator.map)
  add_library(hmtest_malloc_only SHARED ${CMAKE_CURRENT_LIST_DIR}/malloc_only.c)
  add_library(hmtest_overlap SHARED ${CMAKE_CURRENT_LIST_DIR}/overlapping_alloc.c)
  # An allocator must not let the compiler turn its own malloc+memset into a
  # call to calloc (itself): infinite recursion.
  target_compile_options(hmtest_overlap PRIVATE -fno-builtin)
  # A bare (non-heapmark) process that prints jemalloc's opt.narenas.
  add_executable(hmtest_jemalloc_narenas ${CMAKE_CURRENT_LIST_DIR}/jemalloc_narenas.c)
  target_link_libraries(hmtest_jemalloc_narenas PRIVATE ${CMAKE_DL_LIBS})
  # A bare process that times malloc_trim(0) on a churn cell's heap with its own clock.
  add_executable(hmtest_trim_cost ${CMAKE_CURRENT_LIST_DIR}/trim_cost.c)
endif()
