// A matrix's plan, and the shards it splits into for running on several
// machines (Slurm job arrays, GNU parallel over ssh). A block (one program on
// every allocator, back to back) is never split: its within-block ratios
// compare cells that ran on one machine, one after the other. Shard K of N
// (K from 1, as GNU `split -n K/N` counts) holds the blocks whose index is
// K-1 modulo N: balanced, and the same on every retry of the same plan.
#pragma once
#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "harness/runner/matrix.h"

namespace heapmark::runner {

struct Shard {
  int k = 0, n = 0;  // n == 0: the whole plan
  bool whole() const { return n == 0; }
  bool holds(size_t block) const { return whole() || static_cast<int>(block % static_cast<size_t>(n)) == k - 1; }
  std::string text() const { return whole() ? "" : std::to_string(k) + "/" + std::to_string(n); }
};
// "2/3"; throws InputError for anything but K/N with 1 <= K <= N.
Shard parse_shard(const std::string& text);

// FNV-1a 64 of the matrix as run.json stores it: equal digests, equal plans.
std::string matrix_digest(const Matrix& m);

// heapmark plan: the cells grouped in blocks, each with its shard when
// `shards` > 0. {"schema":"heapmark-plan","schema_version":1,"matrix_digest",
// "seed","cells","shards","blocks":[{"block","shard","workload","params","rep",
// "cells":[{"key","allocator","index"}]}]}
boost::json::object plan_json(const Matrix& m, const std::vector<CellPlan>& cells, int shards);

}  // namespace heapmark::runner
