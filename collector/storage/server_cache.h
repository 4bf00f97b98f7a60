// The server records (v1::ServerInfo, the `servers` family) as last committed,
// kept in memory so that neither the fleet view nor the alert engine reads and
// parses every record each time: the writer's commit observer marks the
// servers a commit touched, and the next read re-reads only those.
#ifndef SYNCWATCH_COLLECTOR_STORAGE_SERVER_CACHE_H_
#define SYNCWATCH_COLLECTOR_STORAGE_SERVER_CACHE_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/state/server_state.h"
#include "collector/storage/store.h"
#include "common/mutex.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {

// A server record as stored, with what every reader derives from it, worked
// out once per change of the record rather than once per query. What a fleet
// query reads of every server comes first, close together: the records are
// kilobytes each, and reading 2,000 of them per query is mostly cache misses.
struct ServerEntry {
  explicit ServerEntry(v1::ServerInfo stored);

  // HealthInputs(record).
  HealthInputs health;
  // ReportedThreshold(record).
  ThresholdSource reported_threshold;
  // record.last_seen in microseconds since the epoch (0 when unset).
  int64_t last_seen_us = 0;
  // TenantGroup(record).
  std::string tenant_group;
  // The record without its connectors (most of its size), serialized: what
  // the fleet summary lists, to which it appends the query-time fields.
  std::string summary_bytes;
  v1::ServerInfo record;
};

// The threshold lives in the tenant, so any agent of the tenant may report
// it: a server's own report wins, else the peer heard from last. Built once
// over every server entry, then asked per server in O(1). Refers to the
// entries added, which must outlive it.
class TenantThresholds {
 public:
  void Add(const ServerEntry& entry);
  // The threshold that applies to `entry`'s server (known false when no
  // agent of its tenant reported one); valid while the entries are.
  const ThresholdSource& For(const ServerEntry& entry) const;

 private:
  // Tenant group (viewing the entry's) -> the entry of the report heard last.
  absl::flat_hash_map<absl::string_view, const ServerEntry*> latest_;
};

// Every server, in name order. Entries are shared and never change once
// handed out (a newer commit replaces the pointer).
using ServerRecords = std::vector<std::shared_ptr<const ServerEntry>>;

// Reads every server record from `store`, in name order.
absl::StatusOr<ServerRecords> ReadServerRecords(const Store& store);

// Thread-safe.
class ServerCache {
 public:
  // `store` must outlive the cache.
  explicit ServerCache(const Store& store) : store_(store) {}

  // `server`'s record changed (cheap: called on the writer's commit thread).
  void MarkChanged(const std::string& server);

  // Every record, in name order: the first call reads them all, later calls
  // re-read only those marked changed since.
  absl::StatusOr<ServerRecords> All();

 private:
  const Store& store_;
  Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> changed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const ServerEntry>> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_SERVER_CACHE_H_
