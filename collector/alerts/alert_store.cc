#include "collector/alerts/alert_store.h"

#include <algorithm>
#include <iterator>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/key_codec.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace syncwatch::collector::alerts {
namespace {

FiringAlert Summary(const v1::Alert& a) {
  return FiringAlert{a.server(), a.tenant(), a.connector(), a.severity(), a.summary(), a.name()};
}

std::string OutboxKey(const std::string& receiver, uint64_t seq) {
  return KeyBuilder().String(receiver).Uint64(seq).Take();
}

std::string OutboxPrefix(const std::string& receiver) {
  return KeyBuilder().String(receiver).Take();
}

absl::StatusOr<v1::Alert> ParseAlert(const rocksdb::Slice& bytes) {
  v1::Alert alert;
  if (!alert.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored alert does not parse");
  }
  return alert;
}

bool HasPrefix(const rocksdb::Slice& key, const std::string& prefix) {
  return key.starts_with(rocksdb::Slice(prefix));
}

// Not ended early (a tombstone, see v1::Silence::ended_at) and not run out.
bool InForce(const v1::Silence& silence, absl::Time now) {
  return !silence.has_ended_at() && FromProtoTimestamp(silence.ends_at()) > now;
}

// What makes two requests for a silence the same silence (its id aside).
bool SameSilence(const v1::Silence& a, const v1::Silence& b) {
  return a.server() == b.server() && a.tenant() == b.tenant() && a.alert_name() == b.alert_name() &&
         a.comment() == b.comment() &&
         FromProtoTimestamp(a.ends_at()) == FromProtoTimestamp(b.ends_at());
}

// A client-chosen silence id: it is a RocksDB key and shows in tables.
absl::Status CheckSilenceId(const std::string& id) {
  const bool valid_chars = std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (id.size() <= 64 && valid_chars) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("bad silence id \"", absl::CHexEscape(id.substr(0, 80)),
                   "\": want 1 to 64 letters, digits, '.', '_' or '-'"));
}

std::string DescribeSilence(const v1::Silence& s) {
  return absl::StrCat("server \"", s.server(), "\", tenant \"", s.tenant(), "\", alert \"",
                      s.alert_name(), "\", comment \"", s.comment(), "\", until ",
                      FormatIso8601(FromProtoTimestamp(s.ends_at())));
}

// 16 hex digits, from the OS's entropy: ids must not repeat across restarts.
std::string NewSilenceId() {
  std::random_device random;
  const uint64_t id = (uint64_t{random()} << 32) | random();
  return absl::StrFormat("%016x", id);
}

}  // namespace

bool SilenceMatches(const v1::Silence& silence, const v1::Alert& alert) {
  return (silence.server().empty() || silence.server() == alert.server()) &&
         (silence.tenant().empty() || silence.tenant() == alert.tenant()) &&
         (silence.alert_name().empty() || silence.alert_name() == alert.name());
}

std::string AlertKey(const std::string& scope, const std::string& fingerprint) {
  return KeyBuilder().String(scope).String(fingerprint).Take();
}

absl::StatusOr<std::unique_ptr<AlertStore>> AlertStore::Open(Store& store,
                                                             std::vector<std::string> receivers) {
  std::unique_ptr<AlertStore> s(new AlertStore(store, std::move(receivers)));
  SYNCWATCH_RETURN_IF_ERROR(s->Load());
  return s;
}

