// heapmark repro: the verdict rules on made-up phase ends, the catalogue's
// consistency, the CLI's one-line errors, and the issue's claims checked on
// real, small measurements (mib=32, short idle and activity phases).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "allocators/registry/family.h"
#include "allocators/registry/registry.h"
#include "common/input_error.h"
#include "harness/repro/repro.h"
#include "harness/results/repro_result.h"
#include "tests/support/heapmark_command.h"

namespace json = boost::json;
namespace fs = std::filesystem;
namespace rp = heapmark::repro;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

using Result = heapmark::test::CommandResult;

Result heapmark(const std::string& args) { return heapmark::test::run_heapmark_command(HEAPMARK_BIN, args); }

rp::PhasePoint pt(double r_mib, double live_mib, double lazy_mib = 0) {
  rp::PhasePoint p;
  p.present = true;
  p.r = r_mib * kMiB;
  p.live = live_mib * kMiB;
  p.lazy_free = lazy_mib * kMiB;
  return p;
}

TEST(Rules, VerdictFollowsTheFirstPhaseThatReturnedMost) {
  rp::PhasePoint a[5] = {pt(100, 100), pt(5, 0), pt(5, 0), pt(5, 0), pt(5, 0)};
  EXPECT_EQ(rp::assess(a).verdict, rp::Verdict::kReturned);
  EXPECT_EQ(rp::assess(a).when, "F");
  rp::PhasePoint b[5] = {pt(100, 100), pt(100, 0), pt(90, 0), pt(10, 0), pt(1, 0)};
  EXPECT_EQ(rp::assess(b).verdict, rp::Verdict::kUntilActivity);
  rp::PhasePoint c[5] = {pt(100, 100), pt(100, 0), pt(100, 0), pt(100, 0), pt(1, 0)};
  EXPECT_EQ(rp::assess(c).verdict, rp::Verdict::kUntilRelease);
  // MADV_FREE: RSS stays, LazyFree holds it.
  rp::PhasePoint d[5] = {pt(100, 100), pt(100, 0, 95), pt(100, 0, 95), pt(100, 0, 95), pt(100, 0, 95)};
  EXPECT_EQ(rp::assess(d).verdict, rp::Verdict::kLazy);
  // Nothing returned after release: fragmentation only when pinned pages hold most of it.
  rp::PhasePoint e[5] = {pt(100, 100), pt(100, 10), pt(100, 10), pt(100, 10), pt(100, 10)};
  e[4].has_breakdown = true;
  e[4].fragmentation = 80 * kMiB;
  EXPECT_EQ(rp::assess(e).verdict, rp::Verdict::kFragmentation);
  e[4].fragmentation = 10 * kMiB;
  e[4].retained = 80 * kMiB;
  EXPECT_EQ(rp::assess(e).verdict, rp::Verdict::kNotReturned);
}

TEST(Rules, ReturnedShareIsUndefinedBelowOneMiB) {
  EXPECT_FALSE(rp::returned_share(pt(0.5, 0.5), pt(0, 0)).has_value());
  EXPECT_DOUBLE_EQ(*rp::returned_share(pt(100, 100), pt(50, 0)), 0.5);
  EXPECT_DOUBLE_EQ(*rp::returned_share(pt(100, 100), pt(120, 0)), 0.0);  // clipped
}

