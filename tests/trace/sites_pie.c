// Allocation sites in three kinds of module, for the symbolisation test
// (trace_test.py symbols): this PIE executable, a shared library it links
// (sites_lib.c) and a C++ plugin it dlopens after start-up (sites_plugin.cc).
// Every block stays live, so each site is among those live at the end.
//   sites_pie PLUGIN.so
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void* lib_make_record(size_t n);  // sites_lib.c

__attribute__((noinline)) void* pie_local_alloc(size_t n) { return malloc(n); }

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* keep[3];
  keep[0] = pie_local_alloc(100000);  // larger than what the loader allocates: among the top sites
  keep[1] = lib_make_record(200000);
  void* h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 1;
  }
  void* (*make)(size_t) = (void* (*)(size_t))dlsym(h, "plugin_make_widget");
  if (!make) return 1;
  keep[2] = make(150000);
  return keep[0] && keep[1] && keep[2] ? 0 : 1;
}
