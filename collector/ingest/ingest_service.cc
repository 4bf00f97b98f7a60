#include "collector/ingest/ingest_service.h"

#include <google/protobuf/arena.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/storage/wire_batch.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/time_util.h"

namespace syncwatch::collector {
namespace {

// How far into debt an agent's bucket may go: a Throttle never asks for more
// than this pause, however far the agent overshot.
constexpr absl::Duration kMaxThrottle = absl::Minutes(1);

// The names the peer's verified client certificate vouches for: its DNS
// subject alternative names and its subject CN. Empty without a certificate.
std::vector<std::string> CertificateNames(const grpc::AuthContext* auth) {
  std::vector<std::string> names;
  if (auth == nullptr) return names;
  for (const char* property : {"peer_dns", "x509_common_name"}) {
    for (const grpc::string_ref& ref : auth->FindPropertyValues(property)) {
      std::string name(ref.data(), ref.size());
      // The CN usually repeats a DNS name.
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

}  // namespace

AgentLimiter::AgentLimiter(const AgentLimits& limits, const Clock& clock)
    : limits_(limits), clock_(clock) {}

AgentLimiter::Agent& AgentLimiter::Refilled(const std::string& identity, absl::Time now) {
  const double rate = static_cast<double>(limits_.agent_events_per_second);
  const double burst = 2 * rate;
  auto [it, created] = agents_.try_emplace(identity);
  Agent& a = it->second;
  if (created) {
    a.tokens = burst;
  } else if (now > a.refilled) {
    a.tokens = std::min(burst, a.tokens + rate * absl::ToDoubleSeconds(now - a.refilled));
  }
  a.refilled = std::max(a.refilled, now);
  return a;
}

absl::Status AgentLimiter::AcquireStream(const std::string& identity) {
  const absl::Time now = clock_.Now();
  MutexLock lock(&mu_);
  // Hellos are rare: a sweep here keeps the map as small as the fleet.
  const double burst = 2 * static_cast<double>(limits_.agent_events_per_second);
  for (auto it = agents_.begin(); it != agents_.end();) {
    if (it->first != identity && it->second.streams == 0 &&
        Refilled(it->first, now).tokens >= burst) {
      it = agents_.erase(it);
    } else {
      ++it;
    }
  }
  Agent& a = Refilled(identity, now);
  if (a.streams >= limits_.max_streams_per_agent) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "agent ", identity, " already has ", a.streams,
        " streams open (limits.max_streams_per_agent is ", limits_.max_streams_per_agent, ")"));
  }
  ++a.streams;
  return absl::OkStatus();
}

void AgentLimiter::ReleaseStream(const std::string& identity) {
  MutexLock lock(&mu_);
  auto it = agents_.find(identity);
  if (it != agents_.end() && it->second.streams > 0) --it->second.streams;
}

absl::Duration AgentLimiter::TakeEvents(const std::string& identity, int64_t events) {
  const absl::Time now = clock_.Now();
  const double rate = static_cast<double>(limits_.agent_events_per_second);
  MutexLock lock(&mu_);
  Agent& a = Refilled(identity, now);
  a.tokens =
      std::max(a.tokens - static_cast<double>(events), -rate * absl::ToDoubleSeconds(kMaxThrottle));
  if (a.tokens >= 0) return absl::ZeroDuration();
  return absl::Ceil(absl::Seconds(-a.tokens / rate), absl::Milliseconds(1));
}

// A message read from the agent: its bytes and their parse, both on an arena
// of their own. A batch's hundreds of sub-messages are then one allocation to
// free, and the writer holds the batch (and the bytes its runs are stored
// from) through a pointer that owns the arena.
struct Received {
  // Copies `buffer` into one piece and parses it; nullopt when it does not
  // parse as an AgentMessage.
  static std::optional<Received> Parse(const grpc::ByteBuffer& buffer) {
    google::protobuf::ArenaOptions options;
    // An agent's batch is ~200 KiB on the wire and about twice that parsed.
    options.start_block_size = 64 * 1024;
    options.max_block_size = 1024 * 1024;
    Received r;
    r.arena = std::make_shared<google::protobuf::Arena>(options);
    std::vector<grpc::Slice> slices;
    if (!buffer.Dump(&slices).ok()) return std::nullopt;
    std::string* bytes = google::protobuf::Arena::Create<std::string>(r.arena.get());
    bytes->reserve(buffer.Length());
    for (const grpc::Slice& slice : slices) {
      bytes->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    r.bytes = *bytes;
    r.message = google::protobuf::Arena::CreateMessage<v1::AgentMessage>(r.arena.get());
    if (!r.message->ParseFromString(*bytes)) return std::nullopt;
    return r;
  }
  std::shared_ptr<google::protobuf::Arena> arena;
  // What the agent sent, in one piece.
  absl::string_view bytes;
  v1::AgentMessage* message = nullptr;
};

// Reads and writes the stream's messages as bytes (the service's raw method),
// so that a batch's runs are stored as they came (FindBatchWire).
class IngestReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  IngestReactor(IngestService& service, std::string peer, std::vector<std::string> cert_names)
      : service_(service),
        peer_(std::move(peer)),
        cert_names_(std::move(cert_names)),
        max_in_flight_(std::max<size_t>(1, service.options_.max_batches_in_flight)) {
    service_.stats_.streams_open.fetch_add(1);
    service_.stats_.streams_total.fetch_add(1);
    MutexLock lock(&mu_);
    ReadLocked();
  }

