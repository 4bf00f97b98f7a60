#include "collector/storage/storage_writer.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "collector/config/config_diff.h"
#include "collector/state/server_state.h"
#include "collector/storage/record_keys.h"
#include "collector/storage/stored_record.h"
#include "common/key_codec.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/timestamp.pb.h"

namespace syncwatch::collector {
namespace {

std::string EncodeFixed64(uint64_t v) { return KeyBuilder().Uint64(v).Take(); }

bool DecodeFixed64(absl::string_view s, uint64_t* v) {
  KeyReader r(s);
  return r.Uint64(v) && r.done();
}

}  // namespace

// What a group wrote that a later group may read back before the write is
// committed: the records of the families read back (export errors,
// snapshots), and where the keys of its complete runs are. Each record's key
// and value are appended to one buffer (no allocation per record); once the
// group is prepared the buffer does not change.
struct StorageWriter::GroupWrites {
  // A record in `buffer`.
  struct Put {
    Family family;
    bool complete_run;
    size_t key_at;
    size_t key_size;
    size_t value_at;
    size_t value_size;
  };
  absl::string_view Key(const Put& p) const {
    return absl::string_view(buffer).substr(p.key_at, p.key_size);
  }
  absl::string_view Value(const Put& p) const {
    return absl::string_view(buffer).substr(p.value_at, p.value_size);
  }
  // Whether a complete run was written under `key`. The index is made at the
  // first question (most groups are never asked: only an in-progress report
  // asks) and kept up to date after; only the writer thread asks.
  bool HasCompleteRun(absl::string_view key) const {
    if (!complete_index) {
      complete_index.emplace();
      for (const Put& p : puts) {
        if (p.complete_run) complete_index->insert(std::string(Key(p)));
      }
    }
    return complete_index->contains(key);
  }

  std::map<std::pair<Family, std::string>, std::string> records;
  std::string buffer;
  std::vector<Put> puts;
  mutable std::optional<absl::flat_hash_set<std::string>> complete_index;
};

namespace {

// Reads through the records this group already wrote, then through those of
// the groups prepared before it and not yet committed (newest first), then
// the store: so that two updates of one key see each other, within a group
// and across the pipeline (RocksDB cannot see an uncommitted WriteBatch).
class GroupView {
 public:
  using Writes = StorageWriter::GroupWrites;
  GroupView(Store& store, rocksdb::WriteBatch& batch, Writes& own,
            const std::vector<const Writes*>& earlier)
      : store_(store), batch_(batch), own_(own), earlier_(earlier) {}

  // The record's bytes, unparsed, or nullptr when there is none: those this
  // group or one in flight wrote, or else the store's, read into `*held`.
  absl::StatusOr<const std::string*> GetBytes(Family f, const std::string& key,
                                              std::optional<std::string>* held) {
    if (const std::string* found = Find(f, key)) return found;
    SYNCWATCH_ASSIGN_OR_RETURN(*held, store_.Get(f, key));
    return *held ? &**held : nullptr;
  }

  void Put(Family f, const std::string& key, const google::protobuf::Message& value) {
    PutBytes(f, key, value.SerializeAsString());
  }

  void PutBytes(Family f, const std::string& key, std::string bytes) {
    Append(f, key, bytes, false);
    own_.records[{f, key}] = std::move(bytes);
  }

  void PutRaw(Family f, absl::string_view key, absl::string_view bytes) {
    Append(f, key, bytes, false);
  }

  // A run record, its key and value appended by `write_key` and
  // `write_value` to the group's buffer. Runs stay out of the records read
  // back (the bulk of a group, read back only to learn whether a complete
  // version is stored).
  template <typename WriteKey, typename WriteValue>
  void PutRun(WriteKey write_key, WriteValue write_value, bool complete) {
    Writes::Put& p = own_.puts.emplace_back();
    p.family = Family::kRuns;
    p.complete_run = complete;
    p.key_at = own_.buffer.size();
    write_key(&own_.buffer);
    p.key_size = own_.buffer.size() - p.key_at;
    p.value_at = own_.buffer.size();
    write_value(&own_.buffer);
    p.value_size = own_.buffer.size() - p.value_at;
    if (complete && own_.complete_index) own_.complete_index->insert(std::string(own_.Key(p)));
  }

