// Agent events as the sync engine's data makes them, for the benchmarks: the
// records of one sync server (runs with steps and counters, export errors,
// pending-export snapshots, settings, heartbeats), and the batch mix the
// ingest benchmark streams.
#ifndef SYNCWATCH_TESTS_BENCH_EVENT_MIX_H_
#define SYNCWATCH_TESTS_BENCH_EVENT_MIX_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "syncwatch/v1/event.pb.h"
#include "syncwatch/v1/ingest.pb.h"

namespace syncwatch::bench {

// One sync server of the benchmark fleet: `index` names it, its tenant (three
// servers a tenant: one active, two staging) and its connectors.
struct BenchServer {
  explicit BenchServer(int index);

  std::string name;
  std::string tenant;
  v1::ServerRole role;
  // The on-premises AD, the Entra ID ("… - AAD") and an HR connector.
  std::vector<std::string> connectors;
  // The Hello its agent sends (agent id = server name).
  v1::Hello Hello(const std::string& spool_epoch) const;
};

enum class RunProfile { kDeltaImport, kDeltaSync, kExport };

// A complete one-step run of `profile` on `connector`, with the counters that
// step type records; `export_errors` export errors in the step (export runs).
v1::RunProfileResult MakeRun(const std::string& connector, RunProfile profile, int64_t run_number,
                             absl::Time start, const std::string& result, int export_errors);

// An export error of object number `object` on `connector`, reported at `when`.
v1::ExportError MakeExportError(const std::string& connector, int64_t object, absl::Time when);

// A pending-export snapshot with `deletes` pending deletes (up to 20 listed
// with their attributes) and a few adds and updates.
v1::PendingExportSnapshot MakeSnapshot(const std::string& connector, absl::Time taken_at,
                                       int64_t deletes);

v1::ServerSettings MakeSettings(bool staging, int64_t deletion_threshold);

// An event from agent source `source`, observed at `when`, without its kind.
v1::Event MakeEvent(const std::string& source, absl::Time when);

// The batches one agent streams in the ingest benchmark: `batch_events`
// events each, mostly runs (import, sync and — on active servers — export
// steps with their counters; some export runs with export errors), some export errors from
// csexport, a few pending-export snapshots listing objects, a settings event
// and heartbeats. Every batch is new to the collector: run ids, run numbers,
// times and snapshot ids advance, so nothing is a re-send or an overwrite
// (re-reported export errors excepted, as in life).
class EventMix {
 public:
  EventMix(const BenchServer& server, size_t batch_events);

  // Turns *batch into the next batch with `seq`. The first call builds it;
  // later calls on the same message only restamp its identities and times,
  // so that generating load costs little of the CPU the server needs.
  void Next(uint64_t seq, v1::EventBatch* batch);

 private:
  void Build(v1::EventBatch* batch);

  const BenchServer server_;
  const uint64_t server_hash_;
  const size_t batch_events_;
  const absl::Time start_;
  int64_t runs_ = 0;
  int64_t snapshots_ = 0;
  int64_t batches_ = 0;
};

}  // namespace syncwatch::bench

#endif  // SYNCWATCH_TESTS_BENCH_EVENT_MIX_H_
