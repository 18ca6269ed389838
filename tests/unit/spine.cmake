# Unit tests of the spine: measurement primitives, the cell protocol, the
# workloads, matrix expansion and the runner's bookkeeping.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(spine_unit_tests
    ${CMAKE_CURRENT_LIST_DIR}/histogram_test.cc ${CMAKE_CURRENT_LIST_DIR}/tsc_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/procfs_test.cc ${CMAKE_CURRENT_LIST_DIR}/protocol_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/workloads_test.cc ${CMAKE_CURRENT_LIST_DIR}/runner_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/executor_test.cc ${CMAKE_CURRENT_LIST_DIR}/registry_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/attribution_test.cc ${CMAKE_CURRENT_LIST_DIR}/perf_test.cc)
  target_link_libraries(spine_unit_tests PRIVATE hm_runner hm_executor hm_workloads GTest::gtest_main)
  target_compile_definitions(spine_unit_tests PRIVATE HEAPMARK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(spine_unit_tests DISCOVERY_TIMEOUT 30)
endif()
