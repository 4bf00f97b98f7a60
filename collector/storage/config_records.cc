#include "collector/storage/config_records.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "collector/config/config_diff.h"
#include "collector/state/server_state.h"
#include "collector/storage/record_keys.h"
#include "common/key_codec.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::collector {
namespace {

// Calls `take` with each value under `prefix` from `start` (a key at or after
// the prefix) on.
template <typename Take>
absl::Status Scan(const Store& store, Family family, const std::string& prefix,
                  const std::string& start, Take take) {
  const std::string bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice(bound);
  auto it = store.NewIterator(family, bound.empty() ? nullptr : &bound_slice);
  for (it->Seek(start); it->Valid(); it->Next()) {
    SYNCWATCH_RETURN_IF_ERROR(take(it->value()));
  }
  return FromRocksStatus(it->status(), "scan");
}

std::string SinceKey(const std::string& prefix, absl::Time since) {
  std::string key = prefix;
  if (since != absl::InfinitePast()) {
    KeyBuilder(&key).Int64(ToUnixMicrosOrZero(ToProtoTimestamp(since)));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::optional<v1::StoredConfiguration>> ReadConfiguration(
    const Store& store, const std::string& server) {
  SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                             store.Get(Family::kConfigurations, ConfigurationKey(server)));
  if (!bytes) return std::optional<v1::StoredConfiguration>();
  SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredConfiguration c,
                             ParseRecord<v1::StoredConfiguration>(*bytes));
  return std::optional<v1::StoredConfiguration>(std::move(c));
}

absl::StatusOr<std::vector<v1::ConfigurationChange>> ReadConfigurationChanges(
    const Store& store, const std::string& server, absl::Time since) {
  std::vector<v1::ConfigurationChange> out;
  const std::string prefix = ServerPrefix(server);
  SYNCWATCH_RETURN_IF_ERROR(
      Scan(store, Family::kConfigurationChanges, prefix, SinceKey(prefix, since),
           [&out](const rocksdb::Slice& value) -> absl::Status {
             SYNCWATCH_ASSIGN_OR_RETURN(v1::ConfigurationChange c,
                                        ParseRecord<v1::ConfigurationChange>(value));
             out.push_back(std::move(c));
             return absl::OkStatus();
           }));
  return out;
}

absl::StatusOr<std::vector<v1::ConfigurationDrift>> ComputeDrift(
    const Store& store, const std::vector<v1::ServerInfo>& servers) {
  struct Tenant {
    std::string name;
    std::string active;
    std::optional<v1::StoredConfiguration> reference;
    std::map<std::string, v1::StoredConfiguration> staging;
  };
  std::map<std::string, Tenant> tenants;
  for (const v1::ServerInfo& info : servers) {
    if (info.tenant().empty()) continue;
    const bool active = info.role() == v1::SERVER_ROLE_ACTIVE;
    if (!active && info.role() != v1::SERVER_ROLE_STAGING) continue;
    Tenant& t = tenants[absl::AsciiStrToLower(info.tenant())];
    if (active && t.reference) continue;
    SYNCWATCH_ASSIGN_OR_RETURN(std::optional<v1::StoredConfiguration> c,
                               ReadConfiguration(store, info.server()));
    if (!c) continue;
    if (active) {
      t.name = info.tenant();
      t.active = info.server();
      t.reference = std::move(c);
    } else {
      t.staging.emplace(info.server(), *std::move(c));
    }
  }
  std::vector<v1::ConfigurationDrift> out;
  for (const auto& [key, t] : tenants) {
    if (!t.reference) continue;
    for (const auto& [server, c] : t.staging) {
      for (v1::ConfigurationDrift& d : config::DriftBetween(
               t.name, t.active, t.reference->configuration(), server, c.configuration())) {
        out.push_back(std::move(d));
      }
    }
  }
  return out;
}

absl::StatusOr<config::DeleteEvidence> ReadDeleteEvidence(
    const Store& store, const v1::ServerInfo& info, const v1::PendingExportSnapshot& snapshot) {
  config::DeleteEvidence e;
  e.snapshot = snapshot;
  // A staging server never exports: look back at most kMaxEvidenceWindow
  // before the snapshot, so that an evaluation reads a bounded run history.
  absl::Time since = FromProtoTimestamp(snapshot.taken_at()) - kMaxEvidenceWindow;
  for (const v1::ConnectorState& c : info.connectors()) {
    if (c.connector() == snapshot.connector_name() && c.has_last_successful_export()) {
      since = std::max(since, FromProtoTimestamp(c.last_successful_export()));
    }
  }
  SYNCWATCH_ASSIGN_OR_RETURN(e.changes, ReadConfigurationChanges(store, info.server(), since));
  for (const v1::ConnectorState& c : info.connectors()) {
    const std::string prefix = ServerConnectorPrefix(info.server(), c.connector());
    SYNCWATCH_RETURN_IF_ERROR(Scan(store, Family::kRuns, prefix, SinceKey(prefix, since),
                                   [&e](const rocksdb::Slice& value) -> absl::Status {
                                     SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredRun r,
                                                                ParseRecord<v1::StoredRun>(value));
                                     const std::string kind = RunKind(r.run());
                                     if (kind == "import" || kind == "sync")
                                       e.runs.push_back(std::move(*r.mutable_run()));
                                     return absl::OkStatus();
                                   }));
  }
  return e;
}

}  // namespace syncwatch::collector