  // Adds the group's records to the write in key order per family (a later
  // write of a key still after an earlier one): each memtable insert then
  // lands next to the one before, where RocksDB's skiplist finds its place
  // without searching from the top. Events alternate connectors and kinds,
  // so in arrival order almost every insert searched.
  void Flush() {
    std::vector<const Writes::Put*> order;
    order.reserve(own_.puts.size());
    for (const Writes::Put& p : own_.puts) order.push_back(&p);
    const Writes& w = own_;
    std::stable_sort(order.begin(), order.end(), [&w](const Writes::Put* a, const Writes::Put* b) {
      if (a->family != b->family) return a->family < b->family;
      return w.Key(*a) < w.Key(*b);
    });
    // Room for every record at once (each adds a few bytes of header): the
    // write's buffer is not grown and copied a dozen times on the way.
    batch_ = rocksdb::WriteBatch(w.buffer.size() + 24 * w.puts.size() + 64);
    for (const Writes::Put* p : order) {
      const absl::string_view key = w.Key(*p);
      const absl::string_view value = w.Value(*p);
      batch_.Put(store_.cf(p->family), rocksdb::Slice(key.data(), key.size()),
                 rocksdb::Slice(value.data(), value.size()));
    }
  }

  // Whether the run under `key` is stored, or written by this group or one
  // in flight, complete.
  absl::StatusOr<bool> HasCompleteRun(const std::string& key) {
    if (own_.HasCompleteRun(key)) return true;
    for (const Writes* w : earlier_) {
      if (w->HasCompleteRun(key)) return true;
    }
    SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Family::kRuns, key));
    if (!bytes) return false;
    SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredRun stored, ParseRecord<v1::StoredRun>(*bytes));
    return stored.run().is_run_complete();
  }

 private:
  void Append(Family f, absl::string_view key, absl::string_view value, bool complete_run) {
    Writes::Put& p = own_.puts.emplace_back();
    p.family = f;
    p.complete_run = complete_run;
    p.key_at = own_.buffer.size();
    p.key_size = key.size();
    own_.buffer.append(key.data(), key.size());
    p.value_at = own_.buffer.size();
    p.value_size = value.size();
    own_.buffer.append(value.data(), value.size());
  }

  const std::string* Find(Family f, const std::string& key) const {
    const std::pair<Family, std::string> k{f, key};
    auto it = own_.records.find(k);
    if (it != own_.records.end()) return &it->second;
    for (const Writes* w : earlier_) {
      auto e = w->records.find(k);
      if (e != w->records.end()) return &e->second;
    }
    return nullptr;
  }

  Store& store_;
  rocksdb::WriteBatch& batch_;
  Writes& own_;
  const std::vector<const Writes*>& earlier_;
};

bool Before(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return ToUnixMicrosOrZero(a) < ToUnixMicrosOrZero(b);
}

// Merges into `*t` the Timestamp at field `inner` of each occurrence of the
// message field `outer` of the serialized `record`, as parsing the record
// would, without parsing the rest; `*found` (when given) tells whether there
// was any. False when the path is not valid wire format.
bool ReadNestedTime(absl::string_view record, int outer, int inner, google::protobuf::Timestamp* t,
                    bool* found = nullptr) {
  if (found != nullptr) *found = false;
  return ForEachField(record, outer, [&](absl::string_view message) {
    return ForEachField(message, inner, [&](absl::string_view time) {
      if (found != nullptr) *found = true;
      google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(time.data()),
                                                static_cast<int>(time.size()));
      return t->MergeFromCodedStream(&in) && in.ConsumedEntireMessage();
    });
  });
}

