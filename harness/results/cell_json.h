// CellResult <-> its cells.jsonl object (results/SCHEMA.md). to_json writes
// every present field in the documented order; from_json is the one reader of
// a cell line: fields a result lacks (older results, failed cells) stay
// absent, and a field of the wrong type is an InputError naming its path.
#pragma once
#include <boost/json/object.hpp>
#include <string>

#include "harness/results/cell_result.h"

namespace heapmark::results {

boost::json::object to_json(const CellResult& cell);
// `where` prefixes errors ("results/x/cells.jsonl:3").
CellResult from_json(const boost::json::object& obj, const std::string& where);

}  // namespace heapmark::results
