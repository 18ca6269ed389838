# What every allocator core shares (core tests: they also run under ASan and
# TSan): the AllocatorCore concept checked against each core, the strict
# settings parsers of allocators/shim/env.h, and each core refusing a malformed
# setting at init.
add_executable(core_contract_test ${CMAKE_CURRENT_LIST_DIR}/core_contract_test.cc)
target_link_libraries(core_contract_test PRIVATE hm_buddy hm_slab hm_ptmalloc hm_shim GTest::gtest GTest::gtest_main
                                                 Threads::Threads)
target_include_directories(core_contract_test PRIVATE ${CMAKE_SOURCE_DIR}/tests/conformance)
gtest_discover_tests(core_contract_test PROPERTIES LABELS core DISCOVERY_TIMEOUT 30)
