// A program that brings its own allocator: malloc and free defined in the
// executable (a bump allocator over one static arena), as programs that
// statically link jemalloc or tcmalloc do. Preloading cannot replace them for
// the program's own calls, so a program cell must fail with cause identity.
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) char arena[64 << 20];
static size_t top;

void* malloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (top + n > sizeof arena) return NULL;
  void* p = arena + top;
  top += n;
  return p;
}
void free(void* p) { (void)p; }
void* calloc(size_t a, size_t b) {
  void* p = malloc(a * b);
  if (p) memset(p, 0, a * b);
  return p;
}
void* realloc(void* p, size_t n) {
  void* q = malloc(n);
  if (q && p) memcpy(q, p, n);  // the arena is contiguous: reading past a short block stays inside it
  return q;
}

int main(void) {
  char* s = malloc(32);
  strcpy(s, "own allocator");
  puts(s);
  return 0;
}