// A results directory of made-up cells: `verdicts` gives each repetition of
// each allocator the phase-end R (MiB) that makes it reach that verdict.
std::string fake_run(const std::map<std::string, std::vector<std::string>>& verdicts) {
  const std::string dir = (fs::temp_directory_path() / ("repro_summary_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  json::array allocs;
  for (const auto& [name, _] : verdicts) allocs.push_back(json::object{{"name", name}});
  std::ofstream(dir + "/run.json") << json::serialize(
      json::object{{"schema_version", 1}, {"matrix", {{"allocators", allocs}}}});
  std::ofstream cells(dir + "/cells.jsonl");
  // R at P, F, I, A, R for each verdict (live 0 after the frees).
  const std::map<std::string, std::vector<double>> shapes{
      {"F", {100, 1, 1, 1, 1}}, {"A", {100, 100, 100, 1, 1}}, {"R", {100, 100, 100, 100, 1}}};
  for (const auto& [name, reps] : verdicts)
    for (size_t rep = 0; rep < reps.size(); ++rep) {
      json::array phases;
      for (int i = 0; i < 5; ++i)
        phases.push_back(json::object{{"name", rp::kPhaseNames[i]},
                                      {"r", shapes.at(reps[rep])[i] * kMiB},
                                      {"live_bytes", i == 0 ? 100 * kMiB : 0.0},
                                      {"lazy_free", 0}});
      cells << json::serialize(json::object{{"schema_version", 1},
                                            {"allocator", name},
                                            {"allocator_kind", "glibc"},
                                            {"status", "ok"},
                                            {"rep", rep + 1},
                                            {"phases", phases}})
            << "\n";
    }
  return dir;
}

TEST(Rules, VerdictsComeWithTheirAgreementAndASplitIsNeverPickedFromOneRep) {
  // Scenario 1's remedies include glibc-trim-threshold (base glibc) and jemalloc-decay-0.
  const std::string dir = fake_run({{"glibc", {"R", "R", "R"}},
                                    {"glibc-trim-threshold", {"F", "F", "F"}},
                                    {"jemalloc", {"A", "R", "A"}},
                                    {"jemalloc-decay-0", {"F", "F", "A"}}});
  const heapmark::results::ScenarioSummary sum = rp::scenario_summary(rp::find_scenario("1"), dir);
  fs::remove_all(dir);
  std::map<std::string, heapmark::results::ReproRow> rows;
  for (const auto& r : sum.rows) rows[r.allocator] = r;
  EXPECT_EQ(rows["glibc"].verdict, rp::Verdict::kUntilRelease);
  EXPECT_EQ(rows["glibc"].agreement, "3/3");
  EXPECT_EQ(rows["jemalloc"].verdict, rp::Verdict::kSplit);
  EXPECT_EQ(rows["jemalloc"].agreement, "2/3");
  EXPECT_NE(rows["jemalloc"].verdict_label.find("2x retained until activity (A)"), std::string::npos);
  EXPECT_FALSE(rows["jemalloc"].explanation) << "no mechanism is claimed for a split the scenario does not explain";
  EXPECT_EQ(rows["jemalloc"].rep_verdicts.size(), 3u);
  // glibc-trim-threshold beat glibc every time; jemalloc-decay-0's worst rep (A)
  // does not beat jemalloc's best (A): not counted as having worked.
  EXPECT_EQ(rows["glibc-trim-threshold"].worked, std::optional<bool>(true));
  EXPECT_EQ(rows["jemalloc-decay-0"].worked, std::optional<bool>(false));
  ASSERT_EQ(sum.remedies_worked.size(), 1u);
  EXPECT_EQ(sum.remedies_worked[0].agreement, "3/3");
  // It still kept 99 MiB less at F in the median (1 against 100, live 0): at least a quarter of what jemalloc
  // kept above live, so it is listed as having helped, with how much and where, though its verdict is a split.
  ASSERT_TRUE(rows["jemalloc-decay-0"].helped);
  EXPECT_EQ(rows["jemalloc-decay-0"].helped->phase, "F");
  EXPECT_DOUBLE_EQ(rows["jemalloc-decay-0"].helped->less, 99 * kMiB);
  ASSERT_EQ(sum.remedies_helped.size(), 1u);
  const std::string text = sum.remedies_helped[0].text;
  EXPECT_NE(text.find("99.0 MiB less at F than jemalloc"), std::string::npos) << text;
  EXPECT_FALSE(rows["glibc-trim-threshold"].helped) << "a remedy that worked is listed once, as having worked";

  // repro.json as written reads back as the same summary (the one writer and the one reader).
  const json::object written = heapmark::results::to_json(sum);
  const auto back = heapmark::results::scenario_summary_from_json(written, "repro.json");
  EXPECT_EQ(json::serialize(heapmark::results::to_json(back)), json::serialize(written));
  EXPECT_EQ(written.at("rows").as_array()[0].at("verdict"), "retained-until-release")
      << "verdicts are stored by id, as results/SCHEMA.md says";
}

TEST(Rules, AReproJsonWithAnUnknownVerdictIsRefusedNamingTheField) {
  json::object row{{"allocator", "glibc"}, {"reps", 1},         {"ok_reps", 1},
                   {"status", "ok"},       {"verdict", "gone"}, {"verdict_label", "gone"}};
  json::object sum{{"scenario", 1}, {"slug", "small-fifo"}, {"title", "t"}, {"rows", json::array{row}}};
  try {
    heapmark::results::scenario_summary_from_json(sum, "x/repro.json");
    ADD_FAILURE() << "an unknown verdict was accepted";
  } catch (const heapmark::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("x/repro.json: $.rows[0].verdict: unknown verdict 'gone'"), std::string::npos) << what;
    EXPECT_NE(what.find("retained-until-release"), std::string::npos) << "the valid ones are named: " << what;
  }
}

TEST(Rules, CatalogueHasTwelveScenariosWithValidExplanations) {
  const auto& all = rp::catalogue();
  ASSERT_EQ(all.size(), 12u);
  const std::set<std::string> verdicts{
      "returned",     "lazy", "retained-until-activity", "retained-until-release", "fragmentation",
      "not-returned", "split"};
  std::set<std::string> remedy_keys;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].id, static_cast<int>(i + 1));
    EXPECT_EQ(all[i].params.at("scenario"), std::to_string(i + 1));
    for (const auto& e : all[i].explanations)
      EXPECT_TRUE(verdicts.count(e.verdict)) << all[i].slug << ": " << e.verdict;
    for (const auto& r : all[i].remedies) {
      EXPECT_FALSE(r.env.empty()) << r.name;
      EXPECT_TRUE(remedy_keys.insert(std::to_string(all[i].id) + r.name).second) << "duplicate remedy " << r.name;
    }
  }
  EXPECT_EQ(rp::find_scenario("02").slug, "top-pinned");
  EXPECT_EQ(rp::find_scenario("lazy-free").id, 12);
}