absl::Status ApplyExportError(GroupView& view, const std::string& server, const std::string& tenant,
                              const v1::ExportError& error) {
  const std::string key = ExportErrorKey(server, error);
  std::optional<std::string> held;
  SYNCWATCH_ASSIGN_OR_RETURN(const std::string* stored,
                             view.GetBytes(Family::kExportErrors, key, &held));
  const v1::ExportError* write = &error;
  v1::ExportError with_first;
  if (stored != nullptr) {
    // Only the stored report's two times matter, read in place.
    google::protobuf::Timestamp date;
    google::protobuf::Timestamp first;
    bool has_date = false;
    bool has_first = false;
    if (!ReadNestedTime(*stored, v1::StoredExportError::kErrorFieldNumber,
                        v1::ExportError::kDateOccurredFieldNumber, &date, &has_date) ||
        !ReadNestedTime(*stored, v1::StoredExportError::kErrorFieldNumber,
                        v1::ExportError::kFirstOccurredFieldNumber, &first, &has_first)) {
      return absl::DataLossError(
          absl::StrCat("export_errors: the StoredExportError record under key \"",
                       absl::CHexEscape(key), "\" does not parse"));
    }
    // A re-sent older report must not replace a newer one.
    if (has_date && error.has_date_occurred() && Before(error.date_occurred(), date)) {
      return absl::OkStatus();
    }
    // The first occurrence known is kept.
    if (has_first && (!error.has_first_occurred() || Before(first, error.first_occurred()))) {
      with_first = error;
      *with_first.mutable_first_occurred() = first;
      write = &with_first;
    }
  }
  std::string record;
  AppendStoredRecord(server, tenant, *write, &record);
  view.PutBytes(Family::kExportErrors, key, std::move(record));
  return absl::OkStatus();
}

}  // namespace

namespace {

// `wire` is the run's bytes as received, or empty (then it is serialized).
absl::Status ApplyRun(GroupView& view, const std::string& server, const std::string& tenant,
                      const v1::RunProfileResult& run, absl::string_view wire) {
  // A run seen while in progress and again when complete keeps the complete
  // version, whatever order the reports arrive in. A complete report replaces
  // whatever is stored, so only an in-progress one needs to look: on a store
  // of some size that read (an SST index block or two per run) was most of
  // the writer's time.
  if (!run.is_run_complete()) {
    SYNCWATCH_ASSIGN_OR_RETURN(bool complete_stored, view.HasCompleteRun(RunKey(server, run)));
    if (complete_stored) return absl::OkStatus();
  }
  view.PutRun([&](std::string* out) { AppendRunKey(server, run, out); },
              [&](std::string* out) {
                if (wire.empty()) {
                  AppendStoredRecord(server, tenant, run, out);
                } else {
                  AppendStoredRecord(server, tenant, wire, out);
                }
              },
              run.is_run_complete());
  for (const v1::RunStep& step : run.steps()) {
    for (const v1::ExportError& error : step.export_errors()) {
      // An error without its connector is the run's.
      if (!error.connector_name().empty() && !error.connector_id().empty()) {
        SYNCWATCH_RETURN_IF_ERROR(ApplyExportError(view, server, tenant, error));
        continue;
      }
      v1::ExportError named = error;
      if (named.connector_name().empty()) named.set_connector_name(run.connector_name());
      if (named.connector_id().empty()) named.set_connector_id(run.connector_id());
      SYNCWATCH_RETURN_IF_ERROR(ApplyExportError(view, server, tenant, named));
    }
  }
  return absl::OkStatus();
}

// When the snapshot stored under `key` was taken; nullopt when none is.
absl::StatusOr<std::optional<int64_t>> StoredSnapshotTakenAt(GroupView& view,
                                                             const std::string& key) {
  std::optional<std::string> held;
  SYNCWATCH_ASSIGN_OR_RETURN(const std::string* bytes,
                             view.GetBytes(Family::kSnapshots, key, &held));
  if (bytes == nullptr) return std::optional<int64_t>();
  // Only the time is read, in place: parsing the record would build its
  // object lists.
  google::protobuf::Timestamp t;
  const bool parsed = ReadNestedTime(*bytes, v1::StoredPendingExports::kSnapshotFieldNumber,
                                     v1::PendingExportSnapshot::kTakenAtFieldNumber, &t);
  if (!parsed) {
    return absl::DataLossError(
        absl::StrCat("snapshots: the StoredPendingExports record under key \"",
                     absl::CHexEscape(key), "\" does not parse"));
  }
  return std::optional<int64_t>(ToUnixMicrosOrZero(t));
}

absl::Status ApplySnapshot(GroupView& view, const std::string& server, const std::string& tenant,
                           const v1::PendingExportSnapshot& snapshot) {
  // The snapshot is serialized once, for the latest record and, without its
  // object lists, for the history (which keeps the figures only).
  const std::string bytes = snapshot.SerializeAsString();
  const std::string key = SnapshotKey(server, snapshot.connector_name());
  SYNCWATCH_ASSIGN_OR_RETURN(std::optional<int64_t> stored_at, StoredSnapshotTakenAt(view, key));
  if (!stored_at || *stored_at <= ToUnixMicrosOrZero(snapshot.taken_at())) {
    std::string latest;
    AppendStoredRecord(server, tenant, bytes, &latest);
    view.PutBytes(Family::kSnapshots, key, std::move(latest));
  }
  std::string figures;
  if (!AppendWithoutFields(bytes,
                           {v1::PendingExportSnapshot::kDeletesFieldNumber,
                            v1::PendingExportSnapshot::kAddsAndUpdatesFieldNumber},
                           &figures)) {
    return absl::InternalError("a pending-export snapshot does not serialize");
  }
  std::string history;
  AppendStoredRecord(server, tenant, figures, &history);
  view.PutBytes(Family::kSnapshotHistory, SnapshotHistoryKey(server, snapshot), std::move(history));
  return absl::OkStatus();
}

// Stores a server's configuration: as its latest (unless a later one is
// stored), in its history, and, when it differs from the latest stored (another
// digest), the differences as configuration changes.
absl::Status ApplyConfiguration(GroupView& view, const std::string& server,
                                const std::string& tenant, const v1::ServerConfiguration& config) {
  const std::string key = ConfigurationKey(server);
  std::optional<std::string> held;
  SYNCWATCH_ASSIGN_OR_RETURN(const std::string* bytes,
                             view.GetBytes(Family::kConfigurations, key, &held));
  if (bytes != nullptr) {
    SYNCWATCH_ASSIGN_OR_RETURN(const v1::StoredConfiguration previous,
                               ParseRecord<v1::StoredConfiguration>(*bytes));
    const v1::ServerConfiguration& before = previous.configuration();
    if (before.digest() == config.digest()) return absl::OkStatus();
    // A configuration older than the latest (sent late) joins the history only.
    if (ToUnixMicrosOrZero(before.taken_at()) > ToUnixMicrosOrZero(config.taken_at())) {
      std::string history;
      AppendStoredRecord(server, tenant, config, &history);
      view.PutBytes(Family::kConfigurationHistory, ConfigurationHistoryKey(server, config),
                    std::move(history));
      return absl::OkStatus();
    }
    int64_t n = 0;
    for (const v1::ConfigurationChange& change :
         config::ChangesBetween(server, tenant, before, config)) {
      view.Put(Family::kConfigurationChanges, ConfigurationChangeKey(server, config, n++), change);
    }
  }
  std::string latest;
  AppendStoredRecord(server, tenant, config, &latest);
  view.PutBytes(Family::kConfigurationHistory, ConfigurationHistoryKey(server, config), latest);
  view.PutBytes(Family::kConfigurations, key, std::move(latest));
  return absl::OkStatus();
}

v1::ServerRole RoleOf(const v1::ServerInfo& info, const v1::Hello& hello) {
  if (info.has_settings()) {
    return info.settings().staging_mode_enabled() ? v1::SERVER_ROLE_STAGING
                                                  : v1::SERVER_ROLE_ACTIVE;
  }
  return hello.role();
}

}  // namespace

