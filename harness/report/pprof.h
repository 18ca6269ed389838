// Heap profiles in the formats the field's pprof clients read: the gzipped
// profile.proto of github.com/google/pprof (`go tool pprof`, Pyroscope,
// speedscope, Perfetto), and the legacy text heap profile of gperftools
// (`google-pprof`, Debian's google-perftools), with its symbols inside so no
// binary is needed. The model is a list of weighted stacks with named sample
// types; it knows nothing of traces or runs (the sources build it:
// harness/cli/pprof_sources.cc, and the report's flame graphs below).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "harness/report/holders.h"

namespace heapmark::report::pprof {

struct Frame {
  std::string function;  // "" when no symbol covers the address
  std::string file;
  uint32_t line = 0;
  std::string module;    // the module's file name; "" when none held the address
  std::string build_id;  // hex; "" when unknown
  uint64_t address = 0;  // in the process when known, else the offset in the module
  // What the legacy format's symbol table and pprof's text show for the frame.
  std::string name() const;
  // "file.c:12", "libx.so+0x1a2b" or "0x7f12...": where the frame is.
  std::string where() const;
  // A frame that stands for what has no stack ("(no stack recorded)").
  static Frame label(const std::string& text) {
    Frame f;
    f.function = text;
    return f;
  }
};

struct ValueType {
  std::string type, unit;  // e.g. {"pinned_space", "bytes"}, {"inuse_objects", "count"}
};

struct Sample {
  std::vector<Frame> stack;     // innermost first (the allocating function first)
  std::vector<int64_t> values;  // one per sample type
};

struct Profile {
  std::vector<ValueType> sample_types;
  std::string default_type;  // one of sample_types' type
  std::vector<Sample> samples;
  int64_t time_nanos = 0, duration_nanos = 0;
  std::vector<std::string> comments;  // `go tool pprof -comments` shows them
  // The samples a file holds: those with some value not zero.
  size_t stacks() const;
  // The index of sample type `type`, or -1.
  int index_of(const std::string& type) const;
  // "a, b, c": the sample types, for an error naming the valid choices.
  std::string type_list() const;
};

// The encoded profile.proto message, uncompressed.
std::string encode(const Profile& p);
// `bytes` as a gzip file (what pprof clients expect of a .pb.gz).
std::string gzip(const std::string& bytes);
// The legacy text heap profile: `heap profile: N: B [N: B] @ heapprofile`, one
// line per stack with its in-use and allocated pairs, after a `--- symbol`
// table naming every address. The in-use pair is (inuse_objects, inuse) and
// the allocated pair (alloc_objects, alloc); an empty alloc type repeats the
// in-use pair. `google-pprof --text FILE` reads it without the binary
// (--inuse_space shows `inuse`, --alloc_space `alloc`).
std::string legacy_heap(const Profile& p, const std::string& inuse, const std::string& inuse_objects,
                        const std::string& alloc = "", const std::string& alloc_objects = "");

// A base allocator's holders at F as a profile: pinned_space, inuse_space and
// inuse_objects by allocation stack, the medians over its cells that the
// pinning table and diagnose show (frames as sites.json names them).
Profile holders_profile(const Holders& h);
// One cell's attribution at one phase end, as a flame graph draws it (the
// report links each flame graph to this profile); `names`: sites.json's frames.
Profile attribution_profile(const results::Attribution& a, const std::map<uint32_t, std::vector<std::string>>& names,
                            const std::string& what);
// A frame as Frame::text() (harness/symbols) wrote it: "fn (file.c:12)",
// "fn (libx.so+0x1a2b)", "libx.so+0x1a2b" or "0x7f12...".
Frame parse_frame_text(const std::string& text);

}  // namespace heapmark::report::pprof