TEST(Rules, EachRemedyIsDefinedOnceAndTriedSomewhere) {
  std::set<std::string> names, tried;
  for (const auto& r : rp::remedy_catalogue()) {
    EXPECT_TRUE(names.insert(r.name).second) << "remedy defined twice: " << r.name;
    EXPECT_FALSE(r.env.empty()) << r.name;
    EXPECT_EQ(r.name.rfind(r.allocator + "-", 0), 0u) << r.name << " configures " << r.allocator;
  }
  for (const auto& s : rp::catalogue())
    for (const auto& r : s.remedies) {
      tried.insert(r.name);
      // A scenario may say what a remedy does there, never change what it sets.
      const rp::Remedy def = rp::resolve(rp::use(r.name));
      EXPECT_EQ(r.allocator, def.allocator) << s.slug << ": " << r.name;
      EXPECT_EQ(r.env, def.env) << s.slug << ": " << r.name;
    }
  EXPECT_EQ(tried, names) << "a catalogue remedy no scenario tries";
  EXPECT_EQ(rp::resolve(rp::use("glibc-arena-max-1", "here")).what, "here");
  EXPECT_DEATH(rp::resolve(rp::use("no-such-remedy")), "no-such-remedy");
}

TEST(Rules, EachSharedMechanismIsWrittenOnceAndSharedByScenarios) {
  std::map<std::pair<std::string, std::string>, int> uses;
  for (const auto& e : rp::mechanism_catalogue())
    EXPECT_TRUE(uses.emplace(std::make_pair(e.allocator, e.verdict), 0).second)
        << "defined twice: " << e.allocator << " " << e.verdict;
  for (const auto& s : rp::catalogue())
    for (const auto& e : s.explanations) {
      // A scenario may give its own, more specific text for a pair the catalogue holds.
      auto it = uses.find({e.allocator, e.verdict});
      if (it != uses.end() && e.text == rp::resolve(rp::mechanism(e.allocator, e.verdict)).text) ++it->second;
    }
  // heapmark attach reads the catalogue for every allocator's verdicts it explains (mechanisms.h).
  for (auto& [key, n] : uses)
    for (const char* v : rp::kAttachExplains) n += key.second == v;
  for (const auto& [key, n] : uses) EXPECT_GE(n, 2) << key.first << " " << key.second << " belongs in its one scenario";
  EXPECT_DEATH(rp::resolve(rp::mechanism("glibc", "no-such-verdict")), "no-such-verdict");
}