// A group made into one RocksDB write by the writer thread and handed to the
// commit thread.
struct StorageWriter::Prepared {
  std::deque<Submission> group;
  // Set when preparing failed (a read of the store): the group fails whole.
  absl::Status failed;
  // The writer's failure epoch when the group was prepared: a group prepared
  // on top of one that then failed to commit fails too.
  uint64_t epoch = 0;
  uint64_t number = 0;
  rocksdb::WriteBatch batch;
  std::shared_ptr<GroupWrites> writes = std::make_shared<GroupWrites>();
  std::map<std::pair<std::string, std::string>, uint64_t> new_marks;
  std::vector<bool> duplicate;
  // Per submission: OK, or why its batch is out of order (its seq is neither
  // at or below the agent's mark nor the next one); such a batch is not stored.
  std::vector<absl::Status> out_of_order;
  // Server -> tenant as stored, for the commit observer.
  std::map<std::string, std::string> tenants;
  uint64_t stored_batches = 0;
  uint64_t stored_events = 0;
  // One line per agent sequence a Hello skipped ahead (Hello.first_seq):
  // the seqs lost, logged and counted once the group committed.
  std::vector<std::string> lost_lines;
  uint64_t lost_batches = 0;
};

namespace {

// Runs of a connector folded in by UpgradeServerRecords at most.
constexpr int kMaxRunsPerConnector = 200;

bool StartsWith(const rocksdb::Slice& key, const std::string& prefix) {
  return key.starts_with(rocksdb::Slice(prefix));
}

// Folds each connector's newest runs into `info` (see UpgradeServerRecords).
absl::Status FoldRecentRuns(const Store& store, v1::ServerInfo* info) {
  // Keys are (server, connector, start, id): walking backwards yields each
  // connector's runs newest first; once a connector has told what the rules
  // need, jump to the connector before it.
  const std::string prefix = ServerPrefix(info->server());
  const std::string bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice(bound);
  auto it = store.NewIterator(Family::kRuns, bound.empty() ? nullptr : &bound_slice);
  if (bound.empty()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(bound_slice);
  }
  std::string connector;
  int seen = 0;
  while (it->Valid() && StartsWith(it->key(), prefix)) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredRun stored, ParseRecord<v1::StoredRun>(it->value()));
    const v1::RunProfileResult& run = stored.run();
    if (run.connector_name() != connector) {
      connector = run.connector_name();
      seen = 0;
    }
    ++seen;
    ApplyRunToState(run, info);
    bool done = false;
    for (const v1::ConnectorState& c : info->connectors()) {
      if (c.connector() != connector) continue;
      done = c.has_last_success() && c.has_latest_export_start() &&
             c.latest_complete_runs().contains("import") &&
             c.latest_complete_runs().contains("sync");
    }
    if (done || seen >= kMaxRunsPerConnector) {
      it->SeekForPrev(rocksdb::Slice(ServerConnectorPrefix(info->server(), connector)));
    } else {
      it->Prev();
    }
  }
  return FromRocksStatus(it->status(), "read runs");
}

}  // namespace

