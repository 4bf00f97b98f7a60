#include "collector/alerts/facts.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/config/delete_causes.h"
#include "collector/storage/config_records.h"
#include "collector/storage/record_keys.h"
#include "common/key_codec.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::collector::alerts {
namespace {

// Clock skew between the export run's start and the errors it recorded.
constexpr absl::Duration kErrorSlack = absl::Minutes(1);

bool StartsWith(const rocksdb::Slice& key, const std::string& prefix) {
  return key.starts_with(rocksdb::Slice(prefix));
}

}  // namespace

absl::StatusOr<ServerFacts> FactsReader::ReadServer(const ServerEntry& entry,
                                                    const TenantThresholds& thresholds,
                                                    absl::Time now, bool liveness_only) const {
  const v1::ServerInfo& info = entry.record;
  ServerFacts facts;
  facts.info = info;
  facts.tenant_group = entry.tenant_group;
  facts.threshold = thresholds.For(entry);
  if (liveness_only) return facts;

  const RuleSettings settings = rules_.For(info.tenant(), info.server());
  RunFacts(info, &facts);
  SYNCWATCH_RETURN_IF_ERROR(ReadSnapshots(info.server(), settings.surge_history, &facts));
  SYNCWATCH_RETURN_IF_ERROR(ReadErrors(info.server(), settings.export_error_max_age, now, &facts));
  return facts;
}

absl::Status FactsReader::ReadConfigurationFacts(const std::vector<const ServerEntry*>& peers,
                                                 ServerFacts* facts) const {
  const v1::ServerInfo& info = facts->info;
  if (info.role() == v1::SERVER_ROLE_STAGING) {
    std::vector<v1::ServerInfo> servers;
    for (const ServerEntry* peer : peers) {
      if (peer->record.role() == v1::SERVER_ROLE_ACTIVE) servers.push_back(peer->record);
    }
    if (!servers.empty()) {
      servers.push_back(info);
      SYNCWATCH_ASSIGN_OR_RETURN(std::vector<v1::ConfigurationDrift> drift,
                                 ComputeDrift(store_, servers));
      for (v1::ConfigurationDrift& d : drift) {
        if (d.server() == info.server()) facts->drift.push_back(std::move(d));
      }
    }
  }
  for (ConnectorSnapshot& c : facts->snapshots) {
    if (c.snapshot.pending_deletes() <= 0) continue;
    SYNCWATCH_ASSIGN_OR_RETURN(config::DeleteEvidence evidence,
                               ReadDeleteEvidence(store_, info, c.snapshot));
    c.causes = config::ExplainDeletes(evidence);
  }
  return absl::OkStatus();
}

void FactsReader::RunFacts(const v1::ServerInfo& info, ServerFacts* facts) {
  // The writer keeps, per connector, what the rules judge of its runs.
  for (const v1::ConnectorState& c : info.connectors()) {
    if (!c.has_last_run()) continue;  // only snapshots so far
    ConnectorActivity& activity = facts->activity[c.connector()];
    if (c.has_first_run_start()) activity.oldest_seen = FromProtoTimestamp(c.first_run_start());
    if (c.has_last_success()) activity.last_success = FromProtoTimestamp(c.last_success());
    if (c.has_latest_export_start()) {
      activity.latest_export_start = FromProtoTimestamp(c.latest_export_start());
    }
    for (const auto& [kind, run] : c.latest_complete_runs()) {
      facts->latest_runs[{c.connector(), kind}] = run;
    }
  }
}

absl::Status FactsReader::ReadSnapshots(const std::string& server, int64_t history,
                                        ServerFacts* facts) const {
  const std::string prefix = ServerPrefix(server);
  const std::string bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice(bound);
  auto it = store_.NewIterator(Family::kSnapshots, bound.empty() ? nullptr : &bound_slice);
  for (it->Seek(prefix); it->Valid() && StartsWith(it->key(), prefix); it->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredPendingExports stored,
                               ParseRecord<v1::StoredPendingExports>(it->value()));
    ConnectorSnapshot& c = facts->snapshots.emplace_back();
    c.snapshot = std::move(*stored.mutable_snapshot());
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read snapshots"));

  // The usual level: the history records before the latest snapshot.
  for (ConnectorSnapshot& c : facts->snapshots) {
    const std::string connector_prefix = ServerConnectorPrefix(server, c.snapshot.connector_name());
    const std::string latest = SnapshotHistoryKey(server, c.snapshot);
    auto h = store_.NewIterator(Family::kSnapshotHistory, nullptr);
    h->SeekForPrev(rocksdb::Slice(latest));
    if (h->Valid() && h->key() == rocksdb::Slice(latest)) h->Prev();
    for (; h->Valid() && StartsWith(h->key(), connector_prefix) &&
           static_cast<int64_t>(c.previous_deletes.size()) < history;
         h->Prev()) {
      SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredPendingExports past,
                                 ParseRecord<v1::StoredPendingExports>(h->value()));
      c.previous_deletes.push_back(past.snapshot().pending_deletes());
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(h->status(), "read snapshot history"));
  }
  return absl::OkStatus();
}

absl::Status FactsReader::ReadErrors(const std::string& server, absl::Duration max_age,
                                     absl::Time now, ServerFacts* facts) const {
  const std::string prefix = ServerPrefix(server);
  const std::string bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice(bound);
  auto it = store_.NewIterator(Family::kExportErrors, bound.empty() ? nullptr : &bound_slice);
  for (it->Seek(prefix); it->Valid() && StartsWith(it->key(), prefix); it->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredExportError stored,
                               ParseRecord<v1::StoredExportError>(it->value()));
    const v1::ExportError& e = stored.error();
    // The export-error family keeps the latest report per object and error
    // type and never forgets one: whether it still holds is judged by time.
    std::optional<absl::Time> when;
    if (e.has_date_occurred()) {
      when = FromProtoTimestamp(e.date_occurred());
    } else if (e.has_first_occurred()) {
      when = FromProtoTimestamp(e.first_occurred());
    }
    bool active = true;
    if (when) {
      auto a = facts->activity.find(e.connector_name());
      if (a != facts->activity.end() && a->second.latest_export_start) {
        active = *when >= *a->second.latest_export_start - kErrorSlack;
      } else {
        active = *when >= now - max_age;
      }
    }
    if (active) facts->active_errors.push_back(std::move(stored));
  }
  return FromRocksStatus(it->status(), "read export errors");
}

}  // namespace syncwatch::collector::alerts
