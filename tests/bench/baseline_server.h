// The ingest benchmark's baseline: the least a server speaking the Ingest
// protocol must do — read each batch, write its bytes to RocksDB with the
// collector's durability (the collector's own Store, so RocksDB is configured
// identically, sync on), and acknowledge it once committed. Like the
// collector it commits what all streams have queued in one write (group
// commit on one writer thread) and reads a stream's next batch while one is
// written (up to 2 awaiting their acks, acked in order); unlike it, it neither validates nor
// decodes events, keeps no records, server state or de-duplication, and raises no alerts.
#ifndef SYNCWATCH_TESTS_BENCH_BASELINE_SERVER_H_
#define SYNCWATCH_TESTS_BENCH_BASELINE_SERVER_H_

#include <string>

namespace syncwatch::bench {

// Serves on 127.0.0.1 (a free port) with its store in `data_dir`, prints
// "listening on port N" and runs until SIGTERM or SIGINT. Returns the exit code.
int ServeBaseline(const std::string& data_dir);

}  // namespace syncwatch::bench

#endif  // SYNCWATCH_TESTS_BENCH_BASELINE_SERVER_H_
