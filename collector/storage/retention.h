// Retention by age: deletes runs, export errors and snapshot history older
// than their window, in the background, without stopping ingest.
//
// Deletes go through Store::Write in small WriteBatches (at most
// Options::max_batch records each), next to the StorageWriter's group commits;
// nothing the writer waits for is held meanwhile. What is kept:
//  - runs: by start time (the key holds it, so per (server, connector) the old
//    runs form one key range, deleted with range deletes and no value decoded);
//  - export_errors: by last occurrence (date_occurred, else first_occurred);
//    keys are not time ordered, so the family is scanned. Each old record is
//    read again just before its delete, so a new occurrence stored since the
//    scan survives (one committed between that read and the delete is lost
//    until the agent reports it again: the Store has no conditional delete).
//    An error with neither time is kept;
//  - snapshot_history: by taken_at (in the key, as for runs). The snapshots
//    family (the latest snapshot per connector) is current state and kept.
// servers, agent_marks, alerts and alert_outbox are never touched.
//
// An admin may change the three windows at run time (Admin.SetRetention):
// the change is stored in the `settings` family first, then used from the next
// pass, and after a restart it takes precedence over the YAML window by
// window (the start-up log says which windows come from where) until it is
// reset.
#ifndef SYNCWATCH_COLLECTOR_STORAGE_RETENTION_H_
#define SYNCWATCH_COLLECTOR_STORAGE_RETENTION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/storage/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "syncwatch/v1/admin.pb.h"

namespace syncwatch::collector {

// How long records are kept (YAML `retention:`). A zero duration keeps that
// kind forever (`off` or `0` in the YAML).
struct RetentionOptions {
  // Runs that started longer ago than this are deleted. Default: 400 days
  // (the engine keeps far less; a year lets runs be compared across one).
  absl::Duration runs = absl::Hours(24 * 400);
  // Export errors whose last occurrence is older than this are deleted (an
  // error still reported keeps getting newer). Default: 400 days.
  absl::Duration export_errors = absl::Hours(24 * 400);
  // Pending-export snapshot history older than this is deleted; the latest
  // snapshot of each connector is kept whatever its age. Default: 90 days.
  absl::Duration snapshots = absl::Hours(24 * 90);
  // Time between passes (the first one runs shortly after start). Default: 1h.
  absl::Duration interval = absl::Hours(1);

  // OK, or InvalidArgument naming the setting ("retention.runs", ...).
  absl::Status Validate() const;
};

// What one pass deleted.
struct RetentionResult {
  uint64_t runs = 0;
  uint64_t export_errors = 0;
  uint64_t snapshots = 0;
};

// Counters for /metrics; monotonic.
struct RetentionStats {
  std::atomic<uint64_t> runs_deleted{0};
  std::atomic<uint64_t> export_errors_deleted{0};
  // snapshot_history entries.
  std::atomic<uint64_t> snapshots_deleted{0};
  // Passes that completed, and passes that failed (retried at the next one).
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> failures{0};
};

// Thread-safe.
class Retention {
 public:
  struct Options {
    // Delay of the first background pass after Start(), so that it does not
    // compete with agents catching up after a restart. Default: 1m.
    absl::Duration first_pass_delay = absl::Minutes(1);
    // Longest sleep of the thread between looks at the clock (a FakeClock
    // only moves when a test says so). Default: 1s.
    absl::Duration idle_poll = absl::Seconds(1);
    // Most records read, and deleted, per WriteBatch. Default: 1000.
    size_t max_batch = 1000;
  };

  // `options` must be valid (RetentionOptions::Validate). `store` and `clock`
  // must outlive the Retention.
  Retention(Store& store, Clock& clock, const RetentionOptions& options, const Options& tuning);
  // Stop().
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // Starts the background thread: a pass first_pass_delay after now, then one
  // every `interval`. Call at most once.
  void Start();
  // Stops the thread promptly (a pass in progress ends after its current
  // batch); later RunOnce calls return Cancelled. Idempotent.
  void Stop();

  // One pass over every kind, on the caller's thread (serialised with the
  // background pass). Returns what it deleted, or the first error (the other
  // kinds are still pruned; what was deleted before stays deleted and is
  // counted in stats()), or Cancelled when stopped meanwhile.
  absl::StatusOr<RetentionResult> RunOnce();

  const RetentionStats& stats() const { return stats_; }

  // The windows in force: the YAML's, with an admin's override on top.
  RetentionOptions options() const;
  // The windows from the YAML (or the defaults).
  const RetentionOptions& config() const { return config_; }
  // What an admin set, when anything.
  std::optional<v1::RetentionOverride> override_windows() const;

  // Puts the override stored by an earlier SetOverride in force and logs the
  // windows and where each comes from. Call before Start(). DataLoss when the
  // stored override does not parse.
  absl::Status LoadOverride();
  // Sets the windows of `windows` that are set (a zero duration keeps that
  // kind forever), keeping the others, as `by` at `now`: stored, then used
  // from the next pass. InvalidArgument, naming the window, for a negative
  // one; nothing changes then.
  absl::Status SetOverride(const v1::RetentionWindows& windows, const std::string& by,
                           absl::Time now);
  // Drops the override: the YAML's windows from the next pass.
  absl::Status ClearOverride();

 private:
  void Run(absl::Time first_pass);
  bool Stopping();
  // Deletes the keys of `family` (server, connector, time µs, ...) whose time
  // is before `cutoff`; returns how many.
  absl::StatusOr<uint64_t> PruneTimeKeyed(Family family, absl::Time cutoff,
                                          std::atomic<uint64_t>& counter);
  absl::StatusOr<uint64_t> PruneExportErrors(absl::Time cutoff);

  Store& store_;
  Clock& clock_;
  // The YAML's windows; interval always comes from here.
  const RetentionOptions config_;
  const Options tuning_;
  RetentionStats stats_;

  // Serialises passes (the thread's and a caller's).
  Mutex pass_mu_;

  // Serialises changes of the override; guards what is in force.
  mutable Mutex settings_mu_;
  RetentionOptions options_ ABSL_GUARDED_BY(settings_mu_);
  std::optional<v1::RetentionOverride> override_ ABSL_GUARDED_BY(settings_mu_);

  Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_RETENTION_H_
