# Empirical size distributions in fleetbench's three-column layout, on a small
# excerpt of its published CSVs (tests/unit/data), and through `heapmark run`.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(sizes_test ${CMAKE_CURRENT_LIST_DIR}/sizes_test.cc)
  target_link_libraries(sizes_test PRIVATE hm_workloads Boost::json GTest::gtest_main)
  target_compile_definitions(sizes_test PRIVATE HEAPMARK_BIN="$<TARGET_FILE:heapmark>"
                                                HEAPMARK_TEST_DATA="${CMAKE_CURRENT_LIST_DIR}/data")
  add_dependencies(sizes_test heapmark heapmark-cell)
  gtest_discover_tests(sizes_test TEST_PREFIX "sizes." DISCOVERY_TIMEOUT 30)
endif()