// The families own the catalogue's remedies and mechanism texts: each remedy
// configures a built-in allocator of the family that defines it, and each
// text names one of the family's allocators (or the family).
TEST(Rules, EveryRemedyAndMechanismBelongsToTheFamilyThatDefinesIt) {
  const auto builtins = heapmark::registry::builtin("/nonexistent");
  auto kind_of = [&](const std::string& name) -> std::string {
    for (const auto& a : builtins)
      if (a.name == name) return a.kind();
    return "";
  };
  size_t remedies = 0, texts = 0;
  for (const heapmark::registry::Family* f : heapmark::registry::families()) {
    for (const auto& r : f->remedies()) {
      ++remedies;
      EXPECT_EQ(kind_of(r.allocator), f->name()) << r.name << " configures " << r.allocator;
    }
    for (const auto& m : f->mechanisms()) {
      ++texts;
      EXPECT_TRUE(kind_of(m.allocator) == f->name() || m.allocator == std::string(f->name()))
          << f->name() << " explains " << m.allocator;
    }
  }
  EXPECT_EQ(remedies, rp::remedy_catalogue().size()) << "every remedy comes from a family";
  EXPECT_GE(texts, 8u);
}

TEST(Rules, ExplanationShownOnlyForTheMeasuredVerdict) {
  const auto& s = rp::find_scenario("2");
  EXPECT_NE(rp::explanation_for(s, "glibc", "glibc", rp::Verdict::kUntilRelease), nullptr);
  EXPECT_EQ(rp::explanation_for(s, "glibc", "glibc", rp::Verdict::kReturned), nullptr);
}

TEST(Cli, UnknownScenarioOrRemedyIsOneLineAndExit2) {
  for (const char* args :
       {"repro 13", "repro nope", "repro 2 --remedies no-such-remedy", "repro 2 --allocators nosuch"}) {
    const Result r = heapmark(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_TRUE(r.out.empty()) << args;
    ASSERT_FALSE(r.err.empty()) << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << args << ": " << r.err;
  }
  EXPECT_NE(heapmark("repro 4 --remedies no-such-remedy").err.find("glibc-mmap-threshold"), std::string::npos);
  // An existing results directory is never appended to.
  const std::string dir = (fs::temp_directory_path() / ("repro_test_exists_" + std::to_string(getpid()))).string();
  fs::create_directories(dir + "/taken");
  const Result taken = heapmark("repro 1 --allocators glibc --out " + dir + " --run-id taken");
  fs::remove_all(dir);
  EXPECT_EQ(taken.status, 2);
  EXPECT_NE(taken.err.find("exists already"), std::string::npos);
  const Result format = heapmark("repro 2 --format yaml");
  EXPECT_EQ(format.status, 2);
  EXPECT_EQ(format.err.find('\n'), format.err.size() - 1) << format.err;
  EXPECT_NE(format.err.find("json"), std::string::npos) << format.err;
  const Result list = heapmark("repro --list");
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("12 lazy-free"), std::string::npos);
}

