# The shared harnesses (conformance, stress, differential fuzzer, and under
# LD_PRELOAD the real programs) instantiated for the ptmalloc-style allocator.
include(${CMAKE_SOURCE_DIR}/tests/conformance/helpers.cmake)
heapmark_add_allocator_tests(ptmalloc CORE heapmark::pt::Core HEADER ptmalloc_style/core.h
                             LINK hm_ptmalloc REGISTRY_NAME ptmalloc-style PRELOAD heapmark_ptmalloc)
