# Unit tests of the ptmalloc-style core (prefixed API). Core tests: they also run
# under ASan+UBSan and TSan. The extra entries rerun the setting-dependent tests
# with the settings read from the environment at init.
add_executable(ptmalloc_test ${CMAKE_CURRENT_LIST_DIR}/ptmalloc_test.cc)
target_link_libraries(ptmalloc_test PRIVATE hm_ptmalloc GTest::gtest GTest::gtest_main Threads::Threads)
gtest_discover_tests(ptmalloc_test TEST_PREFIX "ptmalloc." PROPERTIES LABELS core DISCOVERY_TIMEOUT 30)

function(heapmark_ptmalloc_env_test name filter env)
  add_test(NAME ptmalloc.env.${name} COMMAND ptmalloc_test --gtest_filter=${filter})
  set_tests_properties(ptmalloc.env.${name} PROPERTIES LABELS core ENVIRONMENT "${env}")
endfunction()
# A 1 MiB trim threshold separates what glibc keeps from what eager/decay return.
heapmark_ptmalloc_env_test(release_glibc "PtPolicy.*" "HEAPMARK_PT_TRIM_THRESHOLD=1m")
heapmark_ptmalloc_env_test(release_eager "PtPolicy.*:PtTrim.*" "HEAPMARK_PT_RELEASE=eager;HEAPMARK_PT_TRIM_THRESHOLD=1m")
heapmark_ptmalloc_env_test(release_decay "PtPolicy.*:PtTrim.*"
                           "HEAPMARK_PT_RELEASE=decay;HEAPMARK_PT_DECAY_MS=200;HEAPMARK_PT_TRIM_THRESHOLD=1m")
heapmark_ptmalloc_env_test(release_decay_no_thread "PtPolicy.*"
                           "HEAPMARK_PT_RELEASE=decay;HEAPMARK_PT_DECAY_MS=200;HEAPMARK_PT_TRIM_THRESHOLD=1m;HEAPMARK_PT_DECAY_THREAD=0")
heapmark_ptmalloc_env_test(release_eager_random "PtHeap.*" "HEAPMARK_PT_RELEASE=eager")
heapmark_ptmalloc_env_test(release_decay_random "PtHeap.*" "HEAPMARK_PT_RELEASE=decay;HEAPMARK_PT_DECAY_MS=2")
heapmark_ptmalloc_env_test(arena_max_2 "PtArenas.*:PtHeap.RandomOpsInThreads*" "HEAPMARK_PT_ARENA_MAX=2")
heapmark_ptmalloc_env_test(fixed_thresholds "PtThreshold.*:PtTrim.*:PtRealloc.*"
                           "HEAPMARK_PT_MMAP_THRESHOLD=65536;HEAPMARK_PT_TRIM_THRESHOLD=262144")
heapmark_ptmalloc_env_test(no_tcache "PtHeap.*:PtHardeningDeathTest.DoubleFreeOfAFreeChunk" "HEAPMARK_PT_TCACHE_COUNT=0")
