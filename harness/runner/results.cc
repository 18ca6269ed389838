#include "harness/runner/results.h"

#include <fcntl.h>
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

namespace json = boost::json;

namespace heapmark::runner {

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

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + ": " + std::strerror(errno));
}

CellLog::CellLog(const std::string& dir) : path_(dir + "/cells.jsonl") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
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
    if (keep != end && ftruncate(fd_, keep) != 0)
      throw std::runtime_error("cannot truncate the partial last line of " + path_ + ": " + std::strerror(errno));
  }
}

CellLog::~CellLog() {
  if (fd_ >= 0) ::close(fd_);
}

void CellLog::append(const json::value& cell) {
  const std::string line = json::serialize(cell) + "\n";
  // One write of the whole line (O_APPEND), then make it durable before the
  // next cell starts: an interrupted run keeps every finished cell.
  const ssize_t w = ::write(fd_, line.data(), line.size());
  if (w != static_cast<ssize_t>(line.size())) throw std::runtime_error("cannot append to " + path_ + ": " + std::strerror(errno));
  fdatasync(fd_);
}

std::set<std::string> finished_keys(const std::string& dir) {
  std::set<std::string> keys;
  std::ifstream in(dir + "/cells.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no trailing newline: an incomplete line
    boost::system::error_code ec;
    const json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    if (const auto* k = v.as_object().if_contains("key"); k && k->is_string()) keys.insert(std::string(k->as_string()));
  }
  return keys;
}

json::value read_run_json(const std::string& dir) {
  const std::string path = dir + "/run.json";
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read (is '" + dir + "' a heapmark results directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) throw InputError(path + ": not a valid JSON object");
  const auto* sv = v.as_object().if_contains("schema_version");
  if (!sv || !sv->is_int64()) throw InputError(path + ": missing schema_version");
  if (sv->as_int64() != kSchemaVersion)
    throw InputError(path + ": schema_version " + std::to_string(sv->as_int64()) + " is not supported (this heapmark reads " +
                     std::to_string(kSchemaVersion) + ")");
  return v;
}

}  // namespace heapmark::runner
