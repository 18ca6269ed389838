#include "harness/cli/validators.h"

#include <cstdint>

namespace heapmark::cli {

void guard_numbers(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string type = opt->get_type_name();
    if (type == "FLOAT") {
      opt->check(CLI::Validator(
          [](std::string& text) -> std::string {
            double v;
            return detail::read_number(text, v) ? std::string() : "'" + text + "' is not a finite number";
          },
          ""));
    } else if (type == "UINT") {
      opt->check(CLI::Validator(
          [](std::string& text) -> std::string {
            uint64_t v;
            return detail::read_number(text, v) ? std::string() : "'" + text + "' is not a whole number of 0 or more";
          },
          ""));
    } else if (type == "INT") {
      opt->check(CLI::Validator(
          [](std::string& text) -> std::string {
            int64_t v;
            return detail::read_number(text, v) ? std::string() : "'" + text + "' is not a whole number";
          },
          ""));
    }
  }
  for (CLI::App* sub : app.get_subcommands({})) guard_numbers(*sub);
}

}  // namespace heapmark::cli
