#include "harness/attach/target.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/input_error.h"

namespace heapmark::attach {
namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The value of "Key:" in /proc/PID/status, or "" when absent (a kernel thread has no Vm* lines).
std::string status_field(const std::string& status, const std::string& key) {
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(key + ":", 0) == 0) {
      const size_t v = line.find_first_not_of(" \t", key.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  return "";
}

}  // namespace

pid_t check_target(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long v = text.empty() || text[0] == '-' || text[0] == '+' ? 0 : std::strtol(text.c_str(), &end, 10);
  if (v <= 0 || errno || *end) throw InputError("attach '" + text + "': expected a process id, a whole number above 0");
  const pid_t pid = static_cast<pid_t>(v);
  const std::string proc = "/proc/" + std::to_string(pid);
  if (access(proc.c_str(), F_OK) != 0) throw InputError("attach " + text + ": no such process");
  if (pid == getpid()) throw InputError("attach " + text + ": that is this heapmark itself");
  std::ifstream st(proc + "/status");
  std::stringstream ss;
  ss << st.rdbuf();
  const std::string status = ss.str();
  const std::string state = status_field(status, "State");
  if (state.rfind("Z", 0) == 0 || state.rfind("X", 0) == 0)
    throw InputError("attach " + text + ": the process has exited (" + state +
                     "); its parent has not reaped it, and a zombie has no memory");
  if (status_field(status, "VmRSS").empty() || first_line(proc + "/cmdline").empty())
    throw InputError("attach " + text + ": a kernel thread (" + status_field(status, "Name") +
                     "): it has no memory of its own to look at");
  // smaps needs ptrace read access: what the kernel says is what the user must change.
  const int fd = ::open((proc + "/smaps").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM)
      throw InputError("attach " + text + ": not allowed to read its memory maps (" + std::strerror(err) +
                       "): run as root or with CAP_SYS_PTRACE, or as its user with kernel.yama.ptrace_scope at 0 or 1");
    throw InputError("attach " + text + ": cannot read " + proc + "/smaps: " + std::strerror(err));
  }
  char probe;
  const ssize_t n = ::read(fd, &probe, 1);
  const int err = errno;
  ::close(fd);
  if (n < 0 && (err == EACCES || err == EPERM))
    throw InputError("attach " + text + ": not allowed to read its memory maps (" + std::strerror(err) +
                     "): run as root or with CAP_SYS_PTRACE, or as its user with kernel.yama.ptrace_scope at 0 or 1");
  return pid;
}

}  // namespace heapmark::attach
