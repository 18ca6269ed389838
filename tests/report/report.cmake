# Tests of heapmark report / compare (harness/report). Not allocator cores: skipped in
# the HEAPMARK_CORE_ONLY (sanitizer, fuzz) builds.
if(NOT HEAPMARK_CORE_ONLY)
  set(HM_REPORT_TESTS ${CMAKE_CURRENT_LIST_DIR})
  add_executable(report_test ${HM_REPORT_TESTS}/report_test.cc)
  target_link_libraries(report_test PRIVATE hm_report GTest::gtest_main)
  gtest_discover_tests(report_test TEST_PREFIX "report.")

  # Golden files: summary.md and cells.csv of the committed fixture (a real run).
  # scripts/update-golden regenerates them after an intended change.
  add_test(NAME report.golden
           COMMAND sh ${HM_REPORT_TESTS}/golden_test.sh $<TARGET_FILE:heapmark> ${HM_REPORT_TESTS})
  # Exit statuses and one-line errors of report and compare, including --fail-on-regression.
  add_test(NAME report.cli
           COMMAND sh ${HM_REPORT_TESTS}/cli_test.sh $<TARGET_FILE:heapmark> ${HM_REPORT_TESTS})

  # The page in a real browser (Debian's chromium; scripts/test installs it).
  # Always registered: without chromium the test is a visible skip (exit 77)
  # with its reason, not a hole in the suite.
  find_program(HEAPMARK_CHROMIUM NAMES chromium chromium-browser)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  add_test(NAME report.browser
           COMMAND ${Python3_EXECUTABLE} ${HM_REPORT_TESTS}/browser_test.py --heapmark $<TARGET_FILE:heapmark>
                   --chromium "${HEAPMARK_CHROMIUM}" --fixture ${HM_REPORT_TESTS}/fixtures/run-a)
  set_tests_properties(report.browser PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
