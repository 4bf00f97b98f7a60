// What the rules look at, read from the collector's store: per server (its
// record, latest pending-export snapshots with the usual delete level, latest
// runs, active export errors) and per tenant (the servers' facts together).
// The rules themselves (rules.h) are pure functions of these structs, so they
// are tested without a store.
#ifndef SYNCWATCH_COLLECTOR_ALERTS_FACTS_H_
#define SYNCWATCH_COLLECTOR_ALERTS_FACTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/alerts/alerts_options.h"
#include "collector/state/server_state.h"
#include "collector/storage/server_cache.h"
#include "collector/storage/store.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::alerts {

// The tenant's export deletion threshold as the rules should apply it.
using DeletionThreshold = ThresholdSource;

// The latest pending-export snapshot of one connector and the connector's
// usual level of pending deletes.
struct ConnectorSnapshot {
  v1::PendingExportSnapshot snapshot;
  // pending_deletes of the snapshots before it, newest first (at most
  // RuleSettings::surge_history of them).
  std::vector<int64_t> previous_deletes;
  // The probable causes of its pending deletes, most likely first
  // (collector/config/delete_causes.h); empty when it has none pending.
  std::vector<v1::DeleteCause> causes;
};

// What the runs of one connector say.
struct ConnectorActivity {
  // End (or start, when the end is unknown) of the latest run that succeeded
  // ("success" or "completed-*").
  std::optional<absl::Time> last_success;
  // Start of the earliest run the collector stored (or, for a store upgraded
  // from before, of the oldest of the newest runs looked at then); the
  // reference for "overdue" when no run succeeded.
  std::optional<absl::Time> oldest_seen;
  // Start of the latest complete export run: errors older than it were cleared.
  std::optional<absl::Time> latest_export_start;
};

struct ServerFacts {
  v1::ServerInfo info;
  // The lower-cased tenant group: the tenant, or "server:<name>" for a server
  // whose agent reports no tenant (it is its own group).
  std::string tenant_group;
  DeletionThreshold threshold;
  std::vector<ConnectorSnapshot> snapshots;
  // The latest complete run per (connector, RunKind).
  std::map<std::pair<std::string, std::string>, v1::RunProfileResult> latest_runs;
  // By connector name.
  std::map<std::string, ConnectorActivity> activity;
  // Export errors that still hold (see FactsReader::ReadServer).
  std::vector<v1::StoredExportError> active_errors;
  // A staging server's differences from its tenant's active server's
  // configuration (empty for other servers, and when they match).
  std::vector<v1::ConfigurationDrift> drift;
  // Names of the alerts firing in this server's scope now.
  std::set<std::string> firing;
  // When the collector began watching (its alert engine started): an agent is
  // not called silent for time the collector itself was away.
  absl::Time watching_since = absl::InfinitePast();
};

struct TenantFacts {
  // The tenant's name as reported (empty for a tenant-less server's group).
  std::string tenant;
  // ServerFacts::tenant_group of its servers.
  std::string group;
  // Every server of the tenant; their active errors and snapshots are the
  // tenant's.
  std::vector<const ServerFacts*> servers;
};

// Reads facts from the store. Not thread-safe; cheap to create.
class FactsReader {
 public:
  // `store` must outlive the reader.
  FactsReader(const Store& store, const RulesConfig& rules) : store_(store), rules_(rules) {}

  // The facts of `entry`'s server at `now`. `thresholds` (built over every
  // server entry) supplies a tenant peer's deletion threshold when this
  // server's agent reported none. With `liveness_only`, only info,
  // tenant_group and the threshold are filled (enough for the silence rule).
  //
  // An export error is active when it occurred at or after the start of the
  // connector's latest complete export run (minus a minute of slack), or,
  // when no export run of the connector is known, within the server's
  // export_errors.max_age before `now`; errors without any time are active.
  absl::StatusOr<ServerFacts> ReadServer(const ServerEntry& entry,
                                         const TenantThresholds& thresholds, absl::Time now,
                                         bool liveness_only) const;

  // Issue 18: fills facts->drift (against the active server among `peers`,
  // the servers of its tenant group) and each snapshot's causes. Called
  // after ReadServer, for data evaluations only.
  absl::Status ReadConfigurationFacts(const std::vector<const ServerEntry*>& peers,
                                      ServerFacts* facts) const;

 private:
  // From the connectors' state (ServerInfo.state_version 2): no run is read.
  static void RunFacts(const v1::ServerInfo& info, ServerFacts* facts);
  absl::Status ReadSnapshots(const std::string& server, int64_t history, ServerFacts* facts) const;
  absl::Status ReadErrors(const std::string& server, absl::Duration max_age, absl::Time now,
                          ServerFacts* facts) const;

  const Store& store_;
  const RulesConfig& rules_;
};

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_FACTS_H_
