#include "collector/store.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"

namespace syncwatch::collector {
namespace {

constexpr const char* kFamilyNames[] = {"servers",          "runs",          "snapshots",
                                        "snapshot_history", "export_errors", "agent_marks",
                                        "alerts",           "alert_outbox"};
static_assert(sizeof(kFamilyNames) / sizeof(kFamilyNames[0]) ==
              static_cast<size_t>(Family::kCount));

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
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.compression = rocksdb::kLZ4Compression;
  rocksdb::BlockBasedTableOptions table;
  table.cache_index_and_filter_blocks = true;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const char* name : kFamilyNames) descriptors.emplace_back(name, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) return FromRocksStatus(s, absl::StrCat("open collector store ", path));
  // handles[0] is the default family, which we do not use; keep ours in enum order.
  rocksdb::ColumnFamilyHandle* default_handle = handles.front();
  handles.erase(handles.begin());
  (void)db->DestroyColumnFamilyHandle(default_handle);  // never fails for a valid handle
  return std::unique_ptr<Store>(new Store(std::move(db), std::move(handles), options));
}

Store::Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
             const Options& options)
    : options_(options), db_(std::move(db)), handles_(std::move(handles)) {}

Store::~Store() {
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    (void)db_->DestroyColumnFamilyHandle(h);  // best effort at shutdown
  }
  (void)db_->Close();  // the WAL is synced per write; nothing left to lose here
}

absl::Status Store::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  return FromRocksStatus(db_->Write(wo, batch), "write");
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

}  // namespace syncwatch::collector
