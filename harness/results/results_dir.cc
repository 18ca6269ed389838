#include "harness/results/results_dir.h"

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
#include "harness/results/cell_json.h"

namespace json = boost::json;

namespace heapmark::results {
namespace {

void check_schema(const json::object& o, const std::string& where) {
  const auto* sv = o.if_contains("schema_version");
  if (!sv || !sv->is_int64()) throw InputError(where + ": no schema_version");
  if (sv->as_int64() != kSchemaVersion)
    throw InputError(where + ": schema_version " + std::to_string(sv->as_int64()) + " is not supported (this heapmark reads " +
                     std::to_string(kSchemaVersion) + ")");
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

void CellLog::append(const CellResult& cell) {
  const std::string line = json::serialize(to_json(cell)) + "\n";
  // One write of the whole line (O_APPEND), then make it durable before the
  // next cell starts: an interrupted run keeps every finished cell.
  const ssize_t w = ::write(fd_, line.data(), line.size());
  if (w != static_cast<ssize_t>(line.size())) throw std::runtime_error("cannot append to " + path_ + ": " + std::strerror(errno));
  fdatasync(fd_);
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
    if (ec || !v.is_object()) throw InputError(where + ": not valid JSON (" + (ec ? ec.message() : "not an object") + ")");
    check_schema(v.get_object(), where);
    CellResult r = from_json(v.get_object(), where);
    out.lines.push_back({std::move(r), std::move(v.get_object())});
  }
  return out;
}

json::object read_run_json(const std::string& dir) {
  const std::string path = dir + "/run.json";
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read (is '" + dir + "' a heapmark results directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) throw InputError(path + ": not valid JSON (" + (ec ? ec.message() : "not an object") + ")");
  check_schema(v.as_object(), path);
  return std::move(v.as_object());
}

}  // namespace heapmark::results
