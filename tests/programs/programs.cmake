# Program cells end to end: small real programs written for the tests (a
# phased heap builder, the same built static, one with its own malloc, and
# stand-ins for mimalloc-bench's benchmarks under their names in a fake
# out/bench/), run by the real heapmark binary, plus Debian's redis-server.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(hmprog_phased_churn ${CMAKE_CURRENT_LIST_DIR}/phased_churn.c)
  target_link_libraries(hmprog_phased_churn PRIVATE ${CMAKE_DL_LIBS})
  add_executable(hmprog_static ${CMAKE_CURRENT_LIST_DIR}/phased_churn.c)
  target_link_options(hmprog_static PRIVATE -static)
  add_executable(hmprog_own_malloc ${CMAKE_CURRENT_LIST_DIR}/own_malloc.c)
  # Its malloc+memset must not become a call to calloc (itself).
  target_compile_options(hmprog_own_malloc PRIVATE -fno-builtin)

  set(standin_dir ${CMAKE_CURRENT_BINARY_DIR}/mimalloc-bench)
  set(standins cfrac espresso barnes larson sh6bench sh8bench xmalloc-test cache-scratch mstress rptest glibc-simple
               glibc-thread alloc-test)
  set(standin_targets)
  foreach(name ${standins})
    add_executable(hmprog_mb_${name} ${CMAKE_CURRENT_LIST_DIR}/mimalloc_bench_standin.c)
    set_target_properties(hmprog_mb_${name} PROPERTIES OUTPUT_NAME ${name} RUNTIME_OUTPUT_DIRECTORY ${standin_dir}/out/bench)
    list(APPEND standin_targets hmprog_mb_${name})
  endforeach()
  # The inputs bench.sh names, in the checkout's bench/ as mimalloc-bench has them.
  file(WRITE ${standin_dir}/bench/espresso/largest.espresso ".i 2\n.o 1\n.e\n")
  file(WRITE ${standin_dir}/bench/barnes/input "16\n")

  add_executable(program_tests ${CMAKE_CURRENT_LIST_DIR}/program_test.cc)
  target_link_libraries(program_tests PRIVATE Boost::json GTest::gtest_main)
  target_include_directories(program_tests PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(program_tests PRIVATE
    HEAPMARK_BIN="$<TARGET_FILE:heapmark>" HEAPMARK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PHASED_CHURN="$<TARGET_FILE:hmprog_phased_churn>" STATIC_PROGRAM="$<TARGET_FILE:hmprog_static>"
    OWN_MALLOC="$<TARGET_FILE:hmprog_own_malloc>" MIMALLOC_BENCH_DIR="${standin_dir}")
  add_dependencies(program_tests heapmark heapmark-cell heapmark_probe hmprog_phased_churn hmprog_static hmprog_own_malloc
                   ${standin_targets})
  gtest_discover_tests(program_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration)
endif()