// One small catalogue run for every measured test.
class Measured : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string((fs::temp_directory_path() / ("repro_test_" + std::to_string(getpid()))).string());
    auto opts = [](int mib) {
      return " --mib " + std::to_string(mib) + " --idle-ms 50 --activity-ms 100 --jobs 2 -q --out " + *root_;
    };
    const std::string common = opts(32);
    // Scenario 5 on every allocator this build has; 2, 4 and 6 on glibc, with the mmap_threshold remedy.
    status5_ = heapmark("repro 5 --allocators " + allocators() + " --reps 3 --run-id a" + common).status;
    // --format json: stdout is the catalogue's repro.json.
    const Result b = heapmark(
        "repro 2 4 6 --allocators glibc --remedies glibc-mmap-threshold --reps 1 --run-id b --format json" + common);
    status_ = b.status;
    stdout_b_ = new std::string(b.out);
    // The in-house model of glibc beside glibc. Scenario 10 needs several 64 MiB
    // heaps in the producer's arena, so it runs at 160 MiB.
    status_pt_ =
        heapmark("repro 1 2 3 4 9 11 --allocators glibc,ptmalloc-style --remedies none --reps 1 --run-id c" + common)
            .status;
    status10_ =
        heapmark("repro 10 --allocators glibc,ptmalloc-style --remedies glibc-tcache-0 --reps 1 --run-id d" + opts(160))
            .status;
    // jemalloc sizes its arenas from the CPU mask it starts with: the verdict
    // must not depend on how many cells run at once. Activity as by default.
    for (const char* jobs : {"1", "2"})
      status11_[jobs[0] - '1'] =
          heapmark(std::string("repro 11 --allocators jemalloc --remedies none --reps 1 --mib 64 -q --jobs ") + jobs +
                   " --out " + *root_ + " --run-id jobs" + jobs)
              .status;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete stdout_b_;
  }
  // Every base allocator the registry knows (glibc, jemalloc, mimalloc,
  // tcmalloc, the in-house ones). scripts/test installs them all: a missing
  // one fails the suite rather than shrinking what it checks.
  // The allocators repro runs by default: every base this build has found.
  static std::string allocators() {
    const auto all = heapmark::registry::builtin(fs::path(HEAPMARK_BIN).parent_path().string());
    for (const auto& a : all) {
      if (a.is_base() && std::string(a.kind()) != "user" && !a.on_request) {
        EXPECT_TRUE(a.found) << "allocator " << a.name << " is missing: " << a.missing_hint;
      }
    }
    std::string s;
    for (const auto& a : heapmark::registry::bases(all)) s += (s.empty() ? "" : ",") + a.name;
    return s;
  }
  static json::object summary(const std::string& run, const std::string& scenario_dir) {
    std::ifstream in(*root_ + "/" + run + "/" + scenario_dir + "/repro.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str()).as_object();
  }
  static const json::object& row(const json::object& sum, const std::string& allocator) {
    for (const auto& r : sum.at("rows").as_array())
      if (r.as_object().at("allocator").as_string() == allocator) return r.as_object();
    throw std::runtime_error("no row for " + allocator);
  }
  static double returned(const json::object& row, int phase) {
    return row.at("phases").as_array()[phase].as_object().at("returned").to_number<double>();
  }
  static const json::object& breakdown(const json::object& row, int phase) {
    return row.at("phases").as_array()[phase].as_object().at("breakdown").as_object();
  }
  static double num(const json::object& o, const char* k) { return o.at(k).to_number<double>(); }
  static std::string* root_;
  static std::string* stdout_b_;
  static int status_, status5_, status_pt_, status10_, status11_[2];
};
std::string* Measured::root_ = nullptr;
std::string* Measured::stdout_b_ = nullptr;
int Measured::status_ = -1;
int Measured::status5_ = -1;
int Measured::status_pt_ = -1;
int Measured::status10_ = -1;
int Measured::status11_[2] = {-1, -1};

TEST_F(Measured, TopPinnedKeepsFreedMemoryUntilRelease) {
  ASSERT_EQ(status_, 0);
  const auto sum = summary("b", "02-top-pinned");
  const auto& g = row(sum, "glibc");
  EXPECT_LE(returned(g, 1), 0.10);  // >= 90% of the freed memory still resident after the frees
  EXPECT_GE(returned(g, 4), 0.80);  // malloc_trim(0) returns >= 80%
  EXPECT_EQ(g.at("verdict").as_string(), "retained-until-release");
  EXPECT_FALSE(g.at("explanation").is_null());
}

