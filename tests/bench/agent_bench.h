// The agent as a process: what it costs while idle (agent_idle_rss_mb,
// agent_idle_cpu_percent) and how it copes with a big csexport file
// (csexport_mb_per_s against a bare streaming parse, csexport_ratio,
// csexport_rss_growth_mb).
#ifndef SYNCWATCH_TESTS_BENCH_AGENT_BENCH_H_
#define SYNCWATCH_TESTS_BENCH_AGENT_BENCH_H_

#include "absl/status/status.h"
#include "tests/bench/bench_util.h"

namespace syncwatch::bench {

// An agent connected to a real collector, its sources looking at empty drop
// folders, watched over a minute (10 s when quick) after it settled.
absl::Status RunAgentIdleBench(const BenchConfig& config, Results* results);

// A generated csexport /f:x file of ~200 MiB (32 MiB when quick), cached in
// config.cache_dir, read by `syncwatch-agent --once` into its spool and
// delivered to a real collector; against expat counting the file's elements.
absl::Status RunCsExportBench(const BenchConfig& config, Results* results);

}  // namespace syncwatch::bench

#endif  // SYNCWATCH_TESTS_BENCH_AGENT_BENCH_H_
