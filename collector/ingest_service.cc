#include "collector/ingest_service.h"

#include <grpcpp/security/auth_context.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

class IngestReactor final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  IngestReactor(IngestService& service, std::string peer, std::vector<std::string> cert_names)
      : service_(service), peer_(std::move(peer)), cert_names_(std::move(cert_names)) {
    service_.stats_.streams_open.fetch_add(1);
    service_.stats_.streams_total.fetch_add(1);
    Read();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The agent closed its side, or the stream broke.
      FinishWhenIdle(grpc::Status::OK);
      return;
    }
    if (!agent_) {
      HandleHello();
      return;
    }
    if (in_.has_hello()) {
      Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "hello sent twice on one stream"));
      return;
    }
    if (!in_.has_batch()) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "message carries neither hello nor batch"));
      return;
    }
    HandleBatch();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishWhenIdle(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to agent failed"));
      return;
    }
    if (ack_after_throttle_) {
      out_.Swap(&*ack_after_throttle_);
      ack_after_throttle_.reset();
      Write();
      return;
    }
    Read();
  }

  void OnCancel() override {
    // A pending read or write now completes with ok=false and finishes the
    // stream; a pending submission finishes it from its completion.
    FinishWhenIdle(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (holds_stream_) service_.limiter_.ReleaseStream(identity_);
    service_.stats_.streams_open.fetch_sub(1);
    delete this;
  }

 private:
  void HandleHello() {
    if (!in_.has_hello()) {
      Finish(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the first message must be a hello"));
      return;
    }
    absl::Status valid = ValidateHello(in_.hello(), service_.options_.limits);
    if (!valid.ok()) {
      SYNCWATCH_LOG(kWarning, "stream from ", peer_, " refused: ", valid.message());
      Finish(ToGrpcStatus(valid));
      return;
    }
    const v1::Hello& hello = in_.hello();
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
        Finish(grpc::Status(
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
      Finish(ToGrpcStatus(admitted));
      return;
    }
    holds_stream_ = true;
    auto agent = std::make_shared<AgentContext>();
    agent->hello = std::move(*in_.mutable_hello());
    agent_ = agent;
    SYNCWATCH_LOG(kInfo, "agent ", agent_->hello.agent_id(), " (server ", agent_->hello.server(),
                  ") connected from ", peer_);
    // Record the sign of life; its outcome does not matter to the stream.
    service_.writer_.Submit(agent_, nullptr, [](absl::Status, bool) {});
    out_.Clear();
    v1::Welcome* welcome = out_.mutable_welcome();
    welcome->set_collector_version(service_.options_.collector_version);
    welcome->set_stored_seq(
        service_.writer_.StoredSeq(agent_->hello.agent_id(), agent_->hello.spool_epoch()));
    Write();
  }

  void HandleBatch() {
    service_.stats_.batches_received.fetch_add(1);
    const size_t bytes = in_.batch().ByteSizeLong();
    service_.stats_.bytes_received.fetch_add(bytes);
    absl::Status valid;
    if (bytes > service_.options_.max_batch_bytes) {
      valid = absl::InvalidArgumentError(absl::StrCat("batch ", in_.batch().seq(), " is ", bytes,
                                                      " bytes (limit ",
                                                      service_.options_.max_batch_bytes, ")"));
    } else {
      valid = ValidateBatch(in_.batch(), service_.options_.limits);
    }
    if (!valid.ok()) {
      service_.stats_.batches_refused.fetch_add(1);
      SYNCWATCH_LOG(kWarning, "agent ", agent_->hello.agent_id(), ": refused ", valid.message());
      out_.Clear();
      out_.mutable_refusal()->set_seq(in_.batch().seq());
      out_.mutable_refusal()->set_reason(std::string(valid.message()));
      Write();
      return;
    }
    // Over the rate the batch is still stored: the Throttle before its ack
    // slows the agent down instead.
    throttle_ = service_.limiter_.TakeEvents(identity_, in_.batch().events_size());
    auto batch = std::make_unique<v1::EventBatch>(std::move(*in_.mutable_batch()));
    const uint64_t seq = batch->seq();
    {
      MutexLock lock(&mu_);
      // OnCancel may have finished the stream meanwhile; then nobody waits
      // for the ack and the agent re-sends the batch on its next stream.
      if (finished_ || pending_finish_) return;
      submitting_ = true;
    }
    service_.writer_.Submit(agent_, std::move(batch), [this, seq](absl::Status st, bool duplicate) {
      OnStored(seq, st, duplicate);
    });
  }

  // Runs on the writer thread (or inline when the writer refused at once).
  void OnStored(uint64_t seq, const absl::Status& st, bool duplicate) {
    bool finish_now = false;
    grpc::Status finish_status;
    {
      MutexLock lock(&mu_);
      submitting_ = false;
      if (pending_finish_) {
        finish_now = true;
        finish_status = *pending_finish_;
      }
    }
    if (finish_now) {
      Finish(finish_status);
      return;
    }
    if (!st.ok()) {
      Finish(ToGrpcStatus(
          absl::Status(st.code(), absl::StrCat("batch ", seq, " not stored: ", st.message()))));
      return;
    }
    out_.Clear();
    out_.mutable_ack()->set_seq(seq);
    out_.mutable_ack()->set_duplicate(duplicate);
    if (throttle_ > absl::ZeroDuration()) {
      // The Throttle goes first, so that the agent pauses before the ack
      // frees its window; OnWriteDone then sends the ack.
      ack_after_throttle_.emplace();
      ack_after_throttle_->Swap(&out_);
      service_.stats_.throttles.fetch_add(1);
      const std::string reason =
          absl::StrCat("agent ", identity_, " is over limits.agent_events_per_second (",
                       service_.options_.agent_limits.agent_events_per_second, "); pause ",
                       absl::FormatDuration(throttle_));
      if (!throttled_before_) {
        throttled_before_ = true;
        SYNCWATCH_LOG(kInfo, "throttling: ", reason);
      }
      *out_.mutable_throttle()->mutable_retry_after() = ToProtoDuration(throttle_);
      out_.mutable_throttle()->set_reason(reason);
    }
    Write();
  }

  // Start* must not follow Finish (OnCancel may finish the stream at any time).
  // Start* is called under the lock (as gRPC's flow-control example does), so
  // that no operation can start between Finish's decision and its call.
  void Read() {
    MutexLock lock(&mu_);
    if (!finished_) StartRead(&in_);
  }
  void Write() {
    MutexLock lock(&mu_);
    if (!finished_) StartWrite(&out_);
  }

  // Finishes at once unless the writer still holds a pointer to this reactor
  // (finishing could run OnDone and delete it), in which case OnStored does.
  void FinishWhenIdle(const grpc::Status& status) {
    {
      MutexLock lock(&mu_);
      if (submitting_) {
        if (!pending_finish_) pending_finish_ = status;
        return;
      }
    }
    Finish(status);
  }

  // ServerBidiReactor::Finish must be called once.
  void Finish(const grpc::Status& status) {
    {
      MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    ServerBidiReactor::Finish(status);
  }

  IngestService& service_;
  const std::string peer_;
  // What the client certificate names (empty without mutual TLS).
  const std::vector<std::string> cert_names_;
  // Whom the limits count this stream against; set by the Hello.
  std::string identity_;
  bool holds_stream_ = false;
  // Set on the reactor before a batch is submitted, read by its completion.
  absl::Duration throttle_;
  bool throttled_before_ = false;
  // An ack waiting for the Throttle before it to be written.
  std::optional<v1::CollectorMessage> ack_after_throttle_;
  v1::AgentMessage in_;
  v1::CollectorMessage out_;
  std::shared_ptr<const AgentContext> agent_;

  Mutex mu_;
  bool submitting_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

IngestService::IngestService(StorageWriter& writer, const Clock& clock, const Options& options)
    : writer_(writer), options_(options), limiter_(options.agent_limits, clock) {}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* IngestService::StreamEvents(
    grpc::CallbackServerContext* context) {
  std::vector<std::string> names;
  if (options_.require_client_identity) names = CertificateNames(context->auth_context().get());
  return new IngestReactor(*this, context->peer(), std::move(names));
}

}  // namespace syncwatch::collector
