#include "collector/storage/retention.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/storage/record_keys.h"
#include "common/key_codec.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "rocksdb/write_batch.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {
namespace {

absl::string_view View(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// When an export error last occurred; nullopt when the record carries no time.
std::optional<absl::Time> LastOccurrence(const v1::ExportError& e) {
  if (e.has_date_occurred()) return FromProtoTimestamp(e.date_occurred());
  if (e.has_first_occurred()) return FromProtoTimestamp(e.first_occurred());
  return std::nullopt;
}

// True when `bytes` is a StoredExportError that last occurred before `cutoff`.
// A record that does not parse is kept: deleting what cannot be read would
// hide the corruption that the query service reports.
bool ExportErrorIsOld(absl::string_view bytes, absl::Time cutoff) {
  v1::StoredExportError record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  const std::optional<absl::Time> last = LastOccurrence(record.error());
  return last.has_value() && *last < cutoff;
}

}  // namespace

absl::Status RetentionOptions::Validate() const {
  for (const auto& [name, d] : {std::pair<const char*, absl::Duration>{"runs", runs},
                                {"export_errors", export_errors},
                                {"snapshots", snapshots}}) {
    if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("retention.", name, " must be a positive duration or off"));
    }
  }
  if (interval <= absl::ZeroDuration() || interval == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("retention.interval must be a positive duration");
  }
  return absl::OkStatus();
}

namespace {

constexpr char kRetentionSettingsKey[] = "retention";

// `config` with the windows `o` sets.
RetentionOptions Apply(RetentionOptions config, const v1::RetentionWindows& o) {
  if (o.has_runs()) config.runs = FromProtoDuration(o.runs());
  if (o.has_export_errors()) config.export_errors = FromProtoDuration(o.export_errors());
  if (o.has_snapshots()) config.snapshots = FromProtoDuration(o.snapshots());
  return config;
}

}  // namespace

Retention::Retention(Store& store, Clock& clock, const RetentionOptions& options,
                     const Options& tuning)
    : store_(store), clock_(clock), config_(options), tuning_(tuning), options_(options) {}

RetentionOptions Retention::options() const {
  MutexLock lock(&settings_mu_);
  return options_;
}

std::optional<v1::RetentionOverride> Retention::override_windows() const {
  MutexLock lock(&settings_mu_);
  return override_;
}

absl::Status Retention::LoadOverride() {
  SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                             store_.Get(Family::kSettings, kRetentionSettingsKey));
  v1::RetentionOverride stored;
  if (bytes && !stored.ParseFromString(*bytes)) {
    return absl::DataLossError("the stored retention override does not parse");
  }
  const RetentionOptions in_force = Apply(config_, stored.windows());
  const std::string by =
      absl::StrCat(" (set by ", stored.changed_by(), " at ",
                   FormatIso8601(FromProtoTimestamp(stored.changed_at())), ", over the config's ");
  auto describe = [&by](const char* name, absl::Duration window, absl::Duration config,
                        bool overridden) {
    return overridden ? absl::StrCat(name, " ", FormatRetentionWindow(window), by,
                                     FormatRetentionWindow(config), ")")
                      : absl::StrCat(name, " ", FormatRetentionWindow(window), " (config)");
  };
  const v1::RetentionWindows& o = stored.windows();
  SYNCWATCH_LOG(
      kInfo, "retention: ", describe("runs", in_force.runs, config_.runs, o.has_runs()), ", ",
      describe("export_errors", in_force.export_errors, config_.export_errors,
               o.has_export_errors()),
      ", ", describe("snapshots", in_force.snapshots, config_.snapshots, o.has_snapshots()));
  MutexLock lock(&settings_mu_);
  options_ = in_force;
  if (bytes) override_ = std::move(stored);
  return absl::OkStatus();
}

