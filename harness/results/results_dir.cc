#include "harness/results/results_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/input_error.h"
#include "harness/results/cell_json.h"

namespace json = boost::json;

namespace heapmark::results {
namespace {

void check_schema(const json::object& o, const std::string& where) {
  const auto* sv = o.if_contains("schema_version");
  if (!sv || !sv->is_int64()) throw InputError(where + ": no schema_version");
  if (sv->as_int64() != kSchemaVersion)
    throw InputError(where + ": schema_version " + std::to_string(sv->as_int64()) +
                     " is not supported (this heapmark reads " + std::to_string(kSchemaVersion) + ")");
}

}  // namespace

std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char b[64];
  std::strftime(b, sizeof b, format, &tm);
  return b;
}

std::string new_run_id() {
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", rd() & 0xffff);
  return utc_now("%Y%m%d-%H%M%S") + "-" + suffix;
}

DirLock::DirLock(const std::string& dir) {
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw EnvironmentError("write in the results directory", dir, errno);
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      const std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?");
      throw InputError("results directory '" + dir + "' is being written by another heapmark (pid " +
                       holder.substr(0, holder.find_first_of("\n ")) +
                       "): wait for it to finish, or stop it, then --resume");
    }
    throw InputError("cannot lock the results directory '" + dir + "': " + std::strerror(err));
  }
  const std::string me = std::to_string(getpid()) + "\n";
  // The pid is only for a refused writer's message: the lock holds without it.
  if (ftruncate(fd_, 0) == 0 && pwrite(fd_, me.data(), me.size(), 0) < 0) return;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

CellLog::CellLog(const std::string& dir) : path_(dir + "/cells.jsonl") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw EnvironmentError("open", path_, errno);
  struct stat st;
  if (fstat(fd_, &st) == 0 && st.st_size > 0) {
    // Find the end of the last complete line and cut anything after it.
    off_t end = st.st_size;
    char c;
    off_t keep = 0;
    for (off_t pos = end - 1; pos >= 0; --pos) {
      if (pread(fd_, &c, 1, pos) != 1) break;
      if (c == '\n') {
        keep = pos + 1;
        break;
      }
    }
    if (keep != end && ftruncate(fd_, keep) != 0) throw EnvironmentError("cut the partial last line of", path_, errno);
  }
}

CellLog::~CellLog() {
  if (fd_ >= 0) ::close(fd_);
}

void CellLog::append(const CellResult& cell) {
  const std::string line = json::serialize(to_json(cell)) + "\n";
  // One write of the whole line (O_APPEND), then make it durable before the
  // next cell starts: an interrupted run keeps every finished cell. A write the
  // system cuts short (ENOSPC) is taken back, so no torn line is left behind.
  struct stat st;
  const off_t before = fstat(fd_, &st) == 0 ? st.st_size : -1;
  const ssize_t w = ::write(fd_, line.data(), line.size());
  int err = w < 0 ? errno : (w != static_cast<ssize_t>(line.size()) ? ENOSPC : 0);
  if (!err && fdatasync(fd_) != 0) err = errno;
  if (err) {
    // Should even this fail, readers skip a partial last line and the next CellLog cuts it.
    if (w > 0 && before >= 0) (void)!ftruncate(fd_, before);
    throw EnvironmentError("append a cell to", path_, err);
  }
}

Cells read_cells(const std::string& dir) {
  Cells out;
  const std::string path = dir + "/cells.jsonl";
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;  // no cell finished yet
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) {  // incomplete last line: documented as ignored
      out.ignored_partial_line = true;
      break;
    }
    const std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    json::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object())
      throw InputError(where + ": not valid JSON (" + (ec ? ec.message() : "not an object") + ")");
    check_schema(v.get_object(), where);
    CellResult r = from_json(v.get_object(), where);
    out.lines.push_back({std::move(r), std::move(v.get_object())});
  }
  return out;
}

}  // namespace heapmark::results
