#include "collector/storage_writer.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "collector/record_keys.h"
#include "collector/server_state.h"
#include "common/key_codec.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace syncwatch::collector {
namespace {

std::string EncodeFixed64(uint64_t v) { return KeyBuilder().Uint64(v).Take(); }

bool DecodeFixed64(absl::string_view s, uint64_t* v) {
  KeyReader r(s);
  return r.Uint64(v) && r.done();
}

// Reads through the records this group already wrote, so that two updates of
// one key inside a group see each other (RocksDB cannot see an uncommitted
// WriteBatch).
class GroupView {
 public:
  GroupView(Store& store, rocksdb::WriteBatch& batch) : store_(store), batch_(batch) {}

  template <typename Message>
  absl::StatusOr<std::optional<Message>> Get(Family f, const std::string& key) {
    auto it = overlay_.find({f, key});
    std::optional<std::string> bytes;
    if (it != overlay_.end()) {
      bytes = it->second;
    } else {
      SYNCWATCH_ASSIGN_OR_RETURN(bytes, store_.Get(f, key));
    }
    if (!bytes) return std::optional<Message>();
    Message m;
    if (!m.ParseFromString(*bytes)) {
      return absl::DataLossError(
          absl::StrCat("stored record in family ", static_cast<int>(f), " does not parse"));
    }
    return std::optional<Message>(std::move(m));
  }

  void Put(Family f, const std::string& key, const google::protobuf::Message& value) {
    PutBytes(f, key, value.SerializeAsString());
  }

  // A record already serialised.
  void PutBytes(Family f, const std::string& key, std::string bytes) {
    batch_.Put(store_.cf(f), key, bytes);
    overlay_[{f, key}] = std::move(bytes);
  }

  void PutRaw(Family f, const std::string& key, const std::string& bytes) {
    batch_.Put(store_.cf(f), key, bytes);
  }

  // A run record. Runs stay out of the overlay (the bulk of a group, read
  // back only to learn whether a complete version is stored): the group
  // remembers just the keys of the complete ones.
  void PutRun(const std::string& key, const std::string& bytes, bool complete) {
    batch_.Put(store_.cf(Family::kRuns), key, bytes);
    if (complete) complete_runs_.insert(key);
  }

  // Whether the run under `key` is stored, or written by this group, complete.
  absl::StatusOr<bool> HasCompleteRun(const std::string& key) {
    if (complete_runs_.contains(key)) return true;
    SYNCWATCH_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Family::kRuns, key));
    if (!bytes) return false;
    SYNCWATCH_ASSIGN_OR_RETURN(v1::StoredRun stored, ParseRecord<v1::StoredRun>(*bytes));
    return stored.run().is_run_complete();
  }

 private:
  Store& store_;
  rocksdb::WriteBatch& batch_;
  // Records of the families a group reads back (export errors, snapshots).
  std::map<std::pair<Family, std::string>, std::string> overlay_;
  absl::flat_hash_set<std::string> complete_runs_;
};

bool Before(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return ToUnixMicrosOrZero(a) < ToUnixMicrosOrZero(b);
}

absl::Status ApplyExportError(GroupView& view, const std::string& server, const std::string& tenant,
                              const v1::ExportError& error) {
  const std::string key = ExportErrorKey(server, error);
  SYNCWATCH_ASSIGN_OR_RETURN(auto existing,
                             view.Get<v1::StoredExportError>(Family::kExportErrors, key));
  v1::StoredExportError record;
  record.set_server(server);
  record.set_tenant(tenant);
  *record.mutable_error() = error;
  if (existing) {
    const v1::ExportError& old = existing->error();
    // A re-sent older report must not replace a newer one.
    if (old.has_date_occurred() && error.has_date_occurred() &&
        Before(error.date_occurred(), old.date_occurred())) {
      return absl::OkStatus();
    }
    if (old.has_first_occurred() &&
        (!error.has_first_occurred() || Before(old.first_occurred(), error.first_occurred()))) {
      *record.mutable_error()->mutable_first_occurred() = old.first_occurred();
    }
  }
  view.Put(Family::kExportErrors, key, record);
  return absl::OkStatus();
}

}  // namespace

