// Real programs as workloads: a command heapmark runs under each allocator
// (preloaded exactly as for other cells), or a server with the client steps
// that drive it. A program comes from `--program NAME='CMD ARGS'`, a matrix's
// "programs" list, or a suite file (workloads/programs/*.json): every field is
// validated before any cell runs.
//
// Placeholders in commands: {suite_dir} (the suite file's directory),
// {dir} (--suite-dir, where the user built a suite's programs), {work} (a
// per-run scratch directory for generated inputs), {port} (a free TCP port
// on 127.0.0.1, per cell), {cpus} and {cpus_x2} (online CPUs, and twice that).
#pragma once
#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

namespace heapmark::runner {

using Argv = std::vector<std::string>;

// A step of a server's client (not under the allocator, not measured): it
// runs, then the step's phase ends and the server's RSS is read.
struct ClientStep {
  std::string phase;
  Argv command;  // empty: just wait idle_ms
  uint64_t idle_ms = 0;
};

struct ProgramSpec {
  std::string name;           // the workload's name in tables
  std::string source;         // where it was defined (a file, or --program), for messages
  Argv command;               // the program (or the server)
  std::vector<Argv> prepare;  // run once before the cells, not measured (generated inputs)
  std::string stdin_path;     // "" : /dev/null
  // Set for the program (and a server's clients), after the allocator's own
  // variables: e.g. PYTHONMALLOC=malloc so CPython's small objects reach malloc.
  std::map<std::string, std::string> env;
  // Output check. "same" (default): every allocator of a block prints the same
  // stdout; "digest": it equals `expect_digest`; "command": `check_command`
  // with the stdout file appended exits 0; "none".
  std::string check = "same";
  std::string expect_digest;
  Argv check_command;
  // A figure of the program's own, from its stdout (or the clients' for a server).
  std::string metric_name, metric_regex;
  bool metric_higher_is_better = true;
  // A server: ready when `ready_port` accepts a connection or a stdout line
  // contains `ready_line`; then the client steps; then SIGTERM.
  bool server = false;
  std::string ready_port, ready_line;
  double ready_timeout_s = 30;
  std::vector<ClientStep> steps;
  Argv figures;                   // after every step: its stdout's key:value lines are the server's own figures
  std::vector<std::string> show;  // the figures the report shows (every one is recorded)
  double timeout_s = 0;           // 0: the run's

  boost::json::object to_json() const;
};

// Reads one program object (a suite entry, a matrix's "programs" item);
// throws InputError naming `where` and the field.
ProgramSpec program_from_json(const boost::json::value& v, const std::string& where);
// NAME='CMD ARGS': the command split into words as a shell would (quotes and
// backslashes), but no shell runs it.
ProgramSpec program_from_flag(const std::string& flag);
// A suite file: {"suite": NAME, "programs": [...]}; {suite_dir} is its directory.
std::vector<ProgramSpec> load_suite(const std::string& path);
Argv split_words(const std::string& text, const std::string& where);

// The placeholders above, by name: a suite program naming any other {word} is
// refused when it is read (it would reach the program literally).
inline constexpr const char* kPlaceholderNames[] = {"suite_dir", "dir", "work", "port", "cpus", "cpus_x2"};

// Replaces the placeholders (see above) in every word.
Argv expand(const Argv& words, const std::map<std::string, std::string>& values);
// Throws InputError unless argv[0] (after expansion with `values`) is an
// executable file, directly or on PATH.
void check_executable(const ProgramSpec& p, const Argv& command, const std::string& what);
// The absolute path of argv[0], searched on PATH; "" when not found.
std::string find_executable(const std::string& name);

}  // namespace heapmark::runner