absl::Status AlertStore::Load() {
  MutexLock lock(&mu_);
  const std::set<std::string> known(receivers_.begin(), receivers_.end());
  rocksdb::WriteBatch orphans;
  std::map<std::string, uint64_t> dropped;
  auto it = store_.NewIterator(Family::kAlertOutbox, nullptr);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    KeyReader key(absl::string_view(it->key().data(), it->key().size()));
    std::string receiver;
    uint64_t seq = 0;
    if (!key.String(&receiver) || !key.Uint64(&seq) || !key.done()) {
      return absl::DataLossError("alert_outbox: a key does not decode");
    }
    if (seq >= next_seq_) next_seq_ = seq + 1;
    if (known.count(receiver) > 0) {
      ++outbox_sizes_[receiver];
    } else {
      // The receiver was removed from the config: nobody will ever deliver these.
      orphans.Delete(store_.cf(Family::kAlertOutbox), it->key());
      ++dropped[receiver];
    }
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "load alert outbox"));
  for (const auto& [receiver, n] : dropped) {
    SYNCWATCH_LOG(kWarning, "dropping ", n, " undelivered notifications for ", receiver,
                  ", which is no longer configured");
  }
  if (orphans.Count() > 0) SYNCWATCH_RETURN_IF_ERROR(store_.Write(&orphans));
  for (const std::string& r : receivers_) outbox_sizes_.emplace(r, 0);

  auto alerts = store_.NewIterator(Family::kAlerts, nullptr);
  for (alerts->SeekToFirst(); alerts->Valid(); alerts->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(alerts->value()));
    if (alert.state() == v1::ALERT_STATE_FIRING) {
      firing_.emplace(alerts->key().ToString(), Summary(alert));
    }
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(alerts->status(), "load alerts"));

  auto silences = store_.NewIterator(Family::kSilences, nullptr);
  for (silences->SeekToFirst(); silences->Valid(); silences->Next()) {
    v1::Silence silence;
    if (!silence.ParseFromArray(silences->value().data(),
                                static_cast<int>(silences->value().size()))) {
      return absl::DataLossError("a stored silence does not parse");
    }
    silences_.emplace(silence.id(), std::move(silence));
  }
  return FromRocksStatus(silences->status(), "load silences");
}

std::vector<std::string> AlertStore::MatchingSilencesLocked(const v1::Alert& alert,
                                                            absl::Time now) const {
  std::vector<std::string> ids;
  for (const auto& [id, silence] : silences_) {
    if (InForce(silence, now) && SilenceMatches(silence, alert)) ids.push_back(id);
  }
  return ids;
}

bool AlertStore::NotifyLocked(v1::Alert* record, absl::Time now, rocksdb::WriteBatch* batch,
                              uint64_t* seq, std::map<std::string, uint64_t>* queued) {
  record->clear_silenced_by();
  if (!MatchingSilencesLocked(*record, now).empty()) {
    // A record from before notified_state existed that was delivered while
    // firing: its receivers know it fires.
    if (record->notified_state() == v1::ALERT_STATE_UNSPECIFIED &&
        record->state() == v1::ALERT_STATE_RESOLVED && record->has_last_delivery()) {
      record->set_notified_state(v1::ALERT_STATE_FIRING);
    }
    record->set_notification_withheld(true);
    return false;
  }
  record->set_notified_state(record->state());
  record->set_notification_withheld(false);
  const std::string bytes = record->SerializeAsString();
  for (const std::string& receiver : receivers_) {
    batch->Put(store_.cf(Family::kAlertOutbox), OutboxKey(receiver, (*seq)++), bytes);
    ++(*queued)[receiver];
  }
  return true;
}

