// What every part of the benchmark suite shares: the figures it reports, the
// statistics over repeated measurements, the real binaries as child processes,
// and what /proc says about them.
#ifndef SYNCWATCH_TESTS_BENCH_BENCH_UTIL_H_
#define SYNCWATCH_TESTS_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testutil/subprocess.h"

namespace syncwatch::bench {

// How long and how often each part measures. Full runs are what BENCHMARKS.md
// reports; quick runs are for development and say little about the targets.
struct BenchConfig {
  bool quick = false;
  // Scratch space for data dirs and inputs; removed piece by piece.
  std::string work_dir;
  // Generated inputs kept between runs (the csexport file, the fleet store).
  std::string cache_dir;
  // Ingest load: concurrent agent streams, and events a batch (0: the
  // agent's batch_max_events).
  int ingest_streams = 8;
  size_t ingest_batch_events = 0;
  // Rounds (0: 5, or 2 when quick) and seconds measured per round (0: 8, or 3
  // when quick); for profiling one side, `ingest_sides` "collector" or
  // "baseline" instead of "both".
  int ingest_rounds = 0;
  int ingest_seconds = 0;
  std::string ingest_sides = "both";
  // Leave the work dir's data behind for inspection.
  bool keep_work = false;
  // Calls timed per query RPC (0: 300, or 50 when quick).
  int query_calls = 0;
  // Heartbeats a second the fleet's agents send while queries and alerts
  // are timed (0: one a minute per server).
  double heartbeats_per_s = 0;
  // A store (e.g. the fleet cache) that the collector's ingest rounds start
  // from instead of an empty one; empty for an empty store.
  std::string ingest_clone_store;
};

// The figures of one run, by name (see bench_main.cc for the list). A figure
// that could not be measured is absent and has a note saying why.
class Results {
 public:
  void Set(const std::string& name, double value) { values_[name] = value; }
  void Missing(const std::string& name, const std::string& why) { notes_[name] = why; }
  std::optional<double> Get(const std::string& name) const;
  std::string Note(const std::string& name) const;

 private:
  std::map<std::string, double> values_;
  std::map<std::string, std::string> notes_;
};

// Median of `v` (mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> v);
// Nearest-rank percentile `p` (0-100] of `v`; 0 when empty.
double Percentile(std::vector<double> v, double p);

constexpr double kMiB = 1024.0 * 1024.0;

// What /proc/<pid> says about a process.
struct ProcSample {
  double rss_mb = 0;  // VmRSS
  double hwm_mb = 0;  // VmHWM: peak resident set so far
  // utime + stime in clock ticks (sysconf(_SC_CLK_TCK) per second).
  uint64_t cpu_ticks = 0;
};
absl::StatusOr<ProcSample> SampleProc(pid_t pid);
// CPU ticks of each thread of `pid`, by "name/tid" (names as the threads set
// them, e.g. RocksDB's "rocksdb:low").
std::map<std::string, uint64_t> ThreadCpuTicks(pid_t pid);

// Prints to stderr where a process's CPU went between two ThreadCpuTicks
// samples taken `seconds` apart: its total and its busiest threads, in
// percent of one core, after `what`.
void PrintThreadCpu(const char* what, const std::map<std::string, uint64_t>& before,
                    const std::map<std::string, uint64_t>& after, double seconds);

// Seconds per clock tick of /proc/<pid>/stat.
double SecondsPerTick();

// Waits until `pid` uses less than `percent` of one core over `window`
// (start-up work such as compactions and a first alert evaluation is done);
// DeadlineExceeded after `timeout`.
absl::Status WaitForCpuIdle(pid_t pid, double percent, absl::Duration window,
                            absl::Duration timeout);

// A server binary (the real collector, or the benchmark's own baseline
// server) as a child process that prints "listening on port N" once it
// serves (and "http on port N" when it has an HTTP port).
class ServerProcess {
 public:
  // Starts `argv` with output in `log_prefix`.out/.err and waits until it
  // listens (and, with `wait_http`, serves HTTP).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const std::vector<std::string>& argv,
                                                              const std::string& log_prefix,
                                                              bool wait_http);
  // The real collector with `yaml` (data_dir, listen and http_listen are
  // added) as its --config, written to `dir`/collector.yaml; its data in
  // `data_dir`.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> StartCollector(const std::string& dir,
                                                                       const std::string& data_dir,
                                                                       const std::string& yaml);
  // SIGKILL if still running.
  ~ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int http_port() const { return http_port_; }
  pid_t pid() const { return process_.pid(); }
  // A metric from /metrics (collector only).
  absl::StatusOr<double> Metric(const std::string& name) const;
  // SIGTERM, then waits for a clean exit; Internal naming the log otherwise.
  absl::Status Stop();

 private:
  ServerProcess(testing::Subprocess process, std::string log_prefix)
      : process_(std::move(process)), log_prefix_(std::move(log_prefix)) {}

  testing::Subprocess process_;
  std::string log_prefix_;
  int port_ = 0;
  int http_port_ = 0;
};

// Polls /proc/<pid> every `period` until the process exits; returns the
// largest VmHWM seen (the process's peak RSS) and sets *exit_code.
absl::StatusOr<double> WaitTrackingPeakRss(testing::Subprocess& process, absl::Duration timeout,
                                           int* exit_code);

// The binaries under test (paths fixed at build time; SetCollectorBinary
// overrides the collector's).
void SetCollectorBinary(const std::string& path);
const char* CollectorBinary();
const char* AgentBinary();

// Creates `path` (with parents) afresh: removes what was there.
absl::Status FreshDir(const std::string& path);

// A copy of the RocksDB in `from` at `to` that a collector may change: the
// immutable SST files are hard links, everything else (MANIFEST, WAL, ...) a
// copy. `from` must not be open.
absl::Status CloneStore(const std::string& from, const std::string& to);

// FNV-1a over the named files of the source tree (missing ones count as
// empty), to tell whether a cache was made by the code being benchmarked.
uint64_t SourceDigest(const std::vector<std::string>& relative_paths);

}  // namespace syncwatch::bench

#endif  // SYNCWATCH_TESTS_BENCH_BENCH_UTIL_H_