  void OnReadDone(bool ok) override {
    grpc::ByteBuffer received;
    {
      MutexLock lock(&mu_);
      reading_ = false;
      // Until this message is handled no other read starts (an ack's
      // completion would otherwise start one): a stream's batches must reach
      // the writer in the order they came, or a later seq stored first makes
      // the earlier batch look like a re-send. Nor may the stream finish (and
      // delete this reactor) meanwhile.
      handling_read_ = true;
      received.Swap(&in_);
    }
    Handle(ok, received);
    bool finish = false;
    grpc::Status status;
    {
      MutexLock lock(&mu_);
      handling_read_ = false;
      ReadIfRoomLocked();
      finish = ShouldFinishLocked(&status);
    }
    if (finish) Finish(status);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishWhenIdle(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to agent failed"));
      return;
    }
    bool finish = false;
    grpc::Status status;
    {
      MutexLock lock(&mu_);
      writing_ = false;
      if (!welcomed_) {
        welcomed_ = true;
        ReadLocked();
      }
      WriteNextLocked();
      ReadIfRoomLocked();
      finish = ShouldFinishLocked(&status);
    }
    if (finish) Finish(status);
  }

  void OnCancel() override {
    // A pending read or write now completes with ok=false and finishes the
    // stream; pending submissions finish it from their completions.
    FinishWhenIdle(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (holds_stream_) service_.limiter_.ReleaseStream(identity_);
    service_.stats_.streams_open.fetch_sub(1);
    delete this;
  }

 private:
  // The answer owed for one batch read, in the order the batches were read:
  // acks go out in that order whatever order the work completes in.
  struct Owed {
    uint64_t seq = 0;
    bool ready = false;
    // Asked before the answer, when the agent is over its rate.
    std::optional<v1::CollectorMessage> throttle;
    v1::CollectorMessage answer;
  };

  void Handle(bool ok, const grpc::ByteBuffer& buffer) {
    if (!ok) {
      // The agent closed its side, or the stream broke: finish once every
      // batch read has its answer written.
      FinishAfterAnswers();
      return;
    }
    std::optional<Received> parsed = Received::Parse(buffer);
    if (!parsed) {
      SYNCWATCH_LOG(kWarning, "stream from ", peer_, " ended: a message of ", buffer.Length(),
                    " bytes does not parse as a syncwatch.v1.AgentMessage");
      FinishWhenIdle(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("a message of ", buffer.Length(),
                                    " bytes does not parse as a syncwatch.v1.AgentMessage")));
      return;
    }
    Received& received = *parsed;
    const v1::AgentMessage& message = *received.message;
    if (!agent_) {
      HandleHello(message);
      return;
    }
    if (message.has_hello()) {
      FinishWhenIdle(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "hello sent twice on one stream"));
      return;
    }
    if (!message.has_batch()) {
      FinishWhenIdle(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "message carries neither hello nor batch"));
      return;
    }
    HandleBatch(std::move(received));
  }

  void HandleHello(const v1::AgentMessage& message) {
    if (!message.has_hello()) {
      FinishWhenIdle(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the first message must be a hello"));
      return;
    }
    absl::Status valid = ValidateHello(message.hello(), service_.options_.limits);
    if (!valid.ok()) {
      SYNCWATCH_LOG(kWarning, "stream from ", peer_, " refused: ", valid.message());
      FinishWhenIdle(ToGrpcStatus(valid));
      return;
    }
    const v1::Hello& hello = message.hello();
    if (service_.options_.require_client_identity) {
      const bool named =
          std::any_of(cert_names_.begin(), cert_names_.end(), [&hello](const std::string& name) {
            return absl::EqualsIgnoreCase(name, hello.server());
          });
      if (!named) {
        service_.stats_.identity_rejections.fetch_add(1);
        const std::string names =
            cert_names_.empty() ? "no DNS name or CN" : absl::StrJoin(cert_names_, ", ");
        SYNCWATCH_LOG(kWarning, "stream from ", peer_, " refused: agent ", hello.agent_id(),
                      " wrote as server ", hello.server(), " but its certificate names ", names);
        FinishWhenIdle(grpc::Status(
            grpc::StatusCode::PERMISSION_DENIED,
            absl::StrCat("the client certificate names ", names, ", not server ", hello.server(),
                         ": an agent may only write events for the server its certificate "
                         "names")));
        return;
      }
      identity_ = absl::AsciiStrToLower(hello.server());
    } else {
      identity_ = hello.agent_id();
    }
    absl::Status admitted = service_.limiter_.AcquireStream(identity_);
    if (!admitted.ok()) {
      service_.stats_.stream_limit_rejections.fetch_add(1);
      SYNCWATCH_LOG(kWarning, "stream from ", peer_, " refused: ", admitted.message());
      FinishWhenIdle(ToGrpcStatus(admitted));
      return;
    }
    holds_stream_ = true;
    auto agent = std::make_shared<AgentContext>();
    agent->hello = hello;
    agent_ = agent;
    SYNCWATCH_LOG(kInfo, "agent ", agent_->hello.agent_id(), " (server ", agent_->hello.server(),
                  ") connected from ", peer_);
    const uint64_t stored = StoredSeq();
    if (hello.first_seq() <= stored + 1) {
      // Record the sign of life; its outcome does not matter to the stream.
      service_.writer_.Submit(agent_, nullptr, [](absl::Status, bool) {});
      MutexLock lock(&mu_);
      // The first batch is read once the Welcome is out (OnWriteDone).
      if (!finished_) WriteLocked(WelcomeMessage(stored));
      return;
    }
    // The agent's spool no longer holds what this collector needs next: the
    // writer skips the mark to first_seq - 1 (recording the loss) with the
    // sign of life, and the Welcome tells the mark once that is durable.
    {
      MutexLock lock(&mu_);
      ++submitting_;
    }
    service_.writer_.Submit(agent_, nullptr, [this](absl::Status st, bool) {
      const uint64_t mark = StoredSeq();
      bool finish = false;
      grpc::Status status;
      {
        MutexLock lock(&mu_);
        --submitting_;
        if (!st.ok()) {
          FailLocked(st, "the agent's sign of life");
        } else if (!finished_ && !pending_finish_) {
          WriteLocked(WelcomeMessage(mark));
        }
        finish = ShouldFinishLocked(&status);
      }
      if (finish) Finish(status);
    });
  }

  uint64_t StoredSeq() {
    return service_.writer_.StoredSeq(agent_->hello.agent_id(), agent_->hello.spool_epoch());
  }

  v1::CollectorMessage WelcomeMessage(uint64_t stored_seq) {
    v1::CollectorMessage answer;
    v1::Welcome* welcome = answer.mutable_welcome();
    welcome->set_collector_version(service_.options_.collector_version);
    welcome->set_stored_seq(stored_seq);
    return answer;
  }

  void HandleBatch(Received received) {
    const v1::EventBatch& batch = received.message->batch();
    service_.stats_.batches_received.fetch_add(1);
    std::optional<BatchWire> wire = FindBatchWire(received.bytes, batch);
    const size_t bytes = wire ? wire->size : batch.ByteSizeLong();
    service_.stats_.bytes_received.fetch_add(bytes);
    absl::Status valid;
    if (bytes > service_.options_.max_batch_bytes) {
      valid = absl::InvalidArgumentError(absl::StrCat("batch ", batch.seq(), " is ", bytes,
                                                      " bytes (limit ",
                                                      service_.options_.max_batch_bytes, ")"));
    } else {
      valid = ValidateBatch(batch, service_.options_.limits);
    }
    const uint64_t seq = batch.seq();
    if (!valid.ok()) {
      service_.stats_.batches_refused.fetch_add(1);
      SYNCWATCH_LOG(kWarning, "agent ", agent_->hello.agent_id(), ": refused ", valid.message());
      {
        MutexLock lock(&mu_);
        if (finished_ || pending_finish_) return;
        Owed& owed = owed_.emplace_back();
        owed.seq = seq;
        owed.answer.mutable_refusal()->set_seq(seq);
        owed.answer.mutable_refusal()->set_reason(std::string(valid.message()));
        ++submitting_;
      }
      // The refused seq is settled in the agent's sequence like a stored
      // batch (the agent does not send it again), in order with the others.
      service_.writer_.SubmitRefusal(
          agent_, seq, [this, seq](absl::Status st, bool) { OnStored(seq, st, false); });
      return;
    }
    // Over the rate the batch is still stored: the Throttle before its ack
    // slows the agent down instead.
    const absl::Duration throttle = service_.limiter_.TakeEvents(identity_, batch.events_size());
    {
      MutexLock lock(&mu_);
      // OnCancel may have finished the stream meanwhile; then nobody waits
      // for the ack and the agent re-sends the batch on its next stream.
      if (finished_ || pending_finish_) return;
      Owed& owed = owed_.emplace_back();
      owed.seq = seq;
      if (throttle > absl::ZeroDuration()) owed.throttle = ThrottleMessage(throttle);
      ++submitting_;
    }
    // The pointer to the batch owns the arena it was parsed onto, and the
    // bytes `wire` points into. The next batch is read (OnReadDone) and parsed
    // while this one is stored.
    std::shared_ptr<const v1::EventBatch> stored(received.arena, &batch);
    service_.writer_.Submit(
        agent_, std::move(stored), wire ? std::move(*wire) : BatchWire(),
        [this, seq](absl::Status st, bool duplicate) { OnStored(seq, st, duplicate); });
  }

  v1::CollectorMessage ThrottleMessage(absl::Duration pause) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    service_.stats_.throttles.fetch_add(1);
    const std::string reason =
        absl::StrCat("agent ", identity_, " is over limits.agent_events_per_second (",
                     service_.options_.agent_limits.agent_events_per_second, "); pause ",
                     absl::FormatDuration(pause));
    if (!throttled_before_) {
      throttled_before_ = true;
      SYNCWATCH_LOG(kInfo, "throttling: ", reason);
    }
    v1::CollectorMessage m;
    *m.mutable_throttle()->mutable_retry_after() = ToProtoDuration(pause);
    m.mutable_throttle()->set_reason(reason);
    return m;
  }

  // The stream is to end with the failure of the write of `what` (unless it
  // already is to end).
  void FailLocked(const absl::Status& st, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_finish_) return;
    pending_finish_ =
        ToGrpcStatus(absl::Status(st.code(), absl::StrCat(what, " not stored: ", st.message())));
  }

  // Runs on the writer's commit thread (or inline when the writer refused at once).
  void OnStored(uint64_t seq, const absl::Status& st, bool duplicate) {
    bool finish = false;
    grpc::Status status;
    {
      MutexLock lock(&mu_);
      --submitting_;
      if (!st.ok()) {
        FailLocked(st, absl::StrCat("batch ", seq));
      } else {
        // Submissions complete in the order they were made, so this is the
        // first answer still waiting.
        for (Owed& owed : owed_) {
          if (owed.ready || owed.seq != seq) continue;
          owed.ready = true;
          if (!owed.answer.has_refusal()) {
            owed.answer.mutable_ack()->set_seq(seq);
            owed.answer.mutable_ack()->set_duplicate(duplicate);
          }
          break;
        }
        WriteNextLocked();
      }
      finish = ShouldFinishLocked(&status);
    }
    if (finish) Finish(status);
  }

  // Start* must not follow Finish (OnCancel may finish the stream at any time).
  // Start* is called under the lock (as gRPC's flow-control example does), so
  // that no operation can start between Finish's decision and its call.
  // No read starts while the one before is being handled (see OnReadDone).
  void ReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || pending_finish_ || closing_ || reading_ || handling_read_) return;
    in_.Clear();
    reading_ = true;
    StartRead(&in_);
  }

  // Serializes `message` into out_ and writes it; the caller checked that no
  // write is in progress and the stream is not finished.
  void WriteLocked(const v1::CollectorMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    out_.Clear();
    bool own_buffer = false;
    // Serializing a message of ours fails only beyond 2 GiB.
    (void)grpc::SerializationTraits<v1::CollectorMessage>::Serialize(message, &out_, &own_buffer);
    writing_ = true;
    StartWrite(&out_);
  }

  // Reads the next batch while fewer than max_in_flight_ batches wait for
  // their answers: this bounds what one stream holds, and gRPC's flow control
  // then paces the agent.
  void ReadIfRoomLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (welcomed_ && owed_.size() < max_in_flight_) ReadLocked();
  }

  // Writes the next answer if it is ready and no write is in progress; none
  // once the stream is to end with an error (the agent re-sends what it has
  // no ack for, and the re-sends are acked as duplicates).
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || pending_finish_ || writing_ || owed_.empty() || !owed_.front().ready) return;
    Owed& next = owed_.front();
    if (next.throttle) {
      // The Throttle goes first, so that the agent pauses before the ack
      // frees its window.
      WriteLocked(*next.throttle);
      next.throttle.reset();
    } else {
      WriteLocked(next.answer);
      owed_.pop_front();
    }
  }

  // Whether the stream should finish now, and with what: a finish was asked
  // for and no submission is pending (its completion points at this
  // reactor); after the agent closed its side, also every answer written.
  // A true answer claims the finish (finished_), so that of two threads that
  // ask at once only one calls Finish: the other could otherwise reach this
  // reactor after gRPC ran OnDone and deleted it.
  bool ShouldFinishLocked(grpc::Status* status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || submitting_ > 0 || handling_read_) return false;
    if (pending_finish_) {
      *status = *pending_finish_;
    } else if (closing_ && owed_.empty() && !writing_) {
      *status = grpc::Status::OK;
    } else {
      return false;
    }
    finished_ = true;
    return true;
  }

  void FinishAfterAnswers() {
    bool finish = false;
    grpc::Status final_status;
    {
      MutexLock lock(&mu_);
      closing_ = true;
      finish = ShouldFinishLocked(&final_status);
    }
    if (finish) Finish(final_status);
  }

  // Finishes at once unless the writer still holds a pointer to this reactor
  // (finishing could run OnDone and delete it), in which case OnStored does.
  void FinishWhenIdle(const grpc::Status& status) {
    bool finish = false;
    grpc::Status final_status;
    {
      MutexLock lock(&mu_);
      if (!pending_finish_) pending_finish_ = status;
      finish = ShouldFinishLocked(&final_status);
    }
    if (finish) Finish(final_status);
  }

  // ServerBidiReactor::Finish must be called once, by the thread whose
  // ShouldFinishLocked claimed it, and outside the lock: gRPC may run OnDone
  // (which deletes the reactor) at once.
  void Finish(const grpc::Status& status) { ServerBidiReactor::Finish(status); }

  IngestService& service_;
  const std::string peer_;
  // What the client certificate names (empty without mutual TLS).
  const std::vector<std::string> cert_names_;
  const size_t max_in_flight_;
  // Whom the limits count this stream against; set by the Hello.
  std::string identity_;
  bool holds_stream_ = false;
  std::shared_ptr<const AgentContext> agent_;

  Mutex mu_;
  // The message being read; moved out when the read completes.
  grpc::ByteBuffer in_ ABSL_GUARDED_BY(mu_);
  // The message being written.
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(mu_);
  std::deque<Owed> owed_ ABSL_GUARDED_BY(mu_);
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Batches handed to the writer whose completion has not run yet.
  int submitting_ ABSL_GUARDED_BY(mu_) = 0;
  // OnReadDone is handling the message read (see there).
  bool handling_read_ ABSL_GUARDED_BY(mu_) = false;
  // The agent closed its side: finish once the answers owed are written.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  bool throttled_before_ ABSL_GUARDED_BY(mu_) = false;
};

IngestService::IngestService(StorageWriter& writer, const Clock& clock, const Options& options)
    : writer_(writer), options_(options), limiter_(options.agent_limits, clock) {}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* IngestService::StreamEvents(
    grpc::CallbackServerContext* context) {
  std::vector<std::string> names;
  if (options_.require_client_identity) names = CertificateNames(context->auth_context().get());
  return new IngestReactor(*this, context->peer(), std::move(names));
}

}  // namespace syncwatch::collector