absl::Status UpgradeServerRecords(Store& store) {
  std::vector<v1::ServerInfo> old;
  {
    auto it = store.NewIterator(Family::kServers, nullptr);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      SYNCWATCH_ASSIGN_OR_RETURN(v1::ServerInfo info, ParseRecord<v1::ServerInfo>(it->value()));
      if (info.state_version() < kServerStateVersion) old.push_back(std::move(info));
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read servers"));
  }
  if (old.empty()) return absl::OkStatus();
  SYNCWATCH_LOG(kInfo, "upgrading the state of ", old.size(),
                " server records from their recent runs");
  rocksdb::WriteBatch batch;
  for (v1::ServerInfo& info : old) {
    SYNCWATCH_RETURN_IF_ERROR(FoldRecentRuns(store, &info));
    info.set_state_version(kServerStateVersion);
    batch.Put(store.cf(Family::kServers), ServerKey(info.server()), info.SerializeAsString());
  }
  return store.Write(&batch);
}

absl::StatusOr<std::unique_ptr<StorageWriter>> StorageWriter::Create(Store& store, Clock& clock,
                                                                     const Options& options) {
  SYNCWATCH_RETURN_IF_ERROR(UpgradeServerRecords(store));
  std::unique_ptr<StorageWriter> writer(new StorageWriter(store, clock, options));
  SYNCWATCH_RETURN_IF_ERROR(writer->Load());
  writer->commit_thread_ = std::thread([w = writer.get()] { w->RunCommits(); });
  writer->thread_ = std::thread([w = writer.get()] { w->Run(); });
  return writer;
}

StorageWriter::StorageWriter(Store& store, Clock& clock, const Options& options)
    : store_(store), clock_(clock), options_(options) {}

StorageWriter::~StorageWriter() { Stop(); }

absl::Status StorageWriter::Load() {
  {
    auto it = store_.NewIterator(Family::kAgentMarks, nullptr);
    MutexLock lock(&mu_);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      KeyReader key(absl::string_view(it->key().data(), it->key().size()));
      std::string agent_id;
      std::string epoch;
      uint64_t seq = 0;
      if (!key.String(&agent_id) || !key.String(&epoch) ||
          !DecodeFixed64(absl::string_view(it->value().data(), it->value().size()), &seq)) {
        return absl::DataLossError("agent_marks: a record does not decode");
      }
      marks_[{agent_id, epoch}] = seq;
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "load agent marks"));
    prepared_marks_ = marks_;
  }
  return LoadServers();
}

