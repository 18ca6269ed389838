#include "harness/runner/merge.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "common/input_error.h"
#include "harness/results/fingerprint.h"
#include "harness/results/results_dir.h"
#include "harness/results/run_info.h"
#include "harness/runner/context.h"
#include "harness/runner/matrix.h"
#include "harness/runner/plan.h"

namespace heapmark::runner {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

struct ShardDir {
  std::string dir;
  results::RunInfo run;
  std::string digest;  // empty for a run from before fingerprints
};

std::string machine_name(const ShardDir& s) {
  const std::string cpu = s.run.fingerprint.cpu_model();
  return s.dir + " (" + (cpu.empty() ? "unknown machine" : cpu) + ", fingerprint " +
         (s.digest.empty() ? "none" : s.digest) + ")";
}

// The shards' directories, each with its run.json; all ran the same plan.
std::vector<ShardDir> read_shards(const MergeOptions& o) {
  if (o.dirs.empty()) throw InputError("merge: give the shards' results directories");
  std::vector<ShardDir> shards;
  for (const auto& d : o.dirs) {
    if (!fs::is_directory(d) || !fs::exists(fs::path(d) / "run.json"))
      throw InputError(d + ": not a results directory (no run.json): give the directories heapmark run --shard wrote");
    ShardDir s{d, results::read_run_info(d), ""};
    s.digest = s.run.fingerprint.digest();
    if (s.run.matrix_digest.empty())
      throw InputError(d + ": run.json records no plan (written by a heapmark before plans): run the shard again");
    shards.push_back(std::move(s));
  }
  const ShardDir& first = shards.front();
  for (const auto& s : shards)
    if (s.run.matrix_digest != first.run.matrix_digest || s.run.plan_seed != first.run.plan_seed)
      throw InputError(s.dir + " ran a different plan (matrix digest " + s.run.matrix_digest + ", seed " +
                       std::to_string(s.run.plan_seed) + ") than " + first.dir + " (" + first.run.matrix_digest +
                       ", seed " + std::to_string(first.run.plan_seed) + "): merge shards of one plan only");
  return shards;
}

struct Taken {
  size_t shard;
  std::string line;
  size_t index;
};

// Every shard's cells by key; a cell in two shards must have the same result.
// `block_shards` receives, per block, the shards holding its cells.
std::map<std::string, Taken> take_cells(const std::vector<ShardDir>& shards,
                                        const std::map<std::string, const CellPlan*>& by_key,
                                        std::map<size_t, std::set<size_t>>& block_shards, MergeSummary& sum) {
  std::map<std::string, Taken> taken;
  for (size_t i = 0; i < shards.size(); ++i) {
    const auto cells = results::read_cells(shards[i].dir);
    for (const auto& line : cells.lines) {
      const std::string& key = line.result.key;
      const auto p = by_key.find(key);
      if (p == by_key.end()) throw InputError(shards[i].dir + ": cell " + key + " is not in the plan");
      std::string text = json::serialize(line.raw);
      const auto [it, fresh] = taken.try_emplace(key, Taken{i, text, p->second->index});
      if (!fresh) {
        if (it->second.line != text)
          throw InputError("cell " + key + " is in " + shards[it->second.shard].dir + " and in " + shards[i].dir +
                           " with different results: give one directory per shard");
        ++sum.duplicates;
        continue;
      }
      block_shards[p->second->block].insert(i);
    }
  }
  return taken;
}

// A block's cells must have run on one machine type; several types only --by-machine.
void check_machines(const std::vector<ShardDir>& shards, const std::map<size_t, std::set<size_t>>& block_shards,
                    const MergeOptions& o, MergeSummary& sum) {
  for (const auto& [block, from] : block_shards) {
    std::map<std::string, size_t> digests;
    for (size_t i : from) digests.emplace(shards[i].digest, i);
    if (digests.size() > 1) {
      const ShardDir& a = shards[digests.begin()->second];
      const ShardDir& b = shards[std::next(digests.begin())->second];
      const std::string diff = results::fingerprint_difference(a.run.fingerprint.facts, b.run.fingerprint.facts);
      throw InputError("block " + std::to_string(block) + " ran on two machines: " + machine_name(a) + " and " +
                       machine_name(b) + (diff.empty() ? "" : " (" + diff + ")") +
                       "; its ratios would compare machines, not allocators");
    }
  }
  std::set<std::string> machines;
  for (const auto& s : shards) machines.insert(s.digest);
  sum.machines = machines.size();
  if (machines.size() > 1 && !o.by_machine) {
    std::string names;
    std::set<std::string> seen;
    for (const auto& s : shards)
      if (seen.insert(s.digest).second) names += (names.empty() ? "" : "; ") + machine_name(s);
    throw InputError("the shards ran on " + std::to_string(machines.size()) + " machine types (" + names +
                     "): merge with --by-machine to keep them apart in the report");
  }
}

// Blocks of the plan no shard holds: refused unless --partial.
void check_missing(const std::vector<CellPlan>& plan, const std::map<std::string, Taken>& taken, const MergeOptions& o,
                   MergeSummary& sum) {
  std::set<size_t> missing;
  for (const auto& c : plan)
    if (!taken.count(c.key)) missing.insert(c.block);
  sum.planned = plan.size();
  sum.missing_blocks.assign(missing.begin(), missing.end());
  if (!missing.empty() && !o.partial) {
    std::string list;
    size_t shown = 0;
    for (size_t b : missing)
      if (shown++ < 8) list += (list.empty() ? "" : ", ") + std::to_string(b);
    if (missing.size() > 8) list += ", ...";
    throw InputError(std::to_string(missing.size()) + " blocks of the plan are missing (" + list +
                     "): run their shards (or --resume them), or merge what there is with --partial");
  }
}

// Writes out/cells.jsonl (in plan order) and out/run.json; returns the cells written.
size_t write_merged(const std::vector<ShardDir>& shards, const std::map<std::string, Taken>& taken, size_t planned,
                    const MergeOptions& o) {
  const ShardDir& first = shards.front();
  // The merged run: the first shard's run.json, as one whole run, saying where its cells came from.
  results::RunInfo run = first.run;
  run.run_id = fs::path(o.out).filename().string();
  run.options.shard.reset();
  run.cells_planned = planned;
  for (const auto& s : shards) {
    size_t n = 0;
    for (const auto& [k, t] : taken) n += shards[t.shard].dir == s.dir;
    results::MergedFrom from{fs::absolute(s.dir).string(), s.run.options.shard, std::nullopt, n};
    if (!s.run.fingerprint.facts.empty()) from.fingerprint = s.run.fingerprint;
    run.merged_from.push_back(std::move(from));
  }
  std::vector<const Taken*> lines;
  for (const auto& [k, t] : taken) lines.push_back(&t);
  std::sort(lines.begin(), lines.end(), [](const Taken* a, const Taken* b) { return a->index < b->index; });
  std::string text;
  for (const Taken* t : lines) {
    if (o.by_machine) {  // each cell says which machine type it ran on
      json::object c = json::parse(t->line).as_object();
      c["machine"] = shards[t->shard].digest;
      text += json::serialize(c) + "\n";
    } else {
      text += t->line + "\n";
    }
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw InputError(o.out + ": cannot create the directory: " + ec.message());
  results::write_atomically(o.out + "/cells.jsonl", text);
  results::write_run_info(o.out, run);
  return lines.size();
}

}  // namespace

MergeSummary merge_runs(const MergeOptions& o, const std::vector<registry::Allocator>& known) {
  const std::vector<ShardDir> shards = read_shards(o);
  const Matrix m = Matrix::from_json(shards.front().run.matrix, known, shards.front().dir + "/run.json");
  const std::vector<CellPlan> plan = expand(m);
  std::map<std::string, const CellPlan*> by_key;
  for (const auto& c : plan) by_key[c.key] = &c;
  MergeSummary sum;
  std::map<size_t, std::set<size_t>> block_shards;  // block -> shards holding its cells
  const std::map<std::string, Taken> taken = take_cells(shards, by_key, block_shards, sum);
  check_machines(shards, block_shards, o, sum);
  check_missing(plan, taken, o, sum);
  if (fs::exists(fs::path(o.out) / "run.json") || fs::exists(fs::path(o.out) / "cells.jsonl"))
    throw InputError(o.out + " holds a run already: merge into a new directory");
  sum.cells = write_merged(shards, taken, plan.size(), o);
  return sum;
}

}  // namespace heapmark::runner
