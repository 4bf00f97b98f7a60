// Alert state and the notification outbox, in the collector's RocksDB
// (families `alerts` and `alert_outbox`, see collector/storage/store.h).
//
// A state change and the notifications it causes are written in one atomic
// batch, so a crash neither loses a notification nor sends one for a change
// that was not stored; after a restart, evaluating the same facts finds the
// alerts already firing and changes nothing (no re-fire). A notification is
// removed from the outbox only after its receiver accepted it: delivery is at
// least once (a crash between the receiver's answer and the removal repeats
// that one notification).
//
// Admin actions (Admin service) live here too, because they touch the same
// records under the same lock:
//  - An ack (who, when, comment) is stored on a firing alert's record; it
//    stays while the alert fires and a new firing episode starts without one.
//    It changes no notification.
//  - Silences (family `silences`) match alerts by server, tenant and name.
//    While one matches, a state change is stored but not queued for the
//    receivers (and firing alerts are not re-sent); the record says
//    `notification_withheld`. When the last matching silence ends (its time is
//    up, EndExpiredSilences, or it is deleted), what the receivers missed is
//    queued then, in the same write that ends the silence: the alert's firing
//    state when it still fires (Alertmanager's behaviour: it notifies when a
//    silence ends on a firing alert), its resolution when the receivers had
//    been told it fires, nothing when they never heard of the episode.
#ifndef SYNCWATCH_COLLECTOR_ALERTS_ALERT_STORE_H_
#define SYNCWATCH_COLLECTOR_ALERTS_ALERT_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/state/server_state.h"
#include "collector/storage/store.h"
#include "common/mutex.h"
#include "syncwatch/v1/admin.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::alerts {

// One queued notification: the alert as it was when its state changed.
struct OutboxEntry {
  uint64_t seq = 0;
  v1::Alert alert;
};

// Thread-safe: the evaluator and the deliverers share one instance; every
// read-modify-write of an alert record happens under its mutex.
class AlertStore {
 public:
  // `store` must outlive the AlertStore. Every state change is queued for each
  // of `receivers` (ids; see Receiver::id()). Outbox entries of receivers no
  // longer configured are dropped (and logged).
  static absl::StatusOr<std::unique_ptr<AlertStore>> Open(Store& store,
                                                          std::vector<std::string> receivers);
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  struct Changes {
    int fired = 0;
    int resolved = 0;
    // Firing alerts whose annotations changed (no notification).
    int updated = 0;
    // State changes not queued because a silence matched.
    int withheld = 0;
  };

  // Makes the alerts of `scope` whose names are in `owned` match `current`
  // (what the rules say should fire now): a current alert not firing yet
  // fires (a new episode: started_at = now; first_seen kept from an earlier
  // episode), a firing one keeps its lifecycle and takes the new annotations,
  // and a firing alert of an owned name that is not current resolves. Firing
  // and resolving queue a notification per receiver, in the same write.
  absl::StatusOr<Changes> Reconcile(const std::string& scope, const std::set<std::string>& owned,
                                    const std::vector<v1::Alert>& current, absl::Time now);

  // Alerts of `scope` ("" for every scope), in key order, optionally only
  // those in `state`.
  absl::StatusOr<std::vector<v1::Alert>> List(const std::string& scope,
                                              std::optional<v1::AlertState> state) const;

  // What the fleet view needs of every alert firing now, in key order
  // (scope, fingerprint). From memory: cheap enough for each fleet query.
  std::vector<FiringAlert> Firing() const;

  // The names of the alerts of `scope` firing now. From memory: the
  // evaluator asks it for every server it evaluates.
  std::set<std::string> FiringNames(const std::string& scope) const;

  // The scopes that hold at least one alert.
  absl::StatusOr<std::set<std::string>> Scopes() const;

  // The stored alert, nullopt when there is none.
  absl::StatusOr<std::optional<v1::Alert>> Get(const std::string& scope,
                                               const std::string& fingerprint) const;

  // The oldest (at most `max`) notifications queued for `receiver`.
  absl::StatusOr<std::vector<OutboxEntry>> PeekOutbox(const std::string& receiver,
                                                      size_t max) const;

  // Removes `delivered` from `receiver`'s queue and records `now` as the
  // alerts' last delivery.
  absl::Status CompleteOutbox(const std::string& receiver,
                              const std::vector<OutboxEntry>& delivered, absl::Time now);

  // Records `now` as the last delivery of `alerts` (e.g. after a re-send).
  absl::Status MarkDelivered(const std::vector<v1::Alert>& alerts, absl::Time now);

