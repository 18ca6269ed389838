# Slab allocator tests: unit tests with the census invariant (core) and the
# shared harnesses (conformance, stress, fuzz; preload and real programs in full builds).
add_executable(slab_test ${CMAKE_CURRENT_LIST_DIR}/slab_test.cc)
target_link_libraries(slab_test PRIVATE hm_slab GTest::gtest GTest::gtest_main Threads::Threads)
target_include_directories(slab_test PRIVATE ${CMAKE_SOURCE_DIR}/tests/conformance)
gtest_discover_tests(slab_test PROPERTIES LABELS core DISCOVERY_TIMEOUT 30)

include(${CMAKE_SOURCE_DIR}/tests/conformance/helpers.cmake)
heapmark_add_allocator_tests(slab CORE heapmark::slab::Core HEADER slab/slab_core.h
                             LINK hm_slab REGISTRY_NAME slab PRELOAD heapmark_slab)
