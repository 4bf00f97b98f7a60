// The collector with a fleet's worth of history: query latency
// (fleet_summary_p99_ms, server_detail_p99_ms) with 2,000 servers and a month
// of runs, snapshots and errors in the store, and alert latency
// (alert_latency_p99_ms) from the ack of a batch whose pending deletes cross
// the threshold to the webhook POST arriving at a receiver of the benchmark.
#ifndef SYNCWATCH_TESTS_BENCH_FLEET_BENCH_H_
#define SYNCWATCH_TESTS_BENCH_FLEET_BENCH_H_

#include "absl/status/status.h"
#include "tests/bench/bench_util.h"

namespace syncwatch::bench {

// The store is generated once through the collector's own StorageWriter and
// kept in config.cache_dir (keyed by the code that writes it); each run
// serves a copy of it from the real syncwatch-collector. Quick runs use 200
// servers and a week.
absl::Status RunFleetBench(const BenchConfig& config, Results* results);

}  // namespace syncwatch::bench

#endif  // SYNCWATCH_TESTS_BENCH_FLEET_BENCH_H_
