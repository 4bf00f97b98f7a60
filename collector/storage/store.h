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
//   silences          silence id                              -> v1::Silence
//   settings          "retention"                             -> v1::RetentionOverride
//   configurations    server                                  -> StoredConfiguration (latest)
//   configuration_history  server, taken_at µs, digest        -> StoredConfiguration
//   configuration_changes  server, detected_at µs, digest, n  -> ConfigurationChange
//
// The alerts and alert_outbox families are written by the alert engine
// (collector/alerts/), not by the StorageWriter: they hold no agent data, and an
// alert transition and its notifications must commit together. silences are
// written by the AlertStore too; settings by the admin actions (retention.h).
#ifndef SYNCWATCH_COLLECTOR_STORAGE_STORE_H_
#define SYNCWATCH_COLLECTOR_STORAGE_STORE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
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
  kSilences,
  kSettings,
  kConfigurations,
  kConfigurationHistory,
  kConfigurationChanges,
  kCount,  // not a family
};

// rocksdb::Status -> absl::Status (the only place this happens). No space left
// on the device becomes ResourceExhausted, corruption DataLoss, I/O errors
// Unavailable. `context` prefixes the message.
absl::Status FromRocksStatus(const rocksdb::Status& s, absl::string_view context);

// A stored record parsed; DataLoss naming the record's type when the bytes do
// not parse.
template <typename Record>
absl::StatusOr<Record> ParseRecord(absl::string_view bytes) {
  Record r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("a stored ", Record::descriptor()->name(), " does not parse"));
  }
  return r;
}
template <typename Record>
absl::StatusOr<Record> ParseRecord(const rocksdb::Slice& bytes) {
  return ParseRecord<Record>(absl::string_view(bytes.data(), bytes.size()));
}
template <typename Record>
absl::StatusOr<Record> ParseRecord(const std::string& bytes) {
  return ParseRecord<Record>(absl::string_view(bytes));
}

// Thread-safe (RocksDB is); writes of agent data should come from one thread
// (StorageWriter), writes of the alert families from the alert engine.
class Store {
 public:
  struct Options {
    // fsync every write before it is acknowledged. Turning this off trades the
    // last few seconds of acked events on power loss (not on process crash)
    // for throughput. Default: true.
    bool sync_writes = true;
    // Writes are refused with ResourceExhausted ("collector disk full") while
    // the data dir's file system has less free space than this, before
    // RocksDB itself runs out: a write that fails inside RocksDB for want of
    // space leaves the store unusable until restart (Debian's build asserts).
    // 0 turns the check off. Default: 0 (the collector sets its own).
    uint64_t min_free_bytes = 0;
  };

  // Opens or creates the store in `path` (created with parents if missing).
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  rocksdb::ColumnFamilyHandle* cf(Family f) const { return handles_[static_cast<size_t>(f)]; }

  // Commits `batch` atomically (and durably when sync_writes). When the disk
  // is full this is ResourceExhausted, "collector disk full: <data dir>: ...",
  // and nothing of `batch` is stored. RocksDB then refuses every write until
  // it is resumed: a write after a failed one first calls DB::Resume (at most
  // once a second), so writes succeed again once space has been freed.
  absl::Status Write(rocksdb::WriteBatch* batch);

  // The value under `key`, nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Get(Family f, absl::string_view key) const;

  // An iterator over one family; `upper_bound` (may be empty for none) must
  // outlive the iterator.
  std::unique_ptr<rocksdb::Iterator> NewIterator(Family f, const rocksdb::Slice* upper_bound) const;

  // Changes Options::min_free_bytes (tests use it to make writes fail).
  void SetMinFreeBytes(uint64_t bytes) { min_free_bytes_.store(bytes); }

  // Approximate bytes in SST files, for metrics.
  uint64_t ApproximateSizeBytes() const;

 private:
  Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
        const std::string& path, const Options& options);

  // ResourceExhausted when the file system has less than min_free_bytes free.
  absl::Status CheckFreeSpace() const;
  // Resumes RocksDB after a failed write, at most once a second; the status
  // of the last attempt (OK when there was nothing to resume).
  absl::Status MaybeResume();
  absl::Status WriteError(const rocksdb::Status& s) const;

  Options options_;
  std::atomic<uint64_t> min_free_bytes_;
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  Mutex resume_mu_;
  bool write_failed_ ABSL_GUARDED_BY(resume_mu_) = false;
  std::chrono::steady_clock::time_point last_resume_ ABSL_GUARDED_BY(resume_mu_);
  rocksdb::Status last_resume_status_ ABSL_GUARDED_BY(resume_mu_);
};

// What CheckStore found: records per family and every problem, each naming
// the family (and the key, in hex, when one record is at fault).
struct StoreCheckReport {
  struct FamilyCount {
    std::string family;
    uint64_t records = 0;
    uint64_t bad = 0;
  };
  std::vector<FamilyCount> families;
  std::vector<std::string> problems;
  bool healthy() const { return problems.empty(); }
};

// Opens the store in `path` read-only (paranoid checks), verifies every
// block's checksum and parses every record of every family. An error only
// when the store cannot be looked at at all (e.g. no store there); a store
// that opens with corruption is a report with problems.
absl::StatusOr<StoreCheckReport> CheckStore(const std::string& path);

// rocksdb::RepairDB on `path` with the store's families: keeps every record
// it can still read and drops the rest. The collector must not be running.
absl::Status RepairStore(const std::string& path);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_STORE_H_
