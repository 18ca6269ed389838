# The self-measuring workloads fork-cow and false-sharing on the real allocator,
# in the test process or, where a fresh process matters (glibc's false-sharing
# layout, fork-cow's held children read from outside), in native_workload_run,
# which also runs either workload by hand under any LD_PRELOAD.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(native_workload_run ${CMAKE_CURRENT_LIST_DIR}/native_run.cc)
  target_link_libraries(native_workload_run PRIVATE hm_workloads)
  add_executable(workloads_native_tests ${CMAKE_CURRENT_LIST_DIR}/native_workloads_test.cc)
  target_link_libraries(workloads_native_tests PRIVATE hm_workloads Boost::json GTest::gtest_main)
  target_compile_definitions(workloads_native_tests PRIVATE NATIVE_WORKLOAD_RUN="$<TARGET_FILE:native_workload_run>")
  add_dependencies(workloads_native_tests native_workload_run)
  gtest_discover_tests(workloads_native_tests TEST_PREFIX "workloads_native." DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 120)
endif()
