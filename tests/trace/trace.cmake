# Trace recording and replay (workloads/trace_format, tools/record, the trace
# workload and the record / trace-info / replay subcommands).
#
# The reader's fuzz target builds everywhere (it needs only the format files):
# a libFuzzer binary under HEAPMARK_FUZZ, else a plain executable replaying the
# kept corpus (valid, truncated, corrupted inputs and every kept crasher).
# Crashers found by hand (build-fuzz/fuzz_trace_reader -max_total_time=600 new/
# tests/trace/corpus) go into tests/trace/corpus under a descriptive name.
set(trace_fuzz_sources ${CMAKE_CURRENT_LIST_DIR}/fuzz_trace_reader.cc ${PROJECT_SOURCE_DIR}/workloads/trace_format.cc)
if(HEAPMARK_FUZZ)
  add_executable(fuzz_trace_reader ${trace_fuzz_sources})
  target_compile_options(fuzz_trace_reader PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_trace_reader PRIVATE -fsanitize=fuzzer,address,undefined)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-new-trace-reader)
  add_test(NAME fuzz_trace_reader_short_run
           COMMAND fuzz_trace_reader -max_total_time=5 -seed=1 -rss_limit_mb=2048
                   ${CMAKE_BINARY_DIR}/fuzz-new-trace-reader ${CMAKE_CURRENT_LIST_DIR}/corpus)
  set_tests_properties(fuzz_trace_reader_short_run PROPERTIES LABELS core TIMEOUT 120)
  # -runs=0: replay the corpus once. Without it libFuzzer fuzzes for ever and
  # writes its new inputs into the source tree.
  set(trace_replay_args -runs=0)
else()
  add_executable(fuzz_trace_reader ${trace_fuzz_sources} ${CMAKE_CURRENT_LIST_DIR}/../fuzz/replay_main.cc)
  set(trace_replay_args "")
endif()
target_include_directories(fuzz_trace_reader PRIVATE ${PROJECT_SOURCE_DIR})
# Checksums off in this target only, so mutated inputs reach the event decoder.
target_compile_definitions(fuzz_trace_reader PRIVATE HEAPMARK_TRACE_FUZZING)
add_test(NAME fuzz_trace_reader_corpus COMMAND fuzz_trace_reader ${trace_replay_args} ${CMAKE_CURRENT_LIST_DIR}/corpus)
set_tests_properties(fuzz_trace_reader_corpus PROPERTIES LABELS core TIMEOUT 120)
# The corpus's named inputs through the real reader (checksums on): each one's outcome asserted.
add_executable(trace_corpus_tests ${CMAKE_CURRENT_LIST_DIR}/corpus_test.cc ${PROJECT_SOURCE_DIR}/workloads/trace_format.cc
               ${PROJECT_SOURCE_DIR}/workloads/trace_stream.cc)
target_include_directories(trace_corpus_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(trace_corpus_tests PRIVATE HEAPMARK_TRACE_CORPUS="${CMAKE_CURRENT_LIST_DIR}/corpus")
target_link_libraries(trace_corpus_tests PRIVATE GTest::gtest_main)
gtest_discover_tests(trace_corpus_tests PROPERTIES LABELS core)

if(NOT HEAPMARK_CORE_ONLY)
  # Real programs recorded and replayed (seconds each): see trace_test.py.
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_executable(trace_workload_tests ${CMAKE_CURRENT_LIST_DIR}/trace_workload_test.cc)
  target_link_libraries(trace_workload_tests PRIVATE hm_workloads GTest::gtest_main)
  # Programs the recorder is tried on: millions of live blocks (the benchmark's
  # program), and more threads alive at once than the format holds.
  add_executable(trace_live_blocks ${PROJECT_SOURCE_DIR}/bench/live_blocks/live_blocks.c)
  add_executable(trace_many_threads ${CMAKE_CURRENT_LIST_DIR}/many_threads.c)
  add_executable(trace_handoff ${CMAKE_CURRENT_LIST_DIR}/handoff.c)
  add_executable(trace_pin_top ${CMAKE_CURRENT_LIST_DIR}/pin_top.c)
  # Workers that fill, free most and exit before the program measures itself (thread lifetimes).
  add_executable(trace_thread_exit ${CMAKE_CURRENT_LIST_DIR}/thread_exit.c)
  target_link_libraries(trace_thread_exit PRIVATE Threads::Threads)
  # Allocation sites (record --stacks): three sites for the attribution test, and a PIE, a shared library
  # and a dlopen'ed C++ plugin for symbolisation. No sibling calls: `return malloc(n)` would become a jump
  # and the site's own frame would not be on the stack.
  add_executable(trace_three_sites ${CMAKE_CURRENT_LIST_DIR}/three_sites.c)
  add_library(trace_sites_lib SHARED ${CMAKE_CURRENT_LIST_DIR}/sites_lib.c)
  add_library(trace_sites_plugin MODULE ${CMAKE_CURRENT_LIST_DIR}/sites_plugin.cc)
  add_executable(trace_sites_pie ${CMAKE_CURRENT_LIST_DIR}/sites_pie.c)
  target_link_libraries(trace_sites_pie PRIVATE trace_sites_lib ${CMAKE_DL_LIBS})
  set_target_properties(trace_sites_pie PROPERTIES POSITION_INDEPENDENT_CODE ON)
  foreach(t trace_three_sites trace_sites_lib trace_sites_plugin trace_sites_pie)
    target_compile_options(${t} PRIVATE -fno-optimize-sibling-calls -g)
  endforeach()
  target_link_libraries(trace_handoff PRIVATE Threads::Threads)
  target_link_libraries(trace_many_threads PRIVATE Threads::Threads)
  foreach(case sort python_threads handoff diagnose thread_lifetimes self_check old_format fork follow_forks bad_input live_blocks lost_events sites pprof symbols
               bad_stacks heaptrack)
    add_test(NAME trace_${case}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/trace_test.py ${case} $<TARGET_FILE:heapmark>
                     ${CMAKE_CURRENT_BINARY_DIR}/trace-${case} $<TARGET_FILE:trace_workload_tests>)
    set_tests_properties(trace_${case} PROPERTIES TIMEOUT 300
      ENVIRONMENT "HEAPMARK_TEST_LIVE_BLOCKS=$<TARGET_FILE:trace_live_blocks>;HEAPMARK_TEST_MANY_THREADS=$<TARGET_FILE:trace_many_threads>;HEAPMARK_TEST_HANDOFF=$<TARGET_FILE:trace_handoff>;HEAPMARK_TEST_PIN_TOP=$<TARGET_FILE:trace_pin_top>;HEAPMARK_TEST_THREAD_EXIT=$<TARGET_FILE:trace_thread_exit>;HEAPMARK_TEST_THREE_SITES=$<TARGET_FILE:trace_three_sites>;HEAPMARK_TEST_SITES_PIE=$<TARGET_FILE:trace_sites_pie>;HEAPMARK_TEST_SITES_PLUGIN=$<TARGET_FILE:trace_sites_plugin>;HEAPMARK_TEST_SITES_LIB=$<TARGET_FILE:trace_sites_lib>")
  endforeach()
endif()