absl::Status StorageWriter::LoadServers() {
  servers_.clear();
  auto it = store_.NewIterator(Family::kServers, nullptr);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::ServerInfo info;
    if (!info.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("servers: the ServerInfo record under key \"",
                       absl::CHexEscape(absl::string_view(it->key().data(), it->key().size())),
                       "\" does not parse"));
    }
    servers_[info.server()] = std::move(info);
  }
  return FromRocksStatus(it->status(), "load servers");
}

void StorageWriter::Submit(std::shared_ptr<const AgentContext> agent,
                           std::shared_ptr<const v1::EventBatch> batch, Completion done) {
  Submit(std::move(agent), std::move(batch), BatchWire(), std::move(done));
}

void StorageWriter::Submit(std::shared_ptr<const AgentContext> agent,
                           std::shared_ptr<const v1::EventBatch> batch, BatchWire wire,
                           Completion done) {
  Queue(Submission{std::move(agent), std::move(batch), std::move(done), std::move(wire)});
}

void StorageWriter::SubmitRefusal(std::shared_ptr<const AgentContext> agent, uint64_t seq,
                                  Completion done) {
  Submission s{std::move(agent), nullptr, std::move(done), BatchWire()};
  s.refused_seq = seq;
  Queue(std::move(s));
}

void StorageWriter::Queue(Submission s) {
  absl::Status refused;
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("collector is shutting down");
    } else if (queue_.size() >= options_.max_queue) {
      refused = absl::ResourceExhaustedError("collector write queue is full");
    } else {
      queue_.push_back(std::move(s));
      cv_.Signal();
      return;
    }
  }
  s.done(refused, false);  // outside the lock: completions may call back in
}

uint64_t StorageWriter::StoredSeq(const std::string& agent_id, const std::string& spool_epoch) {
  MutexLock lock(&mu_);
  auto it = marks_.find({agent_id, spool_epoch});
  return it == marks_.end() ? 0 : it->second;
}

void StorageWriter::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  {
    MutexLock lock(&mu_);
    preparing_done_ = true;
    commit_cv_.SignalAll();
  }
  if (commit_thread_.joinable()) commit_thread_.join();
}

void StorageWriter::Run() {
  uint64_t number = 0;
  for (;;) {
    auto prepared = std::make_unique<Prepared>();
    bool reload = false;
    uint64_t committed = 0;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) cv_.Wait();
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && prepared->group.size() < options_.max_group_size) {
        prepared->group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      prepared->epoch = epoch_;
      if (epoch_ != prepared_epoch_) {
        // A commit failed: what this thread prepared since is void, and its
        // view of the servers and marks runs ahead of the store.
        prepared_marks_ = marks_;
        reload = true;
      }
      committed = committed_number_;
    }
    // Groups committed since the last one no longer need reading through.
    while (!in_flight_.empty() && in_flight_.front().first <= committed) in_flight_.pop_front();
    if (reload) {
      in_flight_.clear();
      prepared->failed = LoadServers();
      if (prepared->failed.ok()) prepared_epoch_ = prepared->epoch;
    }
    prepared->number = ++number;
    if (prepared->failed.ok()) Prepare(*prepared);
    if (prepared->failed.ok()) in_flight_.emplace_back(prepared->number, prepared->writes);
    MutexLock lock(&mu_);
    // One group commits while the next is prepared; no more wait than that.
    while (!prepared_.empty()) commit_cv_.Wait();
    prepared_.push_back(std::move(prepared));
    commit_cv_.SignalAll();
  }
}

