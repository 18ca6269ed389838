// The `trace` workload's one hook for the CLI: its `path` parameter is a choice
// among known traces (parameters have no free-text type), so a command that
// replays a trace names it here first.
#pragma once
#include <string>

namespace heapmark::workloads {

// Accepts `path` as the trace workload's `path` in this process and, through
// HEAPMARK_TRACE_PATH, in the cells it starts.
void allow_trace_path(const std::string& path);

}  // namespace heapmark::workloads
