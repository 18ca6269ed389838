// Small pieces the supervisors share: an owned file descriptor, signal names,
// argv/envp arrays for posix_spawn.
#pragma once
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

namespace heapmark::runner {

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
  int release() { return std::exchange(fd, -1); }
};

// "SIGSEGV", or "signal N".
std::string signal_name(int sig);

// NULL-terminated char* arrays over strings that outlive them.
class CArgs {
 public:
  explicit CArgs(std::vector<std::string> items) : items_(std::move(items)) {
    for (auto& s : items_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  char** get() { return ptrs_.data(); }

 private:
  std::vector<std::string> items_;
  std::vector<char*> ptrs_;
};

}  // namespace heapmark::runner
