#include "collector/storage/store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/key_codec.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "syncwatch/v1/admin.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {
namespace {

// clang-format off
constexpr const char* kFamilyNames[] = {
    "servers",     "runs",   "snapshots",    "snapshot_history", "export_errors",
    "agent_marks", "alerts", "alert_outbox", "silences",         "settings",
    "configurations", "configuration_history", "configuration_changes"};
// clang-format on
static_assert(sizeof(kFamilyNames) / sizeof(kFamilyNames[0]) ==
              static_cast<size_t>(Family::kCount));

rocksdb::ColumnFamilyOptions FamilyOptions() {
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.compression = rocksdb::kLZ4Compression;
  rocksdb::BlockBasedTableOptions table;
  table.cache_index_and_filter_blocks = true;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf_options;
}

// The default family first, then ours in enum order.
std::vector<rocksdb::ColumnFamilyDescriptor> FamilyDescriptors() {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, FamilyOptions());
  for (const char* name : kFamilyNames) descriptors.emplace_back(name, FamilyOptions());
  return descriptors;
}

template <typename Message>
bool Parses(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  (void)key;
  Message m;
  return m.ParseFromArray(value.data(), static_cast<int>(value.size()));
}

bool AgentMarkDecodes(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  KeyReader k(absl::string_view(key.data(), key.size()));
  std::string agent_id;
  std::string epoch;
  KeyReader v(absl::string_view(value.data(), value.size()));
  uint64_t seq = 0;
  return k.String(&agent_id) && k.String(&epoch) && k.done() && v.Uint64(&seq) && v.done();
}

using RecordCheck = std::function<bool(const rocksdb::Slice& key, const rocksdb::Slice& value)>;

// How each family's values are checked (the default family holds nothing).
RecordCheck CheckFor(absl::string_view family) {
  if (family == "servers") return Parses<v1::ServerInfo>;
  if (family == "runs") return Parses<v1::StoredRun>;
  if (family == "snapshots" || family == "snapshot_history")
    return Parses<v1::StoredPendingExports>;
  if (family == "export_errors") return Parses<v1::StoredExportError>;
  if (family == "agent_marks") return AgentMarkDecodes;
  if (family == "alerts" || family == "alert_outbox") return Parses<v1::Alert>;
  if (family == "silences") return Parses<v1::Silence>;
  if (family == "settings") return Parses<v1::RetentionOverride>;
  if (family == "configurations" || family == "configuration_history") {
    return Parses<v1::StoredConfiguration>;
  }
  if (family == "configuration_changes") return Parses<v1::ConfigurationChange>;
  return [](const rocksdb::Slice&, const rocksdb::Slice&) { return true; };
}

std::string HexKey(const rocksdb::Slice& key) {
  constexpr size_t kMax = 48;
  return absl::BytesToHexString(absl::string_view(key.data(), std::min(key.size(), kMax)));
}

}  // namespace

absl::Status FromRocksStatus(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(context, ": ", s.ToString());
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace) {
    return absl::ResourceExhaustedError(absl::StrCat(msg, " (collector disk full)"));
  }
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const Options& options) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create data dir ", path, ": ", ec.message()));
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 5;
  // One thread (the storage writer's commit thread) makes nearly every write.
  // When another write (alert state, retention) joins its write group, the
  // concurrent path would insert the whole group without the skip list's
  // sequential-insert hint, at about three times the cost per record.
  db_options.allow_concurrent_memtable_write = false;

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, FamilyDescriptors(), &handles, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) return FromRocksStatus(s, absl::StrCat("open collector store ", path));
  // handles[0] is the default family, which we do not use; keep ours in enum order.
  rocksdb::ColumnFamilyHandle* default_handle = handles.front();
  handles.erase(handles.begin());
  (void)db->DestroyColumnFamilyHandle(default_handle);  // never fails for a valid handle
  return std::unique_ptr<Store>(new Store(std::move(db), std::move(handles), path, options));
}

Store::Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
             const std::string& path, const Options& options)
    : options_(options),
      min_free_bytes_(options.min_free_bytes),
      path_(path),
      db_(std::move(db)),
      handles_(std::move(handles)) {}

Store::~Store() {
  // Table files carry their family's name, WAL records only its id (kept in
  // the MANIFEST): flushing at shutdown lets RepairDB recover every family
  // should the MANIFEST later be damaged.
  (void)db_->Flush(rocksdb::FlushOptions(), handles_);  // best effort; the WAL has it all
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    (void)db_->DestroyColumnFamilyHandle(h);  // best effort at shutdown
  }
  (void)db_->Close();  // the WAL is synced per write; nothing left to lose here
}

