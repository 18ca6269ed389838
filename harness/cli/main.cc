// heapmark: the one command users run. Every subcommand registers itself from
// its own file in harness/cli/ (commands.h); this file builds the command
// line from them, parses it and runs the chosen one, turning the errors into
// exit statuses (common/exit_status.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <utility>

#include "common/exit_status.h"
#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/cli/validators.h"
#include "harness/runner/context.h"

namespace hm = heapmark;

namespace {

// --help shows each option's default; a list or text option with nothing by
// default would show "=[]" or "=": those show none.
void hide_empty_defaults(CLI::App& app) {
  for (auto* opt : app.get_options())
    if (opt->get_default_str() == "[]" || opt->get_default_str().empty()) opt->default_str("");
}

// Each subcommand's --help ends with the chapter of the user guide (docs/) that explains it.
void add_guide_chapter(CLI::App& sub) {
  static const std::pair<const char*, const char*> kChapters[] = {
      {"run", "running.md"},        {"list", "running.md"},           {"report", "running.md"},
      {"compare", "running.md"},    {"repro", "catalogue.md"},        {"record", "own-program.md"},
      {"replay", "own-program.md"}, {"trace-info", "own-program.md"}, {"diagnose", "own-program.md"},
      {"import", "own-program.md"}, {"attach", "attach.md"},          {"plan", "scale-out.md"},
      {"merge", "scale-out.md"}};
  for (const auto& [name, chapter] : kChapters)
    if (sub.get_name() == name) {
      const std::string footer = sub.get_footer();
      sub.footer(footer + (footer.empty() ? "" : "\n\n") + "More: docs/" + chapter + " in heapmark's source tree.");
    }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "heapmark: allocator benchmarking and fragmentation analysis.\n"
      "Each cell runs one workload under one allocator in a fresh process (LD_PRELOAD),\n"
      "measuring per-op latency (TSC), RSS over time, RSS returned after frees and fragmentation.",
      "heapmark"};
  app.option_defaults()->always_capture_default();  // --help shows each option's default
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print heapmark's version, commit and build type");
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  {
    std::string footer = "\nExit status:";
    for (const auto& e : hm::kExitStatusDocs) footer += "\n  " + std::to_string(e.status) + "  " + e.meaning;
    app.footer(footer +
               "\n\nThe user guide is docs/README.md in heapmark's source tree; every results field is in "
               "results/SCHEMA.md.");
  }

  std::vector<hm::cli::Action> actions;
  for (auto& add : hm::cli::command_adders()) actions.push_back(add(app));
  hm::cli::guard_numbers(app);

  hm::cli::set_command_line(argc, argv);
  std::string valid_commands;
  bool known_command = argc < 2 || argv[1][0] == '-';
  for (auto* sub : app.get_subcommands({})) {
    valid_commands += (valid_commands.empty() ? "" : ", ") + sub->get_name();
    known_command |= sub->check_name(argv[1] ? argv[1] : "");
  }
  for (auto* sub : app.get_subcommands({})) {
    hide_empty_defaults(*sub);
    add_guide_chapter(*sub);
  }
  if (!known_command) {
    std::fprintf(stderr, "heapmark: unknown subcommand '%s' (valid: %s)\n", argv[1], valid_commands.c_str());
    return hm::kExitBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "heapmark: %s (see heapmark %s--help)\n", e.what(),
                 app.get_subcommands().empty() ? "" : (app.get_subcommands()[0]->get_name() + " ").c_str());
    return hm::kExitBadInput;
  } catch (const hm::InputError& e) {  // an option's own parser (--timing)
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitBadInput;
  }

  // An option given with an empty value where a default would be used silently.
  for (const CLI::App* sub : app.get_subcommands())
    for (const char* name : {"--run-id", "--out", "--resume"})
      if (const CLI::Option* opt = sub->get_option_no_throw(name);
          opt && opt->count() && opt->as<std::string>().empty()) {
        std::fprintf(stderr, "heapmark: %s '': give a non-empty value or leave the option out\n", name);
        return hm::kExitBadInput;
      }

  if (show_version) {
    const auto b = hm::runner::build_info();
    std::printf("heapmark %s (commit %s, %s build, %s)\n", b.version.c_str(), b.commit.c_str(), b.build_type.c_str(),
                b.compiler.c_str());
    return hm::kExitOk;
  }
  if (app.get_subcommands().empty()) {
    std::fprintf(stderr, "heapmark: a subcommand is required (valid: %s; see heapmark --help)\n",
                 valid_commands.c_str());
    return hm::kExitBadInput;
  }
  try {
    for (auto& action : actions)
      if (auto status = action()) return *status;
    return hm::kExitInternal;  // a parsed subcommand always has its action
  } catch (const hm::InputError& e) {
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitBadInput;
  } catch (const hm::EnvironmentError& e) {
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitEnvironment;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heapmark: error: %s\n", e.what());
    return hm::kExitInternal;
  }
}