void StorageWriter::Prepare(Prepared& p) {
  std::vector<const GroupWrites*> earlier;
  for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it) {
    earlier.push_back(it->second.get());
  }
  // The group's records take about what its batches took on the wire (when
  // known: a batch submitted without its wire layout counts nothing).
  size_t wire_bytes = 0;
  for (const Submission& s : p.group) wire_bytes += s.wire.size;
  p.writes->buffer.reserve(wire_bytes + wire_bytes / 4);
  GroupView view(store_, p.batch, *p.writes, earlier);
  const auto now = ToProtoTimestamp(clock_.Now());
  std::deque<Submission>& group = p.group;

  {
    MutexLock lock(&mu_);
    for (const Submission& s : group) {
      const auto key = std::make_pair(s.agent->hello.agent_id(), s.agent->hello.spool_epoch());
      auto it = prepared_marks_.find(key);
      p.new_marks.emplace(key, it == prepared_marks_.end() ? 0 : it->second);
    }
  }
  std::map<std::string, v1::ServerInfo> touched;
  p.duplicate.assign(group.size(), false);
  p.out_of_order.assign(group.size(), absl::OkStatus());

  for (size_t i = 0; i < group.size(); ++i) {
    const Submission& s = group[i];
    const v1::Hello& hello = s.agent->hello;
    auto t = touched.find(hello.server());
    if (t == touched.end()) {
      auto known = servers_.find(hello.server());
      t = touched
              .emplace(hello.server(), known == servers_.end() ? v1::ServerInfo() : known->second)
              .first;
      t->second.set_state_version(kServerStateVersion);
    }
    v1::ServerInfo& info = t->second;
    info.set_server(hello.server());
    if (!hello.tenant().empty()) info.set_tenant(hello.tenant());
    info.set_agent_id(hello.agent_id());
    info.set_agent_version(hello.agent_version());
    *info.mutable_last_seen() = now;

    const uint64_t seq = s.batch ? s.batch->seq() : s.refused_seq;
    if (!s.batch && s.refused_seq == 0 && hello.first_seq() != 0) {
      // A Hello: the agent's spool holds nothing below first_seq, so the
      // seqs between the mark and it can never come. Skipping them is
      // recorded (logged, counted, and durable with the mark), never silent.
      uint64_t& mark = p.new_marks[{hello.agent_id(), hello.spool_epoch()}];
      if (hello.first_seq() > mark + 1) {
        const uint64_t lost = hello.first_seq() - 1 - mark;
        p.lost_lines.push_back(absl::StrCat(
            "agent ", hello.agent_id(), " (spool epoch \"", hello.spool_epoch(), "\") lost ", lost,
            " batches, seqs ", mark + 1, " through ", hello.first_seq() - 1,
            ": its spool holds none before seq ", hello.first_seq(),
            " (was this collector's store restored from a backup?); continuing from seq ",
            hello.first_seq()));
        p.lost_batches += lost;
        mark = hello.first_seq() - 1;
        view.PutRaw(Family::kAgentMarks, AgentMarkKey(hello.agent_id(), hello.spool_epoch()),
                    EncodeFixed64(mark));
      }
    }
    if (s.batch || s.refused_seq != 0) {
      uint64_t& mark = p.new_marks[{hello.agent_id(), hello.spool_epoch()}];
      if (seq <= mark) {
        p.duplicate[i] = true;
      } else if (seq != mark + 1) {
        // Storing it would leave a hole under the mark that Welcome and the
        // duplicate acks vouch for: the batch waits for those before it.
        p.out_of_order[i] = absl::FailedPreconditionError(absl::StrCat(
            "batch seq ", seq, " is out of order: agent ", hello.agent_id(), " (spool epoch \"",
            hello.spool_epoch(), "\") has every batch through seq ", mark,
            " stored, so the next must be seq ", mark + 1, "; re-send from seq ", mark + 1));
      } else if (!s.batch) {
        // A refused batch is settled as if stored: the next one follows it.
        mark = seq;
        view.PutRaw(Family::kAgentMarks, AgentMarkKey(hello.agent_id(), hello.spool_epoch()),
                    EncodeFixed64(mark));
      } else {
        absl::Status st;
        std::vector<const v1::RunProfileResult*> runs;
        const std::vector<absl::string_view>& wire_runs = s.wire.runs;
        const bool from_wire = wire_runs.size() == static_cast<size_t>(s.batch->events_size());
        for (int e_at = 0; e_at < s.batch->events_size(); ++e_at) {
          const v1::Event& e = s.batch->events(e_at);
          switch (e.kind_case()) {
            case v1::Event::kRun:
              st = ApplyRun(view, info.server(), info.tenant(), e.run(),
                            from_wire ? wire_runs[static_cast<size_t>(e_at)] : absl::string_view());
              runs.push_back(&e.run());
              break;
            case v1::Event::kPendingExports:
              st = ApplySnapshot(view, info.server(), info.tenant(), e.pending_exports());
              ApplySnapshotToState(e.pending_exports(), &info);
              break;
            case v1::Event::kExportError:
              st = ApplyExportError(view, info.server(), info.tenant(), e.export_error());
              break;
            case v1::Event::kSettings:
              *info.mutable_settings() = e.settings();
              break;
            case v1::Event::kHeartbeat:
              *info.mutable_last_heartbeat() = e.heartbeat();
              break;
            case v1::Event::kConfiguration:
              st = ApplyConfiguration(view, info.server(), info.tenant(), e.configuration());
              break;
            case v1::Event::KIND_NOT_SET:
              break;
          }
          if (!st.ok()) break;
        }
        if (!st.ok()) {
          // Reading what was stored failed: the store itself is in trouble, so
          // fail the whole group rather than commit half a batch.
          p.failed = st;
          return;
        }
        ApplyRunsToState(runs, &info);
        mark = seq;
        view.PutRaw(Family::kAgentMarks, AgentMarkKey(hello.agent_id(), hello.spool_epoch()),
                    EncodeFixed64(mark));
        ++p.stored_batches;
        p.stored_events += static_cast<uint64_t>(s.batch->events_size());
      }
    }
    info.set_role(RoleOf(info, hello));
  }
  for (const auto& [server, info] : touched) {
    view.Put(Family::kServers, ServerKey(server), info);
    p.tenants[server] = info.tenant();
  }
  view.Flush();
  // The next group builds on this one's outcome; if the commit fails, the
  // epoch changes and the servers and marks are read again.
  {
    MutexLock lock(&mu_);
    for (const auto& [key, seq] : p.new_marks) prepared_marks_[key] = seq;
  }
  for (auto& [server, info] : touched) servers_[server] = std::move(info);
  stats_.groups_prepared.fetch_add(1);
}