absl::Status Retention::SetOverride(const v1::RetentionWindows& windows, const std::string& by,
                                    absl::Time now) {
  MutexLock lock(&settings_mu_);
  v1::RetentionOverride next = override_.value_or(v1::RetentionOverride());
  next.mutable_windows()->MergeFrom(windows);
  next.set_changed_by(by);
  *next.mutable_changed_at() = ToProtoTimestamp(now);
  RetentionOptions in_force = Apply(config_, next.windows());
  SYNCWATCH_RETURN_IF_ERROR(in_force.Validate());
  rocksdb::WriteBatch batch;
  batch.Put(store_.cf(Family::kSettings), kRetentionSettingsKey, next.SerializeAsString());
  SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  SYNCWATCH_LOG(kInfo, by, " set retention: runs ", FormatRetentionWindow(in_force.runs),
                ", export_errors ", FormatRetentionWindow(in_force.export_errors), ", snapshots ",
                FormatRetentionWindow(in_force.snapshots), " (from the next pass)");
  options_ = in_force;
  override_ = std::move(next);
  return absl::OkStatus();
}

absl::Status Retention::ClearOverride() {
  MutexLock lock(&settings_mu_);
  rocksdb::WriteBatch batch;
  batch.Delete(store_.cf(Family::kSettings), kRetentionSettingsKey);
  SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  SYNCWATCH_LOG(kInfo, "retention override removed: the config's windows apply again");
  options_ = config_;
  override_.reset();
  return absl::OkStatus();
}

Retention::~Retention() { Stop(); }

void Retention::Start() {
  // Due from now as the caller sees it, not from whenever the thread gets going.
  const absl::Time first_pass = clock_.Now() + tuning_.first_pass_delay;
  thread_ = std::thread([this, first_pass] { Run(first_pass); });
}

void Retention::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

bool Retention::Stopping() {
  MutexLock lock(&mu_);
  return stopping_;
}

void Retention::Run(absl::Time first_pass) {
  absl::Time next = first_pass;
  for (;;) {
    {
      MutexLock lock(&mu_);
      for (;;) {
        if (stopping_) return;
        const absl::Time now = clock_.Now();
        if (now >= next) {
          // Every `interval` from the start of this pass, however long it takes.
          next = now + config_.interval;
          break;
        }
        cv_.WaitFor(absl::ToChronoNanoseconds(std::min(next - now, tuning_.idle_poll)));
      }
    }
    // RunOnce logs and counts its own failures; the next pass retries.
    (void)RunOnce();
  }
}

absl::StatusOr<RetentionResult> Retention::RunOnce() {
  MutexLock pass(&pass_mu_);
  const absl::Time now = clock_.Now();
  // The windows in force when the pass starts (an admin may change them).
  const RetentionOptions windows = options();
  RetentionResult result;
  absl::Status first_error;
  // Each kind on its own: one that fails (e.g. a key that does not decode)
  // must not stop the others from being pruned.
  auto prune = [&](absl::Duration keep, uint64_t* deleted, auto&& fn) {
    if (keep == absl::ZeroDuration() || absl::IsCancelled(first_error)) return;
    absl::StatusOr<uint64_t> n = fn(now - keep);
    if (n.ok()) {
      *deleted = *n;
    } else if (first_error.ok()) {
      first_error = n.status();
    }
  };
  prune(windows.runs, &result.runs, [this](absl::Time cutoff) {
    return PruneTimeKeyed(Family::kRuns, cutoff, stats_.runs_deleted);
  });
  prune(windows.export_errors, &result.export_errors,
        [this](absl::Time cutoff) { return PruneExportErrors(cutoff); });
  prune(windows.snapshots, &result.snapshots, [this](absl::Time cutoff) {
    return PruneTimeKeyed(Family::kSnapshotHistory, cutoff, stats_.snapshots_deleted);
  });
  if (absl::IsCancelled(first_error)) return first_error;
  if (!first_error.ok()) {
    stats_.failures.fetch_add(1);
    SYNCWATCH_LOG(kError, "retention pass failed: ", first_error.ToString());
    return first_error;
  }
  stats_.passes.fetch_add(1);
  if (result.runs + result.export_errors + result.snapshots > 0) {
    SYNCWATCH_LOG(kInfo, "retention deleted ", result.runs, " runs, ", result.export_errors,
                  " export errors and ", result.snapshots, " snapshot history entries");
  }
  return result;
}