std::string SerializeStoredRun(const std::string& server, const std::string& tenant,
                               const v1::RunProfileResult& run) {
  // A message's bytes are its fields' in any order: the server and tenant
  // (fields 1 and 2) as a StoredRun writes them, then the run as field 3.
  v1::StoredRun head;
  head.set_server(server);
  head.set_tenant(tenant);
  std::string bytes = head.SerializeAsString();
  const size_t run_size = run.ByteSizeLong();
  bytes.reserve(bytes.size() + run_size + 8);
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
        v1::StoredRun::kRunFieldNumber,
        google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    out.WriteVarint32(static_cast<uint32_t>(run_size));
    run.SerializeWithCachedSizes(&out);
  }
  return bytes;
}

namespace {

absl::Status ApplyRun(GroupView& view, const std::string& server, const std::string& tenant,
                      const v1::RunProfileResult& run) {
  const std::string key = RunKey(server, run);
  // A run seen while in progress and again when complete keeps the complete
  // version, whatever order the reports arrive in. A complete report replaces
  // whatever is stored, so only an in-progress one needs to look: on a store
  // of some size that read (an SST index block or two per run) was most of
  // the writer's time.
  if (!run.is_run_complete()) {
    SYNCWATCH_ASSIGN_OR_RETURN(bool complete_stored, view.HasCompleteRun(key));
    if (complete_stored) return absl::OkStatus();
  }
  view.PutRun(key, SerializeStoredRun(server, tenant, run), run.is_run_complete());
  for (const v1::RunStep& step : run.steps()) {
    for (v1::ExportError error : step.export_errors()) {
      if (error.connector_name().empty()) error.set_connector_name(run.connector_name());
      if (error.connector_id().empty()) error.set_connector_id(run.connector_id());
      SYNCWATCH_RETURN_IF_ERROR(ApplyExportError(view, server, tenant, error));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplySnapshot(GroupView& view, const std::string& server, const std::string& tenant,
                           const v1::PendingExportSnapshot& snapshot) {
  v1::StoredPendingExports record;
  record.set_server(server);
  record.set_tenant(tenant);
  *record.mutable_snapshot() = snapshot;
  const std::string key = SnapshotKey(server, snapshot.connector_name());
  SYNCWATCH_ASSIGN_OR_RETURN(auto existing,
                             view.Get<v1::StoredPendingExports>(Family::kSnapshots, key));
  if (!existing || !Before(snapshot.taken_at(), existing->snapshot().taken_at())) {
    view.Put(Family::kSnapshots, key, record);
  }
  // History keeps the figures only; the object lists live in the latest record.
  record.mutable_snapshot()->clear_deletes();
  record.mutable_snapshot()->clear_adds_and_updates();
  view.Put(Family::kSnapshotHistory, SnapshotHistoryKey(server, snapshot), record);
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

absl::StatusOr<std::unique_ptr<StorageWriter>> StorageWriter::Create(Store& store, Clock& clock,
                                                                     const Options& options) {
  std::unique_ptr<StorageWriter> writer(new StorageWriter(store, clock, options));
  SYNCWATCH_RETURN_IF_ERROR(writer->Load());
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
  }
  auto it = store_.NewIterator(Family::kServers, nullptr);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::ServerInfo info;
    if (!info.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("servers: a record does not parse");
    }
    servers_[info.server()] = std::move(info);
  }
  return FromRocksStatus(it->status(), "load servers");
}

void StorageWriter::Submit(std::shared_ptr<const AgentContext> agent,
                           std::shared_ptr<const v1::EventBatch> batch, Completion done) {
  absl::Status refused;
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("collector is shutting down");
    } else if (queue_.size() >= options_.max_queue) {
      refused = absl::ResourceExhaustedError("collector write queue is full");
    } else {
      queue_.push_back(Submission{std::move(agent), std::move(batch), std::move(done)});
      cv_.Signal();
      return;
    }
  }
  done(refused, false);  // outside the lock: completions may call back in
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
}

void StorageWriter::Run() {
  for (;;) {
    std::deque<Submission> group;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) cv_.Wait();
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && group.size() < options_.max_group_size) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
  }
}

