// syncwatch-bench: the benchmark suite of issue 7. Runs every part (or the
// ones --only names), prints a table of the figures against their targets and
// writes them to --out as one flat JSON object (null for a figure that could
// not be measured). Exits 1 only when a part failed to run; a missed target is
// reported as MISS, not as a failure. scripts/bench builds and runs it.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "nlohmann/json.hpp"
#include "tests/bench/agent_bench.h"
#include "tests/bench/baseline_server.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/fleet_bench.h"
#include "tests/bench/ingest_bench.h"

ABSL_FLAG(bool, quick, false, "Short runs and small inputs, for development");
ABSL_FLAG(std::string, only, "ingest,csexport,fleet,idle",
          "Comma-separated parts to run: ingest, csexport, fleet, idle");
ABSL_FLAG(std::string, out, "bench-results.json", "Where the figures go (JSON)");
ABSL_FLAG(std::string, work_dir, "bench-work", "Scratch directory (removed afterwards)");
ABSL_FLAG(std::string, cache_dir, "bench-cache",
          "Generated inputs kept between runs (a csexport file, a fleet's store)");
ABSL_FLAG(int, ingest_streams, 8, "Concurrent agent streams of the ingest load");
ABSL_FLAG(int, ingest_batch_events, 0, "Events a batch of the ingest load (0: the agent's)");
ABSL_FLAG(int, ingest_rounds, 0, "Ingest rounds (0: 5, 2 when quick)");
ABSL_FLAG(int, ingest_seconds, 0, "Seconds measured per ingest round (0: 8, 3 when quick)");
ABSL_FLAG(std::string, ingest_sides, "both",
          "Ingest servers to measure: both, collector or baseline (for profiling one)");
ABSL_FLAG(int, query_calls, 0, "Calls timed per query RPC (0: 300, 50 when quick)");
ABSL_FLAG(double, heartbeats_per_s, 0,
          "Heartbeats a second from the fleet's agents while queries and alerts are timed (0: one "
          "a minute per server)");
ABSL_FLAG(bool, keep_work, false, "Keep the work dir's data for inspection");
ABSL_FLAG(std::string, collector_bin, "", "Another syncwatch-collector to measure (A/B of builds)");
ABSL_FLAG(std::string, ingest_clone_store, "",
          "A collector store (e.g. a fleet cache dir) that the collector's ingest rounds start "
          "from instead of an empty one");
ABSL_FLAG(std::string, serve_baseline, "",
          "Internal: serve the ingest baseline with its store in this directory");