TEST_F(Measured, RaisedMmapThresholdAndTheTunableThatRemovesIt) {
  ASSERT_EQ(status_, 0);
  const auto sum = summary("b", "04-mmap-threshold");
  const auto& g = row(sum, "glibc");
  EXPECT_LE(returned(g, 1), 0.10);  // the 2 MiB blocks came from the heap: nothing returned at F
  const auto& fixed = row(sum, "glibc-mmap-threshold");
  EXPECT_GE(returned(fixed, 1), 0.90);  // mmapped, unmapped by free()
  EXPECT_EQ(fixed.at("worked"), json::value(true));
  EXPECT_EQ(sum.at("remedies_worked").as_array().size(), 1u);
}

TEST_F(Measured, DenseFragmentationIsNotReturnedByAnyAllocator) {
  ASSERT_EQ(status5_, 0);
  const auto sum = summary("a", "05-dense-fragmentation");
  const auto bases =
      heapmark::registry::bases(heapmark::registry::builtin(fs::path(HEAPMARK_BIN).parent_path().string()));
  ASSERT_EQ(sum.at("rows").as_array().size(), bases.size()) << "every base allocator ran";
  ASSERT_GE(bases.size(), 7u) << "glibc, jemalloc, mimalloc, tcmalloc and the three in-house allocators";
  for (const auto& rv : sum.at("rows").as_array()) {
    const auto& r = rv.as_object();
    const std::string name(r.at("allocator").as_string());
    ASSERT_EQ(r.at("status").as_string(), "ok") << name;
    for (int phase = 1; phase < 5; ++phase) EXPECT_LT(returned(r, phase), 0.20) << name << " phase " << phase;
    const auto& f = r.at("phases").as_array()[1].as_object();
    const auto& b = breakdown(r, 1);
    EXPECT_GT(num(b, "fragmentation"), 0.5 * num(f, "r")) << name;
    EXPECT_EQ(r.at("verdict").as_string(), "fragmentation") << name;
  }
}

