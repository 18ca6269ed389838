/* A shared library that exports no malloc: preloading it leaves glibc serving
 * malloc, so a cell told this is the allocator must fail its identity check. */
int heapmark_test_not_an_allocator(void) { return 42; }
