// A sync server's current state, kept in its `servers` record (v1::ServerInfo)
// and brought up to date by the StorageWriter as each event is stored, so
// that the fleet view never scans history: the latest run and success per
// connector, the latest pending-export figures, the last successful cycle.
//
// Also what the query service and the alert rules share about a server: its
// tenant group, the deletion threshold it reported, and its health.
#ifndef SYNCWATCH_COLLECTOR_STATE_SERVER_STATE_H_
#define SYNCWATCH_COLLECTOR_STATE_SERVER_STATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {

// "import", "sync", "export", or the lower-cased profile name when the run's
// kind cannot be told (from its steps' types, else its profile name).
std::string RunKind(const v1::RunProfileResult& run);

// True when the run is over: reported complete, or with an end time.
bool IsCompleteRun(const v1::RunProfileResult& run);

// True for results that mean the run did its work: "success", "completed-*".
bool IsSuccessfulResult(absl::string_view result);

// The lower-cased tenant, or "server:<name>" for a server whose agent reports
// no tenant (it is a group of its own).
std::string TenantGroup(const v1::ServerInfo& info);

// ServerInfo.state_version of the records this collector writes: the
// connectors carry what the alert rules judge of their runs
// (latest_complete_runs, latest_export_start, first_run_start).
inline constexpr int32_t kServerStateVersion = 2;

// Folds a stored run into `info`'s connector state, then refreshes the
// derived fields (RefreshServerState). Runs may arrive in any order and more
// than once.
void ApplyRunToState(const v1::RunProfileResult& run, v1::ServerInfo* info);
// The same for many runs, in order, copying only the runs that end up in the
// state (a batch holds dozens of runs of each connector and kind).
void ApplyRunsToState(absl::Span<const v1::RunProfileResult* const> runs, v1::ServerInfo* info);

// Folds a stored pending-export snapshot into `info` (an older snapshot than
// the one already folded in changes nothing), then refreshes.
void ApplySnapshotToState(const v1::PendingExportSnapshot& snapshot, v1::ServerInfo* info);

// Recomputes last_run_result, last_run_time, last_successful_cycle and
// pending_deletes from the connectors.
void RefreshServerState(v1::ServerInfo* info);

// The export deletion threshold that applies to a server.
struct ThresholdSource {
  // False when no agent of the tenant reported it (a default applies).
  bool known = false;
  bool enabled = true;
  int64_t value = 0;
  // The server whose agent reported it (the server itself or a tenant peer).
  std::string reported_by;

  // Whether the reported value applies; else the engine's default does.
  bool HasValue() const { return known && value > 0; }
};

// The threshold `info`'s agent reported itself (known false when none).
ThresholdSource ReportedThreshold(const v1::ServerInfo& info);

// What judging a server's health needs of an alert firing now.
struct FiringAlert {
  std::string server;
  std::string tenant;
  std::string connector;
  // "warning" or "critical".
  std::string severity;
  std::string summary;
  // The rule's name, e.g. "PendingDeletesOverThreshold".
  std::string name;
};

// Fills the query-time fields of `info` (deletion_threshold*, open_alerts,
// open_critical_alerts, health, health_reasons) from the threshold that
// applies, the engine's default threshold for it, and the alerts about it
// firing now:
//   critical  a critical alert is open, or a connector's pending deletes
//             exceed the enabled threshold (before any rule has looked);
//   warning   a warning alert is open, or the latest run ended stopped-*;
//   unknown   none of the above and no run or snapshot reported yet;
//   ok        otherwise.
void JudgeHealth(const ThresholdSource& threshold, int64_t default_threshold,
                 const std::vector<const FiringAlert*>& firing, v1::ServerInfo* info);
// What judging a server's health reads of its stored record, worked out once
// per record (ServerEntry keeps it) rather than per query: a fleet query then
// reads the connectors of only the servers over a threshold.
struct HealthInputs {
  explicit HealthInputs(const v1::ServerInfo& record);

  // The most pending deletes of any connector.
  int64_t max_pending_deletes = 0;
  // The latest run ended stopped-*.
  bool stopped = false;
  bool has_connectors = false;
};
// The same, judging the stored `record` (whose HealthInputs are `inputs`) and
// filling in `out` (`record` itself, or a message that receives only the
// query-time fields).
void JudgeHealth(const ThresholdSource& threshold, int64_t default_threshold,
                 const std::vector<const FiringAlert*>& firing, const v1::ServerInfo& record,
                 const HealthInputs& inputs, v1::ServerInfo* out);

// Worse health first: critical, warning, unknown, ok.
int HealthRank(v1::Health health);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STATE_SERVER_STATE_H_