absl::StatusOr<AlertStore::Changes> AlertStore::Reconcile(const std::string& scope,
                                                          const std::set<std::string>& owned,
                                                          const std::vector<v1::Alert>& current,
                                                          absl::Time now) {
  MutexLock lock(&mu_);
  std::map<std::string, v1::Alert> stored;  // by fingerprint
  {
    const std::string prefix = KeyBuilder().String(scope).Take();
    auto it = store_.NewIterator(Family::kAlerts, nullptr);
    for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
      SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(it->value()));
      std::string fingerprint = alert.fingerprint();
      stored.emplace(std::move(fingerprint), std::move(alert));
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read alerts"));
  }

  const google::protobuf::Timestamp ts = ToProtoTimestamp(now);
  rocksdb::WriteBatch batch;
  Changes changes;
  uint64_t seq = next_seq_;
  std::map<std::string, uint64_t> queued;
  // What firing_ becomes once the batch is written: an alert, or nullopt to erase.
  std::map<std::string, std::optional<FiringAlert>> firing_changes;
  std::set<std::string> seen;
  for (const v1::Alert& a : current) {
    if (!seen.insert(a.fingerprint()).second) continue;  // a rule reported it twice
    auto it = stored.find(a.fingerprint());
    v1::Alert record = a;
    record.set_scope(scope);
    if (it == stored.end() || it->second.state() != v1::ALERT_STATE_FIRING) {
      record.set_state(v1::ALERT_STATE_FIRING);
      *record.mutable_started_at() = ts;
      *record.mutable_last_change() = ts;
      record.clear_resolved_at();
      record.clear_last_delivery();
      if (it != stored.end() && it->second.has_first_seen()) {
        *record.mutable_first_seen() = it->second.first_seen();
      } else {
        *record.mutable_first_seen() = ts;
      }
      // A new episode: no ack; what the receivers were last told carries over.
      record.clear_ack();
      if (it != stored.end()) record.set_notified_state(it->second.notified_state());
      if (!NotifyLocked(&record, now, &batch, &seq, &queued)) ++changes.withheld;
      batch.Put(store_.cf(Family::kAlerts), AlertKey(scope, a.fingerprint()),
                record.SerializeAsString());
      firing_changes[AlertKey(scope, a.fingerprint())] = Summary(record);
      ++changes.fired;
      continue;
    }
    // Still firing: same episode, possibly new details (counts, objects).
    const v1::Alert& old = it->second;
    record.set_state(v1::ALERT_STATE_FIRING);
    *record.mutable_started_at() = old.started_at();
    *record.mutable_last_change() = old.last_change();
    *record.mutable_first_seen() = old.first_seen();
    if (old.has_last_delivery()) *record.mutable_last_delivery() = old.last_delivery();
    if (old.has_ack()) *record.mutable_ack() = old.ack();
    record.set_notified_state(old.notified_state());
    record.set_notification_withheld(old.notification_withheld());
    record.clear_silenced_by();
    if (!google::protobuf::util::MessageDifferencer::Equals(record, old)) {
      batch.Put(store_.cf(Family::kAlerts), AlertKey(scope, a.fingerprint()),
                record.SerializeAsString());
      firing_changes[AlertKey(scope, a.fingerprint())] = Summary(record);
      ++changes.updated;
    }
  }
  for (auto& [fingerprint, old] : stored) {
    if (seen.count(fingerprint) > 0 || old.state() != v1::ALERT_STATE_FIRING ||
        owned.count(old.name()) == 0) {
      continue;
    }
    old.set_state(v1::ALERT_STATE_RESOLVED);
    *old.mutable_resolved_at() = ts;
    *old.mutable_last_change() = ts;
    if (!NotifyLocked(&old, now, &batch, &seq, &queued)) ++changes.withheld;
    batch.Put(store_.cf(Family::kAlerts), AlertKey(scope, fingerprint), old.SerializeAsString());
    firing_changes[AlertKey(scope, fingerprint)] = std::nullopt;
    ++changes.resolved;
  }
  if (batch.Count() == 0) return changes;
  SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  next_seq_ = seq;
  for (const auto& [receiver, n] : queued) outbox_sizes_[receiver] += n;
  for (auto& [key, alert] : firing_changes) {
    if (alert) {
      firing_[key] = std::move(*alert);
    } else {
      firing_.erase(key);
    }
  }
  return changes;
}

std::vector<FiringAlert> AlertStore::Firing() const {
  MutexLock lock(&mu_);
  std::vector<FiringAlert> out;
  out.reserve(firing_.size());
  for (const auto& [key, alert] : firing_) out.push_back(alert);
  return out;
}

std::set<std::string> AlertStore::FiringNames(const std::string& scope) const {
  const std::string prefix = KeyBuilder().String(scope).Take();
  MutexLock lock(&mu_);
  std::set<std::string> names;
  for (auto it = firing_.lower_bound(prefix);
       it != firing_.end() && absl::StartsWith(it->first, prefix); ++it) {
    names.insert(it->second.name);
  }
  return names;
}

absl::StatusOr<std::vector<v1::Alert>> AlertStore::List(const std::string& scope,
                                                        std::optional<v1::AlertState> state) const {
  std::vector<v1::Alert> out;
  const std::string prefix = scope.empty() ? "" : KeyBuilder().String(scope).Take();
  auto it = store_.NewIterator(Family::kAlerts, nullptr);
  for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(it->value()));
    if (!state || alert.state() == *state) out.push_back(std::move(alert));
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "list alerts"));
  return out;
}

absl::StatusOr<std::set<std::string>> AlertStore::Scopes() const {
  std::set<std::string> out;
  auto it = store_.NewIterator(Family::kAlerts, nullptr);
  it->SeekToFirst();
  while (it->Valid()) {
    KeyReader key(absl::string_view(it->key().data(), it->key().size()));
    std::string scope;
    if (!key.String(&scope)) return absl::DataLossError("alerts: a key does not decode");
    out.insert(scope);
    // Skip the rest of this scope.
    const std::string next = PrefixUpperBound(KeyBuilder().String(scope).Take());
    if (next.empty()) break;
    it->Seek(next);
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "list alert scopes"));
  return out;
}

