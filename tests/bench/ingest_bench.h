// ingest_events_per_s, ingest_baseline_events_per_s, ingest_ratio: several
// agents' worth of streams speaking the real Ingest protocol (Hello, then
// sequenced batches of the agent's size, a window of unacknowledged batches
// like the agent's) into the real syncwatch-collector, and the same load into
// the benchmark's baseline server (baseline_server.h); rounds alternate
// between the two and each figure is the median of its rounds.
#ifndef SYNCWATCH_TESTS_BENCH_INGEST_BENCH_H_
#define SYNCWATCH_TESTS_BENCH_INGEST_BENCH_H_

#include <string>

#include "absl/status/status.h"
#include "tests/bench/bench_util.h"

namespace syncwatch::bench {

// `self` is this binary (it serves the baseline with --serve_baseline).
absl::Status RunIngestBench(const BenchConfig& config, const std::string& self, Results* results);

}  // namespace syncwatch::bench

#endif  // SYNCWATCH_TESTS_BENCH_INGEST_BENCH_H_
