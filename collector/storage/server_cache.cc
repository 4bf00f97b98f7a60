#include "collector/storage/server_cache.h"

#include <optional>
#include <utility>

#include "collector/state/server_state.h"
#include "collector/storage/record_keys.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::collector {

ServerEntry::ServerEntry(v1::ServerInfo stored)
    : health(stored),
      reported_threshold(ReportedThreshold(stored)),
      last_seen_us(ToUnixMicrosOrZero(stored.last_seen())),
      tenant_group(TenantGroup(stored)),
      record(std::move(stored)) {
  // The query-time fields are never stored; cleared anyway, since both the
  // fleet summary's bytes and GetServer's merge add them after the record's.
  record.clear_deletion_threshold();
  record.clear_deletion_threshold_enabled();
  record.clear_open_alerts();
  record.clear_open_critical_alerts();
  record.clear_health();
  record.clear_health_reasons();
  // The connectors are set aside for the serialization, not copied.
  google::protobuf::RepeatedPtrField<v1::ConnectorState> connectors;
  connectors.Swap(record.mutable_connectors());
  summary_bytes = record.SerializeAsString();
  connectors.Swap(record.mutable_connectors());
}

void TenantThresholds::Add(const ServerEntry& entry) {
  if (!entry.reported_threshold.known) return;
  auto [it, inserted] = latest_.try_emplace(entry.tenant_group, &entry);
  if (!inserted && entry.last_seen_us > it->second->last_seen_us) it->second = &entry;
}

const ThresholdSource& TenantThresholds::For(const ServerEntry& entry) const {
  static const ThresholdSource kUnknown;
  if (entry.reported_threshold.known) return entry.reported_threshold;
  if (!entry.record.tenant().empty()) {
    auto it = latest_.find(entry.tenant_group);
    if (it != latest_.end()) return it->second->reported_threshold;
  }
  return kUnknown;
}

absl::StatusOr<ServerRecords> ReadServerRecords(const Store& store) {
  ServerRecords out;
  auto it = store.NewIterator(Family::kServers, nullptr);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::ServerInfo info, ParseRecord<v1::ServerInfo>(it->value()));
    out.push_back(std::make_shared<const ServerEntry>(std::move(info)));
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read servers"));
  return out;
}

void ServerCache::MarkChanged(const std::string& server) {
  MutexLock lock(&mu_);
  if (loaded_) changed_.insert(server);
}

absl::StatusOr<ServerRecords> ServerCache::All() {
  MutexLock lock(&mu_);
  if (!loaded_) {
    SYNCWATCH_ASSIGN_OR_RETURN(ServerRecords all, ReadServerRecords(store_));
    for (auto& entry : all) records_[entry->record.server()] = std::move(entry);
    loaded_ = true;
  }
  for (auto it = changed_.begin(); it != changed_.end(); it = changed_.erase(it)) {
    SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                               store_.Get(Family::kServers, ServerKey(*it)));
    if (!bytes) {
      records_.erase(*it);
      continue;
    }
    SYNCWATCH_ASSIGN_OR_RETURN(v1::ServerInfo info, ParseRecord<v1::ServerInfo>(*bytes));
    records_[*it] = std::make_shared<const ServerEntry>(std::move(info));
  }
  ServerRecords out;
  out.reserve(records_.size());
  for (const auto& [name, record] : records_) out.push_back(record);
  return out;
}

}  // namespace syncwatch::collector
