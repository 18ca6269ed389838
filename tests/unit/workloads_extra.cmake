# Generator invariants of packets, server, large, realloc-growth, churn's
# realloc-class order and the mixed/empirical size distributions.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(workloads_extra_tests ${CMAKE_CURRENT_LIST_DIR}/workloads_gen_test.cc)
  target_link_libraries(workloads_extra_tests PRIVATE hm_runner hm_workloads GTest::gtest_main)
  gtest_discover_tests(workloads_extra_tests DISCOVERY_TIMEOUT 30)
endif()