void StorageWriter::CommitGroup(std::deque<Submission>& group) {
  rocksdb::WriteBatch batch;
  GroupView view(store_, batch);
  const auto now = ToProtoTimestamp(clock_.Now());

  std::map<std::pair<std::string, std::string>, uint64_t> new_marks;
  {
    MutexLock lock(&mu_);
    for (const Submission& s : group) {
      const auto key = std::make_pair(s.agent->hello.agent_id(), s.agent->hello.spool_epoch());
      auto it = marks_.find(key);
      new_marks.emplace(key, it == marks_.end() ? 0 : it->second);
    }
  }
  std::map<std::string, v1::ServerInfo> touched;
  std::vector<bool> duplicate(group.size(), false);
  uint64_t stored_batches = 0;
  uint64_t stored_events = 0;

  for (size_t i = 0; i < group.size(); ++i) {
    const Submission& s = group[i];
    const v1::Hello& hello = s.agent->hello;
    auto t = touched.find(hello.server());
    if (t == touched.end()) {
      auto known = servers_.find(hello.server());
      t = touched
              .emplace(hello.server(), known == servers_.end() ? v1::ServerInfo() : known->second)
              .first;
    }
    v1::ServerInfo& info = t->second;
    info.set_server(hello.server());
    if (!hello.tenant().empty()) info.set_tenant(hello.tenant());
    info.set_agent_id(hello.agent_id());
    info.set_agent_version(hello.agent_version());
    *info.mutable_last_seen() = now;

    if (s.batch) {
      uint64_t& mark = new_marks[{hello.agent_id(), hello.spool_epoch()}];
      if (s.batch->seq() <= mark) {
        duplicate[i] = true;
      } else {
        absl::Status st;
        for (const v1::Event& e : s.batch->events()) {
          switch (e.kind_case()) {
            case v1::Event::kRun:
              st = ApplyRun(view, info.server(), info.tenant(), e.run());
              ApplyRunToState(e.run(), &info);
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
            case v1::Event::KIND_NOT_SET:
              break;
          }
          if (!st.ok()) break;
        }
        if (!st.ok()) {
          // Reading what was stored failed: the store itself is in trouble, so
          // fail the whole group rather than commit half a batch.
          for (size_t k = 0; k < group.size(); ++k) group[k].done(st, false);
          stats_.write_failures.fetch_add(1);
          return;
        }
        mark = s.batch->seq();
        view.PutRaw(Family::kAgentMarks, AgentMarkKey(hello.agent_id(), hello.spool_epoch()),
                    EncodeFixed64(mark));
        ++stored_batches;
        stored_events += static_cast<uint64_t>(s.batch->events_size());
      }
    }
    info.set_role(RoleOf(info, hello));
  }
  for (const auto& [server, info] : touched) view.Put(Family::kServers, ServerKey(server), info);

  absl::Status st = store_.Write(&batch);
  if (st.ok()) {
    {
      MutexLock lock(&mu_);
      for (const auto& [key, seq] : new_marks) marks_[key] = seq;
    }
    stats_.commits.fetch_add(1);
    stats_.batches_stored.fetch_add(stored_batches);
    stats_.events_stored.fetch_add(stored_events);
    if (options_.on_commit) {
      std::vector<CommittedSubmission> committed;
      committed.reserve(group.size());
      for (size_t i = 0; i < group.size(); ++i) {
        const std::string& server = group[i].agent->hello.server();
        committed.push_back(CommittedSubmission{server, touched.at(server).tenant(),
                                                duplicate[i] ? nullptr : group[i].batch.get()});
      }
      options_.on_commit(committed);
    }
    for (auto& [server, info] : touched) servers_[server] = std::move(info);
  } else {
    stats_.write_failures.fetch_add(1);
    SYNCWATCH_LOG(kError, "storing ", group.size(), " submissions failed: ", st.ToString());
  }
  for (size_t i = 0; i < group.size(); ++i) {
    if (st.ok() && duplicate[i]) stats_.batches_duplicate.fetch_add(1);
    group[i].done(st, st.ok() && duplicate[i]);
  }
}

}  // namespace syncwatch::collector
