// results/<run-id>/ on disk: run.json (written once, atomically) and
// cells.jsonl (one JSON object per finished cell, each appended with a single
// write and fdatasync'd, so a killed runner leaves only complete lines). This
// is the one reader and the one writer of those files: the runner, `resume`,
// report, compare and repro all go through it.
#pragma once
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "harness/results/cell_result.h"
#include "harness/results/output_file.h"
#include "harness/results/schema.h"

namespace heapmark::results {

// The current UTC time formatted with strftime `format`; by default ISO 8601
// as the results files record it ("2026-11-22T03:17:45Z").
std::string utc_now(const char* format = "%Y-%m-%dT%H:%M:%SZ");

// A fresh run id: UTC time plus a short random suffix, e.g. 20261122-031745-a3f9.
std::string new_run_id();

// Holds dir/.lock (flock, exclusive) while this process writes the results
// directory: a second writer (two --resume at once, a resume while the run is
// still going) is refused with InputError naming the holder's pid; a
// directory the system will not let us write in (EROFS, EACCES) is an
// EnvironmentError naming the reason. The kernel
// drops the lock when its holder dies, kill -9 included, so a stale lock file
// never blocks a resume.
class DirLock {
 public:
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

class CellLog {
 public:
  // Opens (creating) dir/cells.jsonl for appending. If the file ends with a
  // partial line (a runner killed mid-write on a filesystem that split it), the
  // partial line is cut off first.
  explicit CellLog(const std::string& dir);
  ~CellLog();
  CellLog(const CellLog&) = delete;
  CellLog& operator=(const CellLog&) = delete;
  void append(const CellResult& cell);

 private:
  int fd_ = -1;
  std::string path_;
};

// One complete line of cells.jsonl: the typed result, and the object as
// stored (cells.csv flattens it; figures are looked up in it by path).
struct CellLine {
  CellResult result;
  boost::json::object raw;
};

struct Cells {
  std::vector<CellLine> lines;        // in file order
  bool ignored_partial_line = false;  // the file ended without a newline; that fragment was skipped
};

// Reads dir/cells.jsonl. A last line without a trailing newline is incomplete
// (a run still being written, or cut short) and is skipped. Throws InputError
// naming file and line for malformed JSON, an unknown schema_version or a
// field of the wrong type. A missing file reads as no cells.
Cells read_cells(const std::string& dir);

// run.json: read_run_info and write_run_info (run_info.h).

}  // namespace heapmark::results
