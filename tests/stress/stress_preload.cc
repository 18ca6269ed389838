// The shared stress program over the process's own malloc symbols, run under
// LD_PRELOAD=lib<allocator>.so with HEAPMARK_EXPECT_ALLOCATOR=<name>.
#include "api.h"
#include "stress.h"

int main(int argc, char** argv) { return heapmark::testing::stress_main<heapmark::testing::PreloadApi>(argc, argv); }
