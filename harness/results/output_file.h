// Files heapmark writes for the user (reports, comparisons, traces, results
// files). Two rules hold for every command: nothing is written over a file
// this invocation did not create unless the user said --force, and nothing is
// ever left half written: the text goes to a temporary name beside the file
// and is renamed over it when complete.
#pragma once
#include <string>

namespace heapmark::results {

// Throws InputError (exit status 2) unless `path` may be written by this
// command: its directory exists, and the path is free, or a regular file and
// `force` is set. A directory, FIFO, socket or device is refused even with
// `force`. `option` names the flag that gave it ("--markdown").
void claim_output(const std::string& path, bool force, const std::string& option);

// Writes `text` to `path` through `path`.tmp.PID, synced, then renamed: a
// reader sees the old file or the new one, never a part. Throws
// EnvironmentError with errno's text when the system refuses (ENOSPC, EROFS,
// EACCES); the temporary file is removed.
void write_atomically(const std::string& path, const std::string& text);

}  // namespace heapmark::results