absl::StatusOr<std::optional<v1::Alert>> AlertStore::Get(const std::string& scope,
                                                         const std::string& fingerprint) const {
  SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                             store_.Get(Family::kAlerts, AlertKey(scope, fingerprint)));
  if (!bytes) return std::optional<v1::Alert>();
  SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(rocksdb::Slice(*bytes)));
  return std::optional<v1::Alert>(std::move(alert));
}

absl::StatusOr<std::vector<OutboxEntry>> AlertStore::PeekOutbox(const std::string& receiver,
                                                                size_t max) const {
  std::vector<OutboxEntry> out;
  const std::string prefix = OutboxPrefix(receiver);
  auto it = store_.NewIterator(Family::kAlertOutbox, nullptr);
  for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix) && out.size() < max;
       it->Next()) {
    KeyReader key(absl::string_view(it->key().data(), it->key().size()));
    std::string r;
    OutboxEntry entry;
    if (!key.String(&r) || !key.Uint64(&entry.seq)) {
      return absl::DataLossError("alert_outbox: a key does not decode");
    }
    SYNCWATCH_ASSIGN_OR_RETURN(entry.alert, ParseAlert(it->value()));
    out.push_back(std::move(entry));
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read alert outbox"));
  return out;
}

absl::Status AlertStore::MarkDeliveredLocked(const std::vector<const v1::Alert*>& alerts,
                                             absl::Time now, rocksdb::WriteBatch* batch) {
  std::set<std::string> done;
  for (const v1::Alert* a : alerts) {
    const std::string key = AlertKey(a->scope(), a->fingerprint());
    if (!done.insert(key).second) continue;
    SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Family::kAlerts, key));
    if (!bytes) continue;  // purged meanwhile
    SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert record, ParseAlert(rocksdb::Slice(*bytes)));
    *record.mutable_last_delivery() = ToProtoTimestamp(now);
    batch->Put(store_.cf(Family::kAlerts), key, record.SerializeAsString());
  }
  return absl::OkStatus();
}

absl::Status AlertStore::CompleteOutbox(const std::string& receiver,
                                        const std::vector<OutboxEntry>& delivered, absl::Time now) {
  MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  std::vector<const v1::Alert*> alerts;
  for (const OutboxEntry& e : delivered) {
    batch.Delete(store_.cf(Family::kAlertOutbox), OutboxKey(receiver, e.seq));
    alerts.push_back(&e.alert);
  }
  SYNCWATCH_RETURN_IF_ERROR(MarkDeliveredLocked(alerts, now, &batch));
  SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  uint64_t& size = outbox_sizes_[receiver];
  size = size >= delivered.size() ? size - delivered.size() : 0;
  return absl::OkStatus();
}

absl::Status AlertStore::MarkDelivered(const std::vector<v1::Alert>& alerts, absl::Time now) {
  MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  std::vector<const v1::Alert*> pointers;
  for (const v1::Alert& a : alerts) pointers.push_back(&a);
  SYNCWATCH_RETURN_IF_ERROR(MarkDeliveredLocked(pointers, now, &batch));
  if (batch.Count() == 0) return absl::OkStatus();
  return store_.Write(&batch);
}

absl::StatusOr<int> AlertStore::PurgeResolved(absl::Time before) {
  MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  int purged = 0;
  auto it = store_.NewIterator(Family::kAlerts, nullptr);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(it->value()));
    if (alert.state() == v1::ALERT_STATE_RESOLVED &&
        FromProtoTimestamp(alert.resolved_at()) < before) {
      batch.Delete(store_.cf(Family::kAlerts), it->key());
      ++purged;
    }
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "scan alerts"));
  if (purged > 0) SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  return purged;
}

std::map<std::string, uint64_t> AlertStore::OutboxSizes() const {
  MutexLock lock(&mu_);
  return outbox_sizes_;
}