absl::Status Store::CheckFreeSpace() const {
  const uint64_t min_free_bytes = min_free_bytes_.load();
  if (min_free_bytes == 0) return absl::OkStatus();
  struct statvfs fs;
  if (statvfs(path_.c_str(), &fs) != 0) return absl::OkStatus();  // RocksDB will tell
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= min_free_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "collector disk full: ", path_, ": ", free_bytes, " bytes free, below ",
      "min_free_disk_bytes (", min_free_bytes, "); refusing batches until space is freed"));
}

absl::Status Store::Write(rocksdb::WriteBatch* batch) {
  SYNCWATCH_RETURN_IF_ERROR(CheckFreeSpace());
  if (absl::Status resumed = MaybeResume(); !resumed.ok()) return resumed;
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  rocksdb::Status s = db_->Write(wo, batch);
  MutexLock lock(&resume_mu_);
  if (s.ok()) {
    if (write_failed_) SYNCWATCH_LOG(kInfo, "collector store ", path_, " writable again");
    write_failed_ = false;
    return absl::OkStatus();
  }
  write_failed_ = true;
  return WriteError(s);
}

absl::Status Store::WriteError(const rocksdb::Status& s) const {
  absl::Status st = FromRocksStatus(s, "write");
  if (st.code() != absl::StatusCode::kResourceExhausted) return st;
  return absl::ResourceExhaustedError(absl::StrCat("collector disk full: ", path_, ": ",
                                                   s.ToString(),
                                                   "; refusing batches until space is freed"));
}

absl::Status Store::MaybeResume() {
  MutexLock lock(&resume_mu_);
  if (!write_failed_) return absl::OkStatus();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_resume_ >= std::chrono::seconds(1)) {
    last_resume_ = now;
    // Clears RocksDB's background error (after a failed write it refuses
    // every write) once the cause is gone; flushes the memtables first.
    last_resume_status_ = db_->Resume();
  }
  return last_resume_status_.ok() ? absl::OkStatus() : WriteError(last_resume_status_);
}

absl::StatusOr<std::optional<std::string>> Store::Get(Family f, absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(f), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocksStatus(s, "read");
  return std::optional<std::string>(std::move(value));
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(Family f,
                                                      const rocksdb::Slice* upper_bound) const {
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = upper_bound;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf(f)));
}

uint64_t Store::ApproximateSizeBytes() const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
  }
  return total;
}

absl::StatusOr<StoreCheckReport> CheckStore(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec)) {
    return absl::NotFoundError(absl::StrCat("no collector store in ", path, " (no CURRENT file)"));
  }
  StoreCheckReport report;
  rocksdb::Options options;
  options.paranoid_checks = true;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, path, &names);
  if (!s.ok()) {
    report.problems.push_back(absl::StrCat("cannot read the store's MANIFEST: ", s.ToString()));
    return report;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, FamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) {
    report.problems.push_back(absl::StrCat("cannot open the store: ", s.ToString()));
    return report;
  }
  s = db->VerifyChecksum();
  if (!s.ok()) report.problems.push_back(absl::StrCat("checksum: ", s.ToString()));
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    StoreCheckReport::FamilyCount count{h->GetName()};
    const RecordCheck check = CheckFor(count.family);
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++count.records;
      if (!check(it->key(), it->value())) {
        ++count.bad;
        report.problems.push_back(absl::StrCat(count.family, ": the record under key ",
                                               HexKey(it->key()), " does not parse"));
      }
    }
    if (!it->status().ok()) {
      report.problems.push_back(
          absl::StrCat(count.family, ": reading stopped: ", it->status().ToString()));
    }
    report.families.push_back(std::move(count));
  }
  // A family that is absent (e.g. empty when RepairDB rebuilt the MANIFEST)
  // is no problem: the collector creates it at start-up.
  for (rocksdb::ColumnFamilyHandle* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  return report;
}

absl::Status RepairStore(const std::string& path) {
  rocksdb::Options options;
  return FromRocksStatus(
      rocksdb::RepairDB(path, rocksdb::DBOptions(options), FamilyDescriptors(), FamilyOptions()),
      absl::StrCat("repair collector store ", path));
}

}  // namespace syncwatch::collector
