// What `heapmark export pprof` turns into a profile (harness/report/pprof.h):
//  - a trace recorded with --stacks: allocated objects and bytes by stack over
//    the whole trace, and the objects and bytes live at one point (the end,
//    the live-byte peak, or a recorded time), symbolised as trace-info does;
//  - a run whose cells carry attribution (diagnose, repro): per base
//    allocator, the bytes pinned and live by stack at F, the medians the
//    pinning table and diagnose show.
#pragma once
#include <string>

#include "harness/report/pprof.h"

namespace heapmark::cli {

// `at`: "end", "peak" or a time in ms from the trace's first event ("1500ms",
// "2s"). Throws InputError for a trace without stacks or a bad `at`;
// `warnings` gets the symboliser's (modules missing or rebuilt).
report::pprof::Profile trace_profile(const std::string& path, const std::string& at, std::string* warnings);

// `allocator`: a base allocator of the run ("" = the first). Throws
// InputError when no cell carries attribution or the allocator has none.
report::pprof::Profile run_profile(const std::string& dir, const std::string& allocator);

}  // namespace heapmark::cli
