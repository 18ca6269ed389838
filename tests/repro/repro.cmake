# heapmark repro: verdict rules (pure) and real measurements on small sizes
# (glibc and the preloaded allocators), plus the one-line errors. Not an
# allocator core: skipped in the HEAPMARK_CORE_ONLY builds.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(repro_test ${CMAKE_CURRENT_LIST_DIR}/repro_test.cc)
  target_link_libraries(repro_test PRIVATE hm_repro hm_repro_scenarios hm_workloads GTest::gtest_main)
  target_compile_definitions(repro_test PRIVATE HEAPMARK_BIN="$<TARGET_FILE:heapmark>")
  add_dependencies(repro_test heapmark heapmark-cell heapmark_ptmalloc heapmark_buddy heapmark_slab)
  # The measured tests share one small catalogue run (set up once per process), so
  # they are one ctest entry; the pure and CLI tests are another.
  add_test(NAME repro.measured COMMAND repro_test --gtest_filter=Measured.*)
  add_test(NAME repro.rules COMMAND repro_test --gtest_filter=-Measured.*)
  # A deadline, not a speed: ~45 cells take about 40 s on an idle 2-core machine.
  set_tests_properties(repro.measured PROPERTIES TIMEOUT 900 LABELS integration)
endif()