void StorageWriter::RunCommits() {
  for (;;) {
    std::unique_ptr<Prepared> p;
    {
      MutexLock lock(&mu_);
      while (prepared_.empty() && !preparing_done_) commit_cv_.Wait();
      if (prepared_.empty()) return;  // the writer thread is done and all is committed
      p = std::move(prepared_.front());
      prepared_.pop_front();
      commit_cv_.SignalAll();  // room for the next prepared group
    }
    Commit(*p);
  }
}

void StorageWriter::Commit(Prepared& p) {
  std::deque<Submission>& group = p.group;
  absl::Status st = p.failed;
  if (st.ok()) {
    MutexLock lock(&mu_);
    if (p.epoch != epoch_) {
      st = absl::UnavailableError("an earlier write of the collector's store failed");
    }
  }
  if (st.ok()) st = store_.Write(&p.batch);
  if (st.ok()) {
    {
      MutexLock lock(&mu_);
      for (const auto& [key, seq] : p.new_marks) marks_[key] = seq;
      committed_number_ = p.number;
    }
    stats_.commits.fetch_add(1);
    stats_.batches_stored.fetch_add(p.stored_batches);
    stats_.events_stored.fetch_add(p.stored_events);
    stats_.batches_lost.fetch_add(p.lost_batches);
    for (const std::string& line : p.lost_lines) SYNCWATCH_LOG(kWarning, line);
    if (options_.on_commit) {
      std::vector<CommittedSubmission> committed;
      committed.reserve(group.size());
      for (size_t i = 0; i < group.size(); ++i) {
        const std::string& server = group[i].agent->hello.server();
        const bool stored = !p.duplicate[i] && p.out_of_order[i].ok();
        committed.push_back(CommittedSubmission{server, p.tenants.at(server),
                                                stored ? group[i].batch.get() : nullptr});
      }
      options_.on_commit(committed);
    }
  } else {
    stats_.write_failures.fetch_add(1);
    SYNCWATCH_LOG(kError, "storing ", group.size(), " submissions failed: ", st.ToString());
    MutexLock lock(&mu_);
    // Whatever was prepared on top of this group is void (it read through
    // this group's writes): new epoch.
    if (p.epoch == epoch_) ++epoch_;
  }
  for (size_t i = 0; i < group.size(); ++i) {
    if (st.ok() && !p.out_of_order[i].ok()) {
      stats_.batches_out_of_order.fetch_add(1);
      SYNCWATCH_LOG(kWarning, "not stored: ", p.out_of_order[i].message());
      group[i].done(p.out_of_order[i], false);
      continue;
    }
    const bool duplicate = st.ok() && p.duplicate[i];
    if (duplicate) stats_.batches_duplicate.fetch_add(1);
    group[i].done(st, duplicate);
  }
}

}  // namespace syncwatch::collector
