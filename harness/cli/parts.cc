// The command line's shared services: where heapmark's parts and shipped
// files are, the subcommand registry, the command as given, and a run that
// ends with its report.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>

#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/report/report.h"
#include "harness/runner/program_cell.h"

namespace fs = std::filesystem;

namespace heapmark::cli {
std::vector<CommandAdder>& command_adders() {
  static std::vector<CommandAdder> adders;
  return adders;
}
namespace {
// The registrars' places in --help: `list`, `run` and `plan` first, the rest
// in the order their files' static registrars ran.
std::vector<int>& command_places() {
  static std::vector<int> places;
  return places;
}
}  // namespace
CommandRegistrar::CommandRegistrar(CommandAdder add, int place) {
  auto& adders = command_adders();
  auto& places = command_places();
  auto at = std::upper_bound(places.begin(), places.end(), place);
  adders.insert(adders.begin() + (at - places.begin()), std::move(add));
  places.insert(at, place);
}

namespace {
std::vector<std::string> g_command_line;
}  // namespace

namespace {
// Where this heapmark runs from: in the build tree every part sits beside it;
// installed, bin/heapmark finds them at the install layout's relative paths
// (packaging/CMakeLists.txt), so a relocated prefix (dpkg --instdir, a
// tarball) works too.
struct Layout {
  std::string parts, data;
};

const Layout& layout() {
  static const Layout l = [] {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    const fs::path exe = n > 0 ? fs::path(std::string(buf, static_cast<size_t>(n))).parent_path() : fs::path(".");
    std::error_code ec;  // an unreadable directory reads as "installed": a missing part is then named where it is used
    if (fs::exists(exe / "heapmark-cell", ec)) return Layout{exe.string(), HEAPMARK_SOURCE_DATA_DIR};
    return Layout{(exe / HEAPMARK_INSTALL_PARTS_REL).lexically_normal().string(),
                  (exe / HEAPMARK_INSTALL_DATA_REL).lexically_normal().string()};
  }();
  return l;
}
}  // namespace

std::string parts_dir() { return layout().parts; }
std::string data_dir() { return layout().data; }

std::string shipped_file(const std::string& given, const std::string& folder) {
  if (given.find('/') != std::string::npos || fs::exists(given)) return given;
  const std::string name = given.ends_with(".json") ? given : given + ".json";
  const std::string dir = data_dir() + "/" + folder, shipped = dir + "/" + name;
  if (fs::exists(shipped)) return shipped;
  const std::string valid = shipped_names(folder);
  throw InputError("--" + std::string(folder == "matrices" ? "matrix" : "suite") + " '" + given +
                   "': no such file, nor a shipped one (" + dir + ": " + (valid.empty() ? "none" : valid) + ")");
}

std::string shipped_names(const std::string& folder) {
  std::string out;
  for (const auto& f : runner::json_files_in(data_dir() + "/" + folder))
    out += (out.empty() ? "" : ", ") + fs::path(f).stem().string();
  return out;
}
}  // namespace heapmark::cli

namespace heapmark::cli {
int run_and_report(const runner::Matrix& m, const runner::RunOptions& opts,
                   const std::vector<registry::Allocator>& known, std::string* run_dir) {
  std::string dir;
  const int status = runner::run(m, opts, known, &dir);
  if (run_dir) *run_dir = dir;
  if (dir.empty()) return status;
  const auto paths = report::write_report(dir);
  if (!opts.quiet)
    std::printf("Report: %s (also %s, %s, %s)\n", paths.html.c_str(), paths.markdown.c_str(), paths.csv.c_str(),
                paths.openmetrics.c_str());
  return status;
}

void set_command_line(int argc, char** argv) { g_command_line.assign(argv, argv + argc); }
const std::vector<std::string>& command_line() { return g_command_line; }
}  // namespace heapmark::cli
