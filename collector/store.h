// The collector's RocksDB: one column family per kind of record, keys from
// key_codec.h, values serialized protos from query.proto.
//
//   servers           server                                  -> ServerInfo
//   runs              server, connector, start µs, run key    -> StoredRun
//   snapshots         server, connector                       -> StoredPendingExports (latest)
//   snapshot_history  server, connector, taken_at µs          -> StoredPendingExports (counts only)
//   export_errors     server, connector, cs-guid|dn, type      -> StoredExportError (latest)
//   agent_marks       agent id, spool epoch                   -> fixed64 stored seq
//   alerts            scope, fingerprint                      -> v1::Alert (state, lifecycle)
//   alert_outbox      receiver id, seq                        -> v1::Alert (one notification)
//
// The alerts and alert_outbox families are written by the alert engine
// (collector/alerts/), not by the StorageWriter: they hold no agent data, and an
// alert transition and its notifications must commit together.
#ifndef SYNCWATCH_COLLECTOR_STORE_H_
#define SYNCWATCH_COLLECTOR_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace syncwatch::collector {

enum class Family {
  kServers = 0,
  kRuns,
  kSnapshots,
  kSnapshotHistory,
  kExportErrors,
  kAgentMarks,
  kAlerts,
  kAlertOutbox,
  kCount,  // not a family
};

// rocksdb::Status -> absl::Status (the only place this happens). No space left
// on the device becomes ResourceExhausted, corruption DataLoss, I/O errors
// Unavailable. `context` prefixes the message.
absl::Status FromRocksStatus(const rocksdb::Status& s, absl::string_view context);

// Thread-safe (RocksDB is); writes of agent data should come from one thread
// (StorageWriter), writes of the alert families from the alert engine.
class Store {
 public:
  struct Options {
    // fsync every write before it is acknowledged. Turning this off trades the
    // last few seconds of acked events on power loss (not on process crash)
    // for throughput. Default: true.
    bool sync_writes = true;
  };

  // Opens or creates the store in `path` (created with parents if missing).
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  rocksdb::ColumnFamilyHandle* cf(Family f) const { return handles_[static_cast<size_t>(f)]; }

  // Commits `batch` atomically (and durably when sync_writes).
  absl::Status Write(rocksdb::WriteBatch* batch);

  // The value under `key`, nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Get(Family f, absl::string_view key) const;

  // An iterator over one family; `upper_bound` (may be empty for none) must
  // outlive the iterator.
  std::unique_ptr<rocksdb::Iterator> NewIterator(Family f, const rocksdb::Slice* upper_bound) const;

  // Approximate bytes in SST files, for metrics.
  uint64_t ApproximateSizeBytes() const;

 private:
  Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
        const Options& options);

  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORE_H_
