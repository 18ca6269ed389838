# heapmark_add_allocator_tests(<name> CORE <C++ core type> HEADER <core header>
#                              LINK <core library> REGISTRY_NAME <name()>
#                              [PRELOAD <preload .so target>])
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
  cmake_parse_arguments(ARG "" "CORE;HEADER;LINK;REGISTRY_NAME;PRELOAD" "" ${ARGN})
  set(HM_NAME ${name})
  set(HM_CORE ${ARG_CORE})
  set(HM_HEADER ${ARG_HEADER})
  set(HM_REGISTRY_NAME ${ARG_REGISTRY_NAME})
  set(gen ${CMAKE_BINARY_DIR}/generated/tests/${name})

  configure_file(${HEAPMARK_TESTS_DIR}/conformance/conformance_core.cc.in ${gen}/conformance_${name}.cc @ONLY)
  add_executable(conformance_${name} ${gen}/conformance_${name}.cc)
  target_include_directories(conformance_${name} PRIVATE ${HEAPMARK_TESTS_DIR}/conformance)
  target_link_libraries(conformance_${name} PRIVATE ${ARG_LINK} hm_shim GTest::gtest GTest::gtest_main Threads::Threads)
  gtest_discover_tests(conformance_${name} TEST_PREFIX "${name}." PROPERTIES LABELS core DISCOVERY_TIMEOUT 30)

  if(COMMAND heapmark_add_stress_tests)
    heapmark_add_stress_tests(${name} ${gen})
  endif()
  if(COMMAND heapmark_add_fuzz_tests)
    heapmark_add_fuzz_tests(${name} ${gen})
  endif()
  if(ARG_PRELOAD AND TARGET ${ARG_PRELOAD} AND NOT HEAPMARK_CORE_ONLY AND COMMAND heapmark_add_preload_tests)
    heapmark_add_preload_tests(${name} ${ARG_PRELOAD} ${ARG_REGISTRY_NAME})
  endif()
endfunction()
