// read_json_file (see json_fields.h).
#include "harness/results/json_fields.h"

#include <fstream>
#include <sstream>

namespace heapmark::results {

boost::json::value read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read it");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(ss.str(), ec);
  if (ec) throw InputError(path + ": not valid JSON (" + ec.message() + ")");
  return v;
}

}  // namespace heapmark::results
