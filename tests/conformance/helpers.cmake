# heapmark_add_allocator_tests(<name> CORE <C++ core type> HEADER <core header>
#                              LINK <core library> REGISTRY_NAME <name()>
#                              [PRELOAD <preload .so target>] [CONFORMANCE_ONLY])
# Instantiates the shared harnesses for one allocator: the conformance suite over
# the core (LABELS core), the self-checking stress program (--smoke in ctest),
# the differential fuzzer (corpus + kept crashers replayed; a real libFuzzer
# binary under HEAPMARK_FUZZ), and, in full builds with a PRELOAD library, the
# conformance suite, stress program and real programs under LD_PRELOAD.
# A second allocator reuses all of it with one call from its own fragment:
#   include(${CMAKE_SOURCE_DIR}/tests/conformance/helpers.cmake)
#   heapmark_add_allocator_tests(ptmalloc CORE heapmark::pt::Core HEADER ptmalloc_style/core.h
#                                LINK hm_ptmalloc REGISTRY_NAME ptmalloc-style PRELOAD heapmark_ptmalloc)
include_guard(GLOBAL)
set(HEAPMARK_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR}/..)

function(heapmark_add_allocator_tests name)
  cmake_parse_arguments(ARG "CONFORMANCE_ONLY" "CORE;HEADER;LINK;REGISTRY_NAME;PRELOAD" "" ${ARGN})
  set(HM_NAME ${name})
  set(HM_CORE ${ARG_CORE})
  set(HM_HEADER ${ARG_HEADER})
  set(HM_REGISTRY_NAME ${ARG_REGISTRY_NAME})
  set(gen ${CMAKE_BINARY_DIR}/generated/tests/${name})

  configure_file(${HEAPMARK_TESTS_DIR}/conformance/conformance_core.cc.in ${gen}/conformance_${name}.cc @ONLY)
  add_executable(conformance_${name} ${gen}/conformance_${name}.cc)
  target_include_directories(conformance_${name} PRIVATE ${HEAPMARK_TESTS_DIR}/conformance)
  target_link_libraries(conformance_${name} PRIVATE ${ARG_LINK} hm_shim GTest::gtest GTest::gtest_main Threads::Threads)
  if(WIN32)
    # Under Wine every process start costs seconds: one ctest per suite, not per case.
    add_test(NAME conformance_${name} COMMAND conformance_${name})
    set_tests_properties(conformance_${name} PROPERTIES LABELS "core;windows" TIMEOUT 300)
  else()
    gtest_discover_tests(conformance_${name} TEST_PREFIX "${name}." PROPERTIES LABELS core DISCOVERY_TIMEOUT 30)
  endif()
  if(ARG_CONFORMANCE_ONLY)
    return()
  endif()

  # Self-checking stress program over the core; --smoke in ctest, --long by hand.
  configure_file(${HEAPMARK_TESTS_DIR}/stress/stress_core.cc.in ${gen}/stress_${name}.cc @ONLY)
  add_executable(stress_${name} ${gen}/stress_${name}.cc)
  target_include_directories(stress_${name} PRIVATE ${HEAPMARK_TESTS_DIR}/stress ${HEAPMARK_TESTS_DIR}/conformance)
  target_link_libraries(stress_${name} PRIVATE ${ARG_LINK} hm_shim Threads::Threads)
  add_test(NAME stress_${name}_smoke COMMAND stress_${name} --smoke)
  set_tests_properties(stress_${name}_smoke PROPERTIES LABELS core TIMEOUT 120)
  if(WIN32)
    return()  # the fuzzers and LD_PRELOAD are Linux's
  endif()

  # Differential fuzzer: libFuzzer under HEAPMARK_FUZZ, else a replay executable.
  configure_file(${HEAPMARK_TESTS_DIR}/fuzz/fuzz_core.cc.in ${gen}/fuzz_${name}.cc @ONLY)
  set(fuzz_dir ${HEAPMARK_TESTS_DIR}/fuzz)
  file(GLOB crashers CONFIGURE_DEPENDS ${fuzz_dir}/crashers/*)
  if(HEAPMARK_FUZZ)
    add_executable(fuzz_${name} ${gen}/fuzz_${name}.cc)
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    set(replay_args -runs=0)
    # A short real fuzzing run; new inputs go to the build dir, never the source tree.
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-new-${name})
    add_test(NAME fuzz_${name}_short_run
             COMMAND fuzz_${name} -max_total_time=5 -seed=1 -rss_limit_mb=4096
                     ${CMAKE_BINARY_DIR}/fuzz-new-${name} ${fuzz_dir}/corpus)
    set_tests_properties(fuzz_${name}_short_run PROPERTIES LABELS core TIMEOUT 120)
  else()
    add_executable(fuzz_${name} ${gen}/fuzz_${name}.cc ${fuzz_dir}/replay_main.cc)
    set(replay_args "")
  endif()
  target_include_directories(fuzz_${name} PRIVATE ${fuzz_dir} ${HEAPMARK_TESTS_DIR}/conformance)
  target_link_libraries(fuzz_${name} PRIVATE ${ARG_LINK} hm_shim Threads::Threads)
  add_test(NAME fuzz_${name}_corpus COMMAND fuzz_${name} ${replay_args} ${fuzz_dir}/corpus)
  set_tests_properties(fuzz_${name}_corpus PROPERTIES LABELS core TIMEOUT 120)
  foreach(crasher ${crashers})
    get_filename_component(cname ${crasher} NAME)
    add_test(NAME fuzz_${name}_crasher_${cname} COMMAND fuzz_${name} ${replay_args} ${crasher})
    set_tests_properties(fuzz_${name}_crasher_${cname} PROPERTIES LABELS core TIMEOUT 60)
  endforeach()

  # Under LD_PRELOAD (full builds only: the sanitizer builds own malloc).
  if(ARG_PRELOAD AND NOT HEAPMARK_CORE_ONLY)
    if(TARGET ${ARG_PRELOAD})
      heapmark_add_preload_tests(${name} ${ARG_PRELOAD} ${ARG_REGISTRY_NAME})
    endif()
  endif()
endfunction()

# The preload binaries are shared by every allocator: built once.
function(heapmark_preload_binaries)
  if(TARGET conformance_preload)
    return()
  endif()
  add_executable(conformance_preload ${HEAPMARK_TESTS_DIR}/conformance/conformance_preload.cc)
  target_include_directories(conformance_preload PRIVATE ${HEAPMARK_TESTS_DIR}/conformance ${CMAKE_SOURCE_DIR}/allocators)
  target_link_libraries(conformance_preload PRIVATE GTest::gtest GTest::gtest_main Threads::Threads ${CMAKE_DL_LIBS})
  # Calls must reach the preloaded symbols, not be folded by the compiler.
  target_compile_options(conformance_preload PRIVATE -fno-builtin -Wno-alloc-size-larger-than -Wno-use-after-free)
  add_executable(stress_preload ${HEAPMARK_TESTS_DIR}/stress/stress_preload.cc)
  target_include_directories(stress_preload PRIVATE ${HEAPMARK_TESTS_DIR}/stress ${HEAPMARK_TESTS_DIR}/conformance
                                                    ${CMAKE_SOURCE_DIR}/allocators)
  target_link_libraries(stress_preload PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  target_compile_options(stress_preload PRIVATE -fno-builtin)
  add_executable(fork_threads ${HEAPMARK_TESTS_DIR}/preload/fork_threads.cc)
  target_link_libraries(fork_threads PRIVATE Threads::Threads)
endfunction()

# Conformance and stress through the exported symbols, and real programs whose
# output must equal their output without the preload (tests/preload/compare.sh).
function(heapmark_add_preload_tests name so registry_name)
  heapmark_preload_binaries()
  set(env "LD_PRELOAD=$<TARGET_FILE:${so}>;HEAPMARK_EXPECT_ALLOCATOR=${registry_name}")
  add_test(NAME preload_${name}_conformance COMMAND conformance_preload)
  set_tests_properties(preload_${name}_conformance PROPERTIES ENVIRONMENT "${env}" TIMEOUT 120)
  add_test(NAME preload_${name}_stress COMMAND stress_preload --smoke)
  set_tests_properties(preload_${name}_stress PROPERTIES ENVIRONMENT "${env}" TIMEOUT 120)
  set(cmp ${HEAPMARK_TESTS_DIR}/preload/compare.sh $<TARGET_FILE:${so}>)
  add_test(NAME preload_${name}_python_threads COMMAND ${cmp} python3 ${HEAPMARK_TESTS_DIR}/preload/py_threads.py)
  add_test(NAME preload_${name}_git COMMAND ${cmp} sh ${HEAPMARK_TESTS_DIR}/preload/git_repo.sh)
  add_test(NAME preload_${name}_cmake_version COMMAND ${cmp} ${CMAKE_COMMAND} --version)
  add_test(NAME preload_${name}_sort COMMAND ${cmp} sh ${HEAPMARK_TESTS_DIR}/preload/sort_big.sh)
  add_test(NAME preload_${name}_fork_threads COMMAND ${cmp} $<TARGET_FILE:fork_threads>)
  add_test(NAME preload_${name}_no_cxx_runtime COMMAND sh ${HEAPMARK_TESTS_DIR}/preload/no_cxx_runtime.sh
                                                       $<TARGET_FILE:${so}>)
  set_tests_properties(preload_${name}_python_threads preload_${name}_git preload_${name}_cmake_version
                       preload_${name}_sort preload_${name}_fork_threads preload_${name}_no_cxx_runtime
                       PROPERTIES TIMEOUT 120)
endfunction()