  // Deletes resolved alerts that resolved before `before`; returns how many.
  absl::StatusOr<int> PurgeResolved(absl::Time before);

  // Notifications queued, per receiver.
  std::map<std::string, uint64_t> OutboxSizes() const;

  // Acknowledges the firing alert with `fingerprint` (any scope) as `by`;
  // returns the stored alert. NotFound for an unknown fingerprint,
  // FailedPrecondition when the alert has resolved. Acking again with the
  // same `by` and `comment` changes nothing (the ack keeps its time); with
  // another, replaces the ack. Fingerprints hash the alert's labels, so every
  // collector of a deployment gives one alert the same fingerprint.
  absl::StatusOr<v1::Alert> Ack(const std::string& fingerprint, const std::string& by,
                                const std::string& comment, absl::Time now);

  // Stores `silence` with starts_at = now and returns it. Its id is kept when
  // set (InvalidArgument unless 1 to 64 letters, digits, '.', '_', '-'), so
  // that one silence made on several collectors has one id; a new one is made
  // up otherwise. InvalidArgument when it has no matcher or does not end after
  // `now`. When a silence with that id is stored already: the same matchers,
  // comment and ends_at return the stored one and set *existed (a repeated
  // request); anything else is AlreadyExists; the same one ended early by
  // RemoveSilence is FailedPrecondition (a late repeat must not revive it).
  absl::StatusOr<v1::Silence> AddSilence(v1::Silence silence, absl::Time now,
                                         bool* existed = nullptr);
  // The silences in force at `now`, ending soonest first.
  std::vector<v1::Silence> Silences(absl::Time now) const;
  // Ends the silence `id` now and queues what it withheld (see above); returns
  // it as it was. Its record stays, marked ended (ended_at), until its ends_at:
  // removing it again returns it and sets *already_ended. NotFound when no
  // silence has that id or it has run out.
  absl::StatusOr<v1::Silence> RemoveSilence(const std::string& id, absl::Time now,
                                            bool* already_ended = nullptr);
  // Ends the silences whose time is up at `now` and queues what they withheld;
  // returns how many ended. Drops the records of silences ended early whose
  // time is up. Cheap when none did (the deliverers call it every
  // round).
  absl::StatusOr<int> EndExpiredSilences(absl::Time now);
  // Whether a silence in force at `now` matches `alert`.
  bool Silenced(const v1::Alert& alert, absl::Time now) const;
  // Sets alert->silenced_by to the ids of the silences matching it at `now`.
  void MarkSilenced(v1::Alert* alert, absl::Time now) const;

 private:
  AlertStore(Store& store, std::vector<std::string> receivers)
      : store_(store), receivers_(std::move(receivers)) {}
  absl::Status Load();
  // Sets last_delivery on the stored records of `alerts`, into `batch`.
  absl::Status MarkDeliveredLocked(const std::vector<const v1::Alert*>& alerts, absl::Time now,
                                   rocksdb::WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The ids of the silences matching `alert` at `now`.
  std::vector<std::string> MatchingSilencesLocked(const v1::Alert& alert, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `*record` (whose state just changed) for every receiver into
  // `batch`, counting in *queued, or withholds it while a silence matches;
  // updates its notified_state / notification_withheld either way. Returns
  // true when queued.
  bool NotifyLocked(v1::Alert* record, absl::Time now, rocksdb::WriteBatch* batch, uint64_t* seq,
                    std::map<std::string, uint64_t>* queued) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the silences `ids` (removes them from the store and memory, or with
  // `keep_tombstones` marks them ended there) and queues what the alerts no
  // longer silenced at `now` had withheld, in one write.
  absl::Status EndSilencesLocked(const std::vector<std::string>& ids, absl::Time now,
                                 bool keep_tombstones) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store& store_;
  const std::vector<std::string> receivers_;

  mutable Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, uint64_t> outbox_sizes_ ABSL_GUARDED_BY(mu_);
  // The firing alerts by AlertKey, kept equal to what the store holds.
  std::map<std::string, FiringAlert> firing_ ABSL_GUARDED_BY(mu_);
  // Every stored silence by id, including ended ones not removed yet and
  // those ended early (ended_at), kept until their ends_at.
  std::map<std::string, v1::Silence> silences_ ABSL_GUARDED_BY(mu_);
};

// Whether `silence` matches `alert` (whatever the time).
bool SilenceMatches(const v1::Silence& silence, const v1::Alert& alert);

// The key of an alert in the `alerts` family.
std::string AlertKey(const std::string& scope, const std::string& fingerprint);

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_ALERT_STORE_H_