absl::StatusOr<v1::Alert> AlertStore::Ack(const std::string& fingerprint, const std::string& by,
                                          const std::string& comment, absl::Time now) {
  MutexLock lock(&mu_);
  std::optional<v1::Alert> found;
  std::string key;
  auto it = store_.NewIterator(Family::kAlerts, nullptr);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(it->value()));
    if (alert.fingerprint() != fingerprint) continue;
    // Fingerprints hash the labels, server and tenant included, so one scope
    // holds it; should two, the firing one is meant.
    if (!found || alert.state() == v1::ALERT_STATE_FIRING) {
      found = std::move(alert);
      key = it->key().ToString();
    }
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read alerts"));
  if (!found) {
    return absl::NotFoundError(absl::StrCat(
        "no alert has the id \"", fingerprint,
        "\" (the id is the fingerprint, the ID column of `syncwatch alerts --state all`)"));
  }
  if (found->state() != v1::ALERT_STATE_FIRING) {
    return absl::FailedPreconditionError(
        absl::StrCat("alert ", fingerprint, " (", found->name(), " on ",
                     found->server().empty() ? found->tenant() : found->server(), ") resolved at ",
                     FormatIso8601(FromProtoTimestamp(found->resolved_at())),
                     "; only a firing alert can be acknowledged"));
  }
  // A repeated ack (the CLI sends one to every collector, and may be run
  // again) keeps the first one's time.
  if (found->has_ack() && found->ack().by() == by && found->ack().comment() == comment) {
    return *std::move(found);
  }
  v1::AlertAck& ack = *found->mutable_ack();
  ack.set_by(by);
  *ack.mutable_at() = ToProtoTimestamp(now);
  ack.set_comment(comment);
  rocksdb::WriteBatch batch;
  batch.Put(store_.cf(Family::kAlerts), key, found->SerializeAsString());
  SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  return *std::move(found);
}

absl::StatusOr<v1::Silence> AlertStore::AddSilence(v1::Silence silence, absl::Time now,
                                                   bool* existed) {
  if (existed != nullptr) *existed = false;
  if (silence.server().empty() && silence.tenant().empty() && silence.alert_name().empty()) {
    return absl::InvalidArgumentError(
        "a silence needs at least one matcher: a server, a tenant or an alert name");
  }
  if (FromProtoTimestamp(silence.ends_at()) <= now) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the silence would end at ", FormatIso8601(FromProtoTimestamp(silence.ends_at())),
        ", which is not in the future"));
  }
  if (!silence.id().empty()) SYNCWATCH_RETURN_IF_ERROR(CheckSilenceId(silence.id()));
  MutexLock lock(&mu_);
  if (silence.id().empty()) {
    do {
      silence.set_id(NewSilenceId());
    } while (silences_.count(silence.id()) > 0);
  } else if (auto it = silences_.find(silence.id()); it != silences_.end()) {
    const v1::Silence& stored = it->second;
    if (!SameSilence(stored, silence)) {
      return absl::AlreadyExistsError(
          absl::StrCat("the silence id \"", silence.id(), "\" is taken by another silence (",
                       DescribeSilence(stored), "); choose another id"));
    }
    if (stored.has_ended_at()) {
      return absl::FailedPreconditionError(
          absl::StrCat("silence ", silence.id(), " was ended at ",
                       FormatIso8601(FromProtoTimestamp(stored.ended_at())),
                       " (unsilence); to silence again, create a silence with a new id"));
    }
    if (existed != nullptr) *existed = true;
    return stored;
  }
  silence.clear_ended_at();
  *silence.mutable_starts_at() = ToProtoTimestamp(now);
  rocksdb::WriteBatch batch;
  batch.Put(store_.cf(Family::kSilences), silence.id(), silence.SerializeAsString());
  SYNCWATCH_RETURN_IF_ERROR(store_.Write(&batch));
  silences_[silence.id()] = silence;
  return silence;
}

std::vector<v1::Silence> AlertStore::Silences(absl::Time now) const {
  std::vector<v1::Silence> out;
  {
    MutexLock lock(&mu_);
    for (const auto& [id, silence] : silences_) {
      if (InForce(silence, now)) out.push_back(silence);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const v1::Silence& a, const v1::Silence& b) {
    return FromProtoTimestamp(a.ends_at()) < FromProtoTimestamp(b.ends_at());
  });
  return out;
}

absl::StatusOr<v1::Silence> AlertStore::RemoveSilence(const std::string& id, absl::Time now,
                                                      bool* already_ended) {
  if (already_ended != nullptr) *already_ended = false;
  MutexLock lock(&mu_);
  auto it = silences_.find(id);
  if (it != silences_.end() && it->second.has_ended_at()) {
    if (already_ended != nullptr) *already_ended = true;
    return it->second;
  }
  if (it == silences_.end() || !InForce(it->second, now)) {
    return absl::NotFoundError(
        absl::StrCat("no silence in force has the id \"", id, "\" (see `syncwatch silences`)"));
  }
  v1::Silence silence = it->second;
  SYNCWATCH_RETURN_IF_ERROR(EndSilencesLocked({id}, now, /*keep_tombstones=*/true));
  return silence;
}

