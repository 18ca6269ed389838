// The shared library of the symbolisation test (see sites_pie.c).
#include <stdlib.h>

__attribute__((noinline)) void* lib_make_record(size_t n) { return malloc(n); }
