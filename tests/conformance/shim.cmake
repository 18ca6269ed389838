# Checks the shim layers against a trivial core: the C semantics through the
# shared conformance suite, and the export layer by building a preload .so.
include(${CMAKE_CURRENT_LIST_DIR}/helpers.cmake)
add_library(hm_trivial INTERFACE)
target_link_libraries(hm_trivial INTERFACE hm_os hm_shim)
heapmark_add_preload_library(heapmark_trivial SOURCES ${CMAKE_CURRENT_LIST_DIR}/trivial_export.cc LINK hm_trivial)
if(TARGET heapmark_trivial)
  target_include_directories(heapmark_trivial PRIVATE ${CMAKE_CURRENT_LIST_DIR})
endif()
heapmark_add_allocator_tests(trivial CORE heapmark::testing::TrivialCore HEADER trivial_core.h
                             LINK hm_trivial REGISTRY_NAME trivial PRELOAD heapmark_trivial)