TEST_F(Measured, EveryRepetitionAgreesOnDenseFragmentationAndTheCataloguePageShowsIt) {
  ASSERT_EQ(status5_, 0);
  const auto sum = summary("a", "05-dense-fragmentation");
  for (const auto& rv : sum.at("rows").as_array()) {
    EXPECT_EQ(rv.at("agreement"), "3/3") << rv.at("allocator");
    EXPECT_EQ(rv.at("rep_verdicts").as_array().size(), 3u);
  }
  std::ifstream in(*root_ + "/a/report.html");
  const std::string html((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(html.find("<table class=\"verdicts\">"), std::string::npos);
  EXPECT_NE(html.find("href=\"#s5\""), std::string::npos) << "grid cells link to the scenario's section";
  EXPECT_NE(html.find("id=\"s5\""), std::string::npos);
  EXPECT_NE(html.find("class=\"v-fragmentation\""), std::string::npos) << "cells are coloured by verdict";
  EXPECT_NE(html.find("05-dense-fragmentation/report.html"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  std::ifstream jin(*root_ + "/a/repro.json");
  const auto cat = json::parse(std::string((std::istreambuf_iterator<char>(jin)), {})).as_object();
  EXPECT_EQ(cat.at("scenarios").as_array().size(), 1u);
  EXPECT_EQ(cat.at("reps"), 3);
  EXPECT_TRUE(fs::exists(*root_ + "/a/summary.md"));
}

// `repro --format json` prints the catalogue's repro.json (and nothing else) for
// scripts: complete, its exit status, and each scenario's verdicts as written
// beside its cells.
TEST_F(Measured, FormatJsonPrintsTheCatalogueAsWritten) {
  ASSERT_EQ(status_, 0);
  json::value printed;
  ASSERT_NO_THROW(printed = json::parse(*stdout_b_)) << "stdout is not one JSON document:\n" << *stdout_b_;
  std::ifstream in(*root_ + "/b/repro.json");
  const json::value written = json::parse(std::string((std::istreambuf_iterator<char>(in)), {}));
  EXPECT_EQ(printed, written);
  const auto& cat = printed.as_object();
  EXPECT_EQ(cat.at("schema"), "heapmark-repro-catalogue");
  EXPECT_EQ(cat.at("complete"), json::value(true));
  EXPECT_EQ(cat.at("exit_status"), 0);
  EXPECT_EQ(std::string(cat.at("dir").as_string()), *root_ + "/b");
  EXPECT_EQ(cat.at("allocators"), json::array{"glibc"});
  const auto& scenarios = cat.at("scenarios").as_array();
  ASSERT_EQ(scenarios.size(), 3u);
  std::vector<int64_t> ids;
  for (const auto& sv : scenarios) {
    const auto& sc = sv.as_object();
    ids.push_back(sc.at("scenario").to_number<int64_t>());
    // The scenario's own repro.json, plus where it is.
    auto own = summary("b", std::string(sc.at("dir").as_string()));
    own["dir"] = sc.at("dir");
    EXPECT_EQ(sc, own) << sc.at("dir");
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(row(scenarios[0].as_object(), "glibc").at("verdict"), "retained-until-release");
}

TEST_F(Measured, ThreadExitOnJemallocGivesTheSameVerdictAtEveryJobCount) {
  ASSERT_EQ(status11_[0], 0);
  ASSERT_EQ(status11_[1], 0);
  const auto sum1 = summary("jobs1", "11-thread-exit"), sum2 = summary("jobs2", "11-thread-exit");
  const auto& one = row(sum1, "jemalloc");
  const auto& two = row(sum2, "jemalloc");
  EXPECT_EQ(one.at("verdict"), two.at("verdict"));
  EXPECT_EQ(one.at("when"), two.at("when"));
  EXPECT_EQ(one.at("verdict"), "returned")
      << "jemalloc with its deployed arena count returns the exited thread's memory";
}

TEST_F(Measured, SparseFragmentationIsMostlyPagesWithNoLiveBlock) {
  ASSERT_EQ(status_, 0);
  const auto sum = summary("b", "06-sparse-fragmentation");
  const auto& g = row(sum, "glibc");
  const auto& f = g.at("phases").as_array()[1].as_object();
  const auto& b = breakdown(g, 1);
  const double kept = num(f, "r") - num(f, "live");
  EXPECT_GT(num(b, "retained"), 0.5 * kept);
  EXPECT_GT(num(b, "retained"), num(b, "fragmentation"));
}

// glibc 2.36 keeps the producer's heaps after a cross-thread free while the
// producer lives (each heap's leftover top sits in its tcache); with
// tcache_count=0 the same frees return them, and the model does as glibc does.
TEST_F(Measured, CrossThreadFreeKeepsTheProducersHeapsUnlessTcacheIsOff) {
  ASSERT_EQ(status10_, 0);
  const auto sum = summary("d", "10-cross-thread-free");
  const auto& g = row(sum, "glibc");
  EXPECT_LE(returned(g, 1), 0.50);  // only the last heap's top goes at F
  EXPECT_GE(returned(g, 4), 0.90);  // malloc_trim(0)
  const auto& off = row(sum, "glibc-tcache-0");
  EXPECT_GE(returned(off, 1), 0.90);
  EXPECT_EQ(off.at("worked"), json::value(true));
  const auto& pt = row(sum, "ptmalloc-style");
  EXPECT_EQ(pt.at("verdict"), g.at("verdict"));
  EXPECT_NEAR(returned(pt, 1), returned(g, 1), 0.05);
}

// The ptmalloc-style allocator in its glibc mode models glibc: the same verdicts.
TEST_F(Measured, PtmallocStyleGivesGlibcsVerdicts) {
  ASSERT_EQ(status_pt_, 0);
  for (const char* dir :
       {"01-small-fifo", "02-top-pinned", "03-fastbins", "04-mmap-threshold", "09-thread-arenas", "11-thread-exit"}) {
    const auto sum = summary("c", dir);
    const auto& g = row(sum, "glibc");
    const auto& pt = row(sum, "ptmalloc-style");
    EXPECT_EQ(pt.at("verdict"), g.at("verdict")) << dir;
    EXPECT_EQ(pt.at("when"), g.at("when")) << dir;
  }
}

}  // namespace