namespace syncwatch::bench {
namespace {

struct Figure {
  const char* name;
  const char* unit;
  // The target: ">=", "<=" or "<" `bound`; empty for a figure without one.
  const char* compare;
  double bound;
};

// Every figure, in the order of the table; targets for a 2-core machine.
constexpr Figure kFigures[] = {
    {"ingest_events_per_s", "events/s", "", 0},
    {"ingest_baseline_events_per_s", "events/s", "", 0},
    {"ingest_ratio", "", ">=", 0.8},
    {"agent_idle_rss_mb", "MiB", "<=", 25},
    {"agent_idle_cpu_percent", "%", "<", 0.5},
    {"csexport_mb_per_s", "MiB/s", "", 0},
    {"csexport_baseline_mb_per_s", "MiB/s", "", 0},
    {"csexport_ratio", "", ">=", 0.5},
    {"csexport_rss_growth_mb", "MiB", "<=", 64},
    {"fleet_summary_p99_ms", "ms", "<", 20},
    {"server_detail_p99_ms", "ms", "<", 50},
    {"alert_latency_p99_ms", "ms", "<", 1000},
};

bool HasTarget(const Figure& f) { return f.compare[0] != '\0'; }

std::string TargetText(const Figure& f) {
  return HasTarget(f) ? absl::StrCat(f.compare, " ", f.bound) : "";
}

bool Meets(const Figure& f, double v) {
  const absl::string_view c = f.compare;
  if (c == ">=") return v >= f.bound;
  if (c == "<=") return v <= f.bound;
  if (c == "<") return v < f.bound;
  return true;
}

void PrintTable(const Results& results) {
  std::printf("\n%-30s %14s %-9s %-9s %s\n", "figure", "value", "unit", "target", "");
  for (const Figure& f : kFigures) {
    const std::optional<double> v = results.Get(f.name);
    std::string verdict;
    if (!v) {
      verdict = HasTarget(f) ? "n/a" : "";
      const std::string note = results.Note(f.name);
      if (!note.empty())
        verdict = absl::StrCat(verdict, verdict.empty() ? "" : " ", "(", note, ")");
    } else if (HasTarget(f)) {
      verdict = Meets(f, *v) ? "PASS" : "MISS";
    }
    const std::string value = v ? absl::StrFormat("%.3f", *v) : "-";
    std::printf("%-30s %14s %-9s %-9s %s\n", f.name, value.c_str(), f.unit, TargetText(f).c_str(),
                verdict.c_str());
  }
  std::fflush(stdout);
}

absl::Status WriteJson(const Results& results, const std::string& path) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const Figure& f : kFigures) {
    const std::optional<double> v = results.Get(f.name);
    out[f.name] = v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
  }
  std::ofstream file(path);
  file << out.dump(2) << "\n";
  if (!file) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// The figures each part produces (marked missing when the part fails).
const std::vector<std::string>& FiguresOf(const std::string& part) {
  static const auto* const figures = new std::map<std::string, std::vector<std::string>>{
      {"ingest", {"ingest_events_per_s", "ingest_baseline_events_per_s", "ingest_ratio"}},
      {"csexport",
       {"csexport_mb_per_s", "csexport_baseline_mb_per_s", "csexport_ratio",
        "csexport_rss_growth_mb"}},
      {"fleet", {"fleet_summary_p99_ms", "server_detail_p99_ms", "alert_latency_p99_ms"}},
      {"idle", {"agent_idle_rss_mb", "agent_idle_cpu_percent"}},
  };
  return figures->at(part);
}

int Main() {
  namespace fs = std::filesystem;
  SetMinLogLevel(LogLevel::kWarning);
  BenchConfig config;
  config.quick = absl::GetFlag(FLAGS_quick);
  config.ingest_streams = absl::GetFlag(FLAGS_ingest_streams);
  config.ingest_batch_events =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_ingest_batch_events)));
  config.ingest_rounds = absl::GetFlag(FLAGS_ingest_rounds);
  config.ingest_seconds = absl::GetFlag(FLAGS_ingest_seconds);
  config.ingest_sides = absl::GetFlag(FLAGS_ingest_sides);
  config.keep_work = absl::GetFlag(FLAGS_keep_work);
  config.query_calls = absl::GetFlag(FLAGS_query_calls);
  config.heartbeats_per_s = absl::GetFlag(FLAGS_heartbeats_per_s);
  config.ingest_clone_store = absl::GetFlag(FLAGS_ingest_clone_store);
  if (!absl::GetFlag(FLAGS_collector_bin).empty()) {
    SetCollectorBinary(absl::GetFlag(FLAGS_collector_bin));
  }
  std::error_code ec;
  config.work_dir = fs::absolute(absl::GetFlag(FLAGS_work_dir), ec).string();
  config.cache_dir = fs::absolute(absl::GetFlag(FLAGS_cache_dir), ec).string();
  fs::create_directories(config.cache_dir, ec);
  if (absl::Status s = FreshDir(config.work_dir); !s.ok()) {
    std::fprintf(stderr, "syncwatch-bench: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();

  const std::vector<std::string> parts =
      absl::StrSplit(absl::GetFlag(FLAGS_only), ',', absl::SkipEmpty());
  Results results;
  bool failed = false;
  for (const std::string& part : parts) {
    const absl::Time start = absl::Now();
    std::fprintf(stderr, "== %s\n", part.c_str());
    absl::Status s;
    if (part == "ingest") {
      s = RunIngestBench(config, self, &results);
    } else if (part == "csexport") {
      s = RunCsExportBench(config, &results);
    } else if (part == "fleet") {
      s = RunFleetBench(config, &results);
    } else if (part == "idle") {
      s = RunAgentIdleBench(config, &results);
    } else {
      std::fprintf(stderr, "syncwatch-bench: unknown part '%s'\n", part.c_str());
      return 2;
    }
    std::fprintf(stderr, "== %s: %s in %.0f s\n", part.c_str(), s.ok() ? "done" : "FAILED",
                 absl::ToDoubleSeconds(absl::Now() - start));
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", part.c_str(), s.ToString().c_str());
      for (const std::string& name : FiguresOf(part)) results.Missing(name, "failed to run");
      failed = true;
    }
  }
  PrintTable(results);
  if (absl::Status s = WriteJson(results, absl::GetFlag(FLAGS_out)); !s.ok()) {
    std::fprintf(stderr, "syncwatch-bench: %s\n", s.ToString().c_str());
    failed = true;
  }
  if (!config.keep_work) fs::remove_all(config.work_dir, ec);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace syncwatch::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Benchmarks syncwatch's collector and agent against their targets (BENCHMARKS.md).\n"
      "Usage: syncwatch-bench [--quick] [--only ingest,csexport,fleet,idle] [--out FILE]");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_serve_baseline).empty()) {
    return syncwatch::bench::ServeBaseline(absl::GetFlag(FLAGS_serve_baseline));
  }
  return syncwatch::bench::Main();
}
