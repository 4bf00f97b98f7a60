#include "collector/ingest_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/mutex.h"

namespace syncwatch::collector {

class IngestReactor final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  IngestReactor(IngestService& service, std::string peer)
      : service_(service), peer_(std::move(peer)) {
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
    Read();
  }

  void OnCancel() override {
    // A pending read or write now completes with ok=false and finishes the
    // stream; a pending submission finishes it from its completion.
    FinishWhenIdle(grpc::Status::CANCELLED);
  }

  void OnDone() override {
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
  v1::AgentMessage in_;
  v1::CollectorMessage out_;
  std::shared_ptr<const AgentContext> agent_;

  Mutex mu_;
  bool submitting_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

IngestService::IngestService(StorageWriter& writer, const Options& options)
    : writer_(writer), options_(options) {}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* IngestService::StreamEvents(
    grpc::CallbackServerContext* context) {
  return new IngestReactor(*this, context->peer());
}

}  // namespace syncwatch::collector
