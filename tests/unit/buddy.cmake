# Buddy allocator tests: engine/Core unit tests (core) and the shared harnesses
# (conformance, stress, fuzz; preload and real programs in full builds).
add_executable(buddy_test ${CMAKE_CURRENT_LIST_DIR}/buddy_test.cc)
target_link_libraries(buddy_test PRIVATE hm_buddy GTest::gtest GTest::gtest_main Threads::Threads)
target_include_directories(buddy_test PRIVATE ${CMAKE_SOURCE_DIR}/tests/conformance)
gtest_discover_tests(buddy_test PROPERTIES LABELS core DISCOVERY_TIMEOUT 30)

include(${CMAKE_SOURCE_DIR}/tests/conformance/helpers.cmake)
heapmark_add_allocator_tests(buddy CORE heapmark::buddy::Core HEADER buddy/buddy_core.h
                             LINK hm_buddy REGISTRY_NAME buddy PRELOAD heapmark_buddy)
