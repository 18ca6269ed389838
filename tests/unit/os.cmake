# Unit test of the OS contract (allocators/os). Core test: also runs under ASan and TSan.
add_executable(os_test ${CMAKE_CURRENT_LIST_DIR}/os_test.cc)
target_link_libraries(os_test PRIVATE hm_os GTest::gtest GTest::gtest_main)
gtest_discover_tests(os_test PROPERTIES LABELS core)
