#include "harness/cli/validators.h"

#include <cstdint>

namespace heapmark::cli {

namespace {
// The basic check for an option of type T: the text reads as a whole T.
template <typename T>
CLI::Validator reads_as(const char* what) {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        T v;
        return detail::read_number(text, v) ? std::string() : "'" + text + "' is not " + what;
      },
      "");
}
}  // namespace

void guard_numbers(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string type = opt->get_type_name();
    if (type == "FLOAT") opt->check(reads_as<double>("a finite number"));
    else if (type == "UINT") opt->check(reads_as<uint64_t>("a whole number of 0 or more"));
    else if (type == "INT") opt->check(reads_as<int64_t>("a whole number"));
  }
  for (CLI::App* sub : app.get_subcommands({})) guard_numbers(*sub);
}

}  // namespace heapmark::cli
