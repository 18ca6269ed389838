// Subcommands beyond `list` and `run` register themselves from their own file
// in harness/cli/ (every *.cc there is part of the heapmark executable):
//
//   static const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
//     auto* cmd = app.add_subcommand("report", "...");
//     ... options bound to state captured by the returned action ...
//     return [cmd, ...]() -> std::optional<int> { if (!*cmd) return std::nullopt; return do_it(); };
//   }};
//
// An action returns nullopt when its subcommand was not the one chosen, else
// the exit status. Throw heapmark::InputError for bad input (exit status 2).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace heapmark::cli {

using Action = std::function<std::optional<int>()>;
using CommandAdder = std::function<Action(CLI::App&)>;

struct CommandRegistrar {
  explicit CommandRegistrar(CommandAdder add);
};
std::vector<CommandAdder>& command_adders();

// Directory of the heapmark executable: heapmark-cell and the in-house
// allocator libraries are built beside it.
std::string self_dir();

// "a,b,c" -> {a, b, c}. An empty string gives no items; otherwise every item
// is kept, empty ones too, so "glibc,,jemalloc" is reported rather than ignored.
std::vector<std::string> split_list(const std::string& s, char sep = ',');

}  // namespace heapmark::cli
