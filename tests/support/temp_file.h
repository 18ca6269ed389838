// A file with the given contents in the test's temp directory, removed when the
// object goes (test inputs such as a size distribution's CSV).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace heapmark::test {

struct TempFile {
  std::string path;
  TempFile(const std::string& body, const std::string& suffix) {
    static int serial = 0;
    path = ::testing::TempDir() + "heapmark_" + std::to_string(getpid()) + "_" + std::to_string(serial++) + suffix;
    std::ofstream(path) << body;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace heapmark::test
