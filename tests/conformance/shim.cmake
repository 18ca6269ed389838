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
                             LINK hm_trivial REGISTRY_NAME trivial CONFORMANCE_ONLY)
# The trivial core never reuses memory, so stress, fuzz and real programs would
# exhaust its arena: only the conformance suite runs, directly and under LD_PRELOAD.
if(TARGET heapmark_trivial AND NOT HEAPMARK_CORE_ONLY)
  heapmark_preload_binaries()
  add_test(NAME preload_trivial_conformance COMMAND conformance_preload)
  set_tests_properties(preload_trivial_conformance PROPERTIES
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:heapmark_trivial>;HEAPMARK_EXPECT_ALLOCATOR=trivial;HMTEST_RELEASES=0" TIMEOUT 120)
endif()