absl::StatusOr<int> AlertStore::EndExpiredSilences(absl::Time now) {
  MutexLock lock(&mu_);
  std::vector<std::string> ended;
  rocksdb::WriteBatch tombstones;
  for (const auto& [id, silence] : silences_) {
    if (FromProtoTimestamp(silence.ends_at()) > now) continue;
    if (silence.has_ended_at()) {
      // Ended early and now past its end: a repeat can no longer come (it
      // would be refused for an end in the past), so the record may go.
      tombstones.Delete(store_.cf(Family::kSilences), id);
    } else {
      ended.push_back(id);
    }
  }
  if (tombstones.Count() > 0) {
    SYNCWATCH_RETURN_IF_ERROR(store_.Write(&tombstones));
    for (auto it = silences_.begin(); it != silences_.end();) {
      const bool gone =
          it->second.has_ended_at() && FromProtoTimestamp(it->second.ends_at()) <= now;
      it = gone ? silences_.erase(it) : std::next(it);
    }
  }
  if (ended.empty()) return 0;
  SYNCWATCH_RETURN_IF_ERROR(EndSilencesLocked(ended, now, /*keep_tombstones=*/false));
  return static_cast<int>(ended.size());
}

absl::Status AlertStore::EndSilencesLocked(const std::vector<std::string>& ids, absl::Time now,
                                           bool keep_tombstones) {
  std::map<std::string, v1::Silence> remaining = silences_;
  rocksdb::WriteBatch batch;
  for (const std::string& id : ids) {
    if (keep_tombstones) {
      v1::Silence& ended = remaining[id];
      *ended.mutable_ended_at() = ToProtoTimestamp(now);
      batch.Put(store_.cf(Family::kSilences), id, ended.SerializeAsString());
    } else {
      batch.Delete(store_.cf(Family::kSilences), id);
      remaining.erase(id);
    }
  }
  // Matching against what remains: the ended silences must not hold back
  // what they withheld.
  std::swap(silences_, remaining);
  uint64_t seq = next_seq_;
  std::map<std::string, uint64_t> queued;
  int released = 0;
  absl::Status status;
  auto it = store_.NewIterator(Family::kAlerts, nullptr);
  for (it->SeekToFirst(); it->Valid() && status.ok(); it->Next()) {
    absl::StatusOr<v1::Alert> alert = ParseAlert(it->value());
    if (!alert.ok()) {
      status = alert.status();
      break;
    }
    if (!alert->notification_withheld() || !MatchingSilencesLocked(*alert, now).empty()) continue;
    const bool told_firing = alert->notified_state() == v1::ALERT_STATE_FIRING;
    if (alert->state() == v1::ALERT_STATE_FIRING ||
        (alert->state() == v1::ALERT_STATE_RESOLVED && told_firing)) {
      if (NotifyLocked(&*alert, now, &batch, &seq, &queued)) ++released;
    } else {
      // The receivers never heard of this episode: nothing to tell them.
      alert->set_notification_withheld(false);
    }
    batch.Put(store_.cf(Family::kAlerts), it->key(), alert->SerializeAsString());
  }
  if (status.ok()) status = FromRocksStatus(it->status(), "read alerts");
  if (status.ok()) status = store_.Write(&batch);
  if (!status.ok()) {
    std::swap(silences_, remaining);  // nothing changed
    return status;
  }
  next_seq_ = seq;
  for (const auto& [receiver, n] : queued) outbox_sizes_[receiver] += n;
  SYNCWATCH_LOG(kInfo, "silences ended: ", absl::StrJoin(ids, ", "), "; ", released,
                " alerts they held back are notified now");
  return absl::OkStatus();
}

bool AlertStore::Silenced(const v1::Alert& alert, absl::Time now) const {
  MutexLock lock(&mu_);
  return !MatchingSilencesLocked(alert, now).empty();
}

void AlertStore::MarkSilenced(v1::Alert* alert, absl::Time now) const {
  MutexLock lock(&mu_);
  alert->clear_silenced_by();
  for (std::string& id : MatchingSilencesLocked(*alert, now)) alert->add_silenced_by(std::move(id));
}

}  // namespace syncwatch::collector::alerts
