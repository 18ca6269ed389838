// Google Benchmark-shaped JSON for the self-measuring workloads that are not
// Google Benchmark (fork-cow, false-sharing), written by hand: the cell links
// no JSON library. The runner reads such a report as it reads Google
// Benchmark's (harness/runner/cell_record.cc), every extra number of a
// benchmark object being the workload's own figure.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace heapmark::workloads::native_json {

// Appends s as a JSON string.
inline void put_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
      out += esc;
    } else {
      out += c;
    }
  }
  out += '"';
}

// Appends ,"key":v (a whole number without exponent). JSON has no NaN: a
// figure that is not a finite number is written as null, which the runner
// leaves out, rather than as a 0 nobody measured.
inline void put_number(std::string& out, const char* key, double v) {
  out += ",\"";
  out += key;
  out += "\":";
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char b[32];
  const auto r = std::trunc(v) == v && std::fabs(v) < 9e15 ? std::to_chars(b, b + sizeof b, static_cast<int64_t>(v))
                                                           : std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

}  // namespace heapmark::workloads::native_json