absl::StatusOr<uint64_t> Retention::PruneTimeKeyed(Family family, absl::Time cutoff,
                                                   std::atomic<uint64_t>& counter) {
  const std::string cutoff_component = KeyBuilder().Int64(absl::ToUnixMicros(cutoff)).Take();
  uint64_t total = 0;
  std::string resume;  // the first key not looked at yet
  for (;;) {
    if (Stopping()) return absl::CancelledError("retention stopped");
    // A fresh iterator per batch: a long pass does not pin old files, and it
    // sees what the writer committed meanwhile.
    std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(family, nullptr);
    it->Seek(resume);
    if (!it->Valid()) {
      SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "retention scan"));
      return total;
    }
    KeyReader reader(View(it->key()));
    std::string server;
    std::string connector;
    if (!reader.String(&server) || !reader.String(&connector)) {
      return absl::DataLossError(absl::StrCat("retention: a key of family ",
                                              static_cast<int>(family), " does not decode"));
    }
    // This connector's old records: [its first key, prefix + cutoff).
    const std::string prefix = ServerConnectorPrefix(server, connector);
    const std::string old_end = prefix + cutoff_component;
    const std::string first = it->key().ToString();
    std::string batch_end = old_end;
    uint64_t n = 0;
    bool more = false;
    for (; it->Valid() && it->key().compare(old_end) < 0; it->Next()) {
      if (n == tuning_.max_batch) {
        batch_end = it->key().ToString();
        more = true;
        break;
      }
      ++n;
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "retention scan"));
    if (n > 0) {
      // One range tombstone instead of n point deletes. Whatever the writer
      // adds inside the range meanwhile is as old, so deleting it too is right.
      rocksdb::WriteBatch batch;
      batch.DeleteRange(store_.cf(family), first, batch_end);
      SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
      total += n;
      counter.fetch_add(n);
    }
    // Newer records of the connector are skipped without being read.
    resume = more ? batch_end : PrefixUpperBound(prefix);
  }
}

absl::StatusOr<uint64_t> Retention::PruneExportErrors(absl::Time cutoff) {
  uint64_t total = 0;
  std::string resume;
  for (bool done = false; !done;) {
    if (Stopping()) return absl::CancelledError("retention stopped");
    std::vector<std::string> old_keys;
    {
      std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Family::kExportErrors, nullptr);
      size_t scanned = 0;
      for (it->Seek(resume); it->Valid() && scanned < tuning_.max_batch; it->Next(), ++scanned) {
        if (ExportErrorIsOld(View(it->value()), cutoff)) old_keys.push_back(it->key().ToString());
      }
      SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "retention scan"));
      done = !it->Valid();
      if (!done) resume = it->key().ToString();
    }
    rocksdb::WriteBatch batch;
    uint64_t n = 0;
    for (const std::string& key : old_keys) {
      // Read again just before deleting: the writer may have stored a new
      // occurrence since the scan, which must survive. (One arriving between
      // this read and the write below would still go; the agent reports a
      // live error again with its next run.)
      SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> current,
                                 store_.Get(Family::kExportErrors, key));
      if (!current || !ExportErrorIsOld(*current, cutoff)) continue;
      batch.Delete(store_.cf(Family::kExportErrors), key);
      ++n;
    }
    if (n > 0) {
      SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
      total += n;
      stats_.export_errors_deleted.fetch_add(n);
    }
  }
  return total;
}

}  // namespace syncwatch::collector
