# End-to-end runs of the real heapmark binary with real preloaded allocators.
if(NOT HEAPMARK_CORE_ONLY)
  pkg_get_variable(HEAPMARK_JEMALLOC_LIBDIR jemalloc libdir)
  # Prometheus's own checker for the OpenMetrics export (package prometheus, scripts/lib/deps.sh).
  find_program(HEAPMARK_PROMTOOL promtool)
  add_executable(spine_integration_tests ${CMAKE_CURRENT_LIST_DIR}/run_test.cc)
  target_link_libraries(spine_integration_tests PRIVATE Boost::json GTest::gtest_main)
  target_include_directories(spine_integration_tests PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(spine_integration_tests PRIVATE
    HEAPMARK_BIN="$<TARGET_FILE:heapmark>" HEAPMARK_VERSION="${PROJECT_VERSION}"
    HMTEST_FORWARD="$<TARGET_FILE:hmtest_forward>" HMTEST_CRASH="$<TARGET_FILE:hmtest_crash>"
    HMTEST_HANG="$<TARGET_FILE:hmtest_hang>" HMTEST_HOG="$<TARGET_FILE:hmtest_hog>"
    HMTEST_NOT_AN_ALLOCATOR="$<TARGET_FILE:hmtest_not_an_allocator>" HMTEST_OVERLAP="$<TARGET_FILE:hmtest_overlap>"
    HMTEST_JEMALLOC_NARENAS="$<TARGET_FILE:hmtest_jemalloc_narenas>" HMTEST_MALLOC_ONLY="$<TARGET_FILE:hmtest_malloc_only>"
    HMTEST_TRIM_COST="$<TARGET_FILE:hmtest_trim_cost>" PROMTOOL="${HEAPMARK_PROMTOOL}"
    JEMALLOC_LIB="${HEAPMARK_JEMALLOC_LIBDIR}/libjemalloc.so.2" HEAPMARK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_dependencies(spine_integration_tests heapmark heapmark-cell hmtest_forward hmtest_crash hmtest_hang hmtest_hog
                   hmtest_not_an_allocator hmtest_overlap hmtest_jemalloc_narenas hmtest_malloc_only hmtest_trim_cost)
  gtest_discover_tests(spine_integration_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration)

  # Interruptions (SIGINT, a second writer, a full disk) finished with the command heapmark prints.
  add_executable(interrupt_tests ${CMAKE_CURRENT_LIST_DIR}/interrupt_test.cc)
  target_link_libraries(interrupt_tests PRIVATE Boost::json GTest::gtest_main)
  target_include_directories(interrupt_tests PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(interrupt_tests PRIVATE HEAPMARK_BIN="$<TARGET_FILE:heapmark>")
  add_dependencies(interrupt_tests heapmark heapmark-cell heapmark_record)
  gtest_discover_tests(interrupt_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration)

  # Real cells for the variants, workloads and scenarios the other suites reach only as generators.
  add_executable(coverage_tests ${CMAKE_CURRENT_LIST_DIR}/coverage_test.cc)
  target_link_libraries(coverage_tests PRIVATE hm_results Boost::json GTest::gtest_main)
  target_include_directories(coverage_tests PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(coverage_tests PRIVATE HEAPMARK_BIN="$<TARGET_FILE:heapmark>")
  add_dependencies(coverage_tests heapmark heapmark-cell heapmark_record heapmark_ptmalloc heapmark_buddy heapmark_slab)
  gtest_discover_tests(coverage_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration)

  # Every bad input in bad_inputs.tsv: its exit status, one line naming it, nothing written lost.
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  add_test(NAME bad_inputs COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/bad_inputs.py $<TARGET_FILE:heapmark>
                                   ${CMAKE_CURRENT_LIST_DIR}/bad_inputs.tsv)
  set_tests_properties(bad_inputs PROPERTIES LABELS integration TIMEOUT 600)
endif()
