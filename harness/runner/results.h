// results/<run-id>/: run.json (written once, atomically) and cells.jsonl (one
// JSON object per finished cell, each appended with a single write and
// fdatasync'd, so a killed runner leaves only complete lines).
#pragma once
#include <boost/json/value.hpp>
#include <set>
#include <string>

namespace heapmark::runner {

inline constexpr int kSchemaVersion = 1;

// The current UTC time formatted with strftime `format`; by default ISO 8601
// as the results files record it ("2026-11-22T03:17:45Z").
std::string utc_now(const char* format = "%Y-%m-%dT%H:%M:%SZ");

// A fresh run id: UTC time plus a short random suffix, e.g. 20261122-031745-a3f9.
std::string new_run_id();

// Writes `text` to `path` via a temporary file and rename: never a half file.
void write_atomically(const std::string& path, const std::string& text);

class CellLog {
 public:
  // Opens (creating) dir/cells.jsonl for appending. If the file ends with a
  // partial line (a runner killed mid-write on a filesystem that split it), the
  // partial line is cut off first.
  explicit CellLog(const std::string& dir);
  ~CellLog();
  CellLog(const CellLog&) = delete;
  CellLog& operator=(const CellLog&) = delete;
  void append(const boost::json::value& cell);

 private:
  int fd_ = -1;
  std::string path_;
};

// Keys of the cells already in dir/cells.jsonl (complete lines only).
std::set<std::string> finished_keys(const std::string& dir);

// Reads and parses dir/run.json; throws InputError naming the file and what is wrong.
boost::json::value read_run_json(const std::string& dir);

}  // namespace heapmark::runner
