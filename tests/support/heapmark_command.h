// Runs `HEAPMARK_BIN args` through the shell for tests that check what the
// command prints and exits with: stdout and stderr apart, and the exit status.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace heapmark::test {

struct CommandResult {
  int status = -1;  // the exit status, or -1 when killed by a signal
  std::string out, err;
};

// `args` is shell text (quote paths with spaces yourself).
inline CommandResult run_heapmark_command(const std::string& heapmark, const std::string& args) {
  const std::string err_file =
      (std::filesystem::temp_directory_path() / ("heapmark_test_err_" + std::to_string(getpid()))).string();
  CommandResult r;
  FILE* p = popen((heapmark + " " + args + " 2>" + err_file).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err_file);
  return r;
}

}  // namespace heapmark::test
