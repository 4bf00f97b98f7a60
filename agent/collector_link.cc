#include "agent/collector_link.h"

#include <grpcpp/create_channel.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"

namespace syncwatch::agent {

absl::StatusOr<std::unique_ptr<CollectorLink>> CollectorLink::Create(LinkOptions options,
                                                                     Spool& spool) {
  std::unique_ptr<CollectorLink> link(new CollectorLink(std::move(options), spool));
  grpc::ChannelArguments args;
  // Notice a dead collector on an idle stream within a minute.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Reconnects are paced by our own back-off, not gRPC's.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxSendMessageSize(-1);
  auto credentials = MakeChannelCredentials(link->options_.tls, &args);
  if (!credentials.ok()) return credentials.status();
  link->stub_ =
      v1::Ingest::NewStub(grpc::CreateCustomChannel(link->options_.address, *credentials, args));
  return link;
}

CollectorLink::CollectorLink(LinkOptions options, Spool& spool)
    : options_(std::move(options)), spool_(spool) {}

CollectorLink::~CollectorLink() { Stop(); }

void CollectorLink::Start() {
  thread_ = std::thread([this] { Supervise(); });
}

void CollectorLink::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    if (active_context_ != nullptr) active_context_->TryCancel();
    cv_.SignalAll();
  }
  spool_.Poke();
  if (thread_.joinable()) thread_.join();
}

std::string CollectorLink::last_error() {
  MutexLock lock(&mu_);
  return last_error_;
}

void CollectorLink::Supervise() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options_.initial_backoff;
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const bool welcomed = RunStream();
    if (welcomed) backoff = options_.initial_backoff;  // the collector was there
    MutexLock lock(&mu_);
    if (stopping_) return;
    std::uniform_int_distribution<int64_t> jitter(0, absl::ToInt64Milliseconds(backoff));
    absl::Time until = std::max(absl::Now() + absl::Milliseconds(jitter(rng)), throttled_until_);
    while (!stopping_ && absl::Now() < until) {
      cv_.WaitFor(absl::ToChronoNanoseconds(until - absl::Now()));
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool CollectorLink::RunStream() {
  grpc::ClientContext context;
  {
    MutexLock lock(&mu_);
    if (stopping_) return false;
    active_context_ = &context;
  }
  auto stream = stub_->StreamEvents(&context);
  bool welcomed = false;
  std::string error;
  v1::AgentMessage hello;
  *hello.mutable_hello() = options_.hello;
  // A collector that needs a batch before this one (every collector had
  // acknowledged it, so it was deleted) records the seqs between as lost and
  // its Welcome says to go on from here (see ingest.proto).
  hello.mutable_hello()->set_first_seq(spool_.FirstSeq());
  v1::CollectorMessage first;
  if (stream->Write(hello) && stream->Read(&first) && first.has_welcome()) {
    welcomed = true;
    // The collector holds every batch through stored_seq and none after it
    // (it stores them in sequence), so this stream starts after stored_seq.
    const uint64_t stored = std::min(first.welcome().stored_seq(), spool_.LastSeq());
    const uint64_t acked_before = spool_.AckedSeq(options_.address);
    if (stored > acked_before) {
      // The collector holds batches whose acks we lost.
      (void)spool_.Ack(options_.address, stored);  // an optimisation only
    } else if (stored < acked_before) {
      SYNCWATCH_LOG(kWarning, "collector ", options_.address, " holds batches through seq ", stored,
                    " only, but acknowledged them through seq ", acked_before,
                    " (was its store restored from a backup?): re-sending from seq ", stored + 1);
    }
    // What the collector settled on this stream: the next batch follows it,
    // even when that is below what the spool counts as acknowledged.
    std::atomic<uint64_t> settled{stored};
    std::atomic<bool> alive{true};
    std::thread reader([&] { ReadAcks(stream.get(), &settled, &alive); });
    uint64_t sent = stored;
    uint64_t generation = 0;
    while (alive.load()) {
      {
        MutexLock lock(&mu_);
        if (stopping_) break;
      }
      const uint64_t acked = settled.load();
      sent = std::max(sent, acked);
      const size_t in_flight = static_cast<size_t>(sent - acked);
      bool throttled = false;
      {
        MutexLock lock(&mu_);
        throttled = absl::Now() < throttled_until_;
      }
      if (!throttled && in_flight < options_.window && spool_.LastSeq() > sent) {
        auto batches = spool_.ReadAfter(sent, options_.window - in_flight);
        if (!batches.ok()) {
          error = std::string(batches.status().message());
          break;
        }
        bool ok = true;
        // The batches read must continue the sequence, or the collector would
        // refuse them. The spool deleted the one it needs since the Hello
        // (every other collector acknowledged it): a new stream states the
        // spool's first seq, and the collector skips to it.
        if (batches->empty() || batches->front().seq() != sent + 1) {
          error =
              absl::StrCat("collector needs batch ", sent + 1, " of spool epoch ", spool_.epoch(),
                           " next, which the spool no longer holds (its next is ",
                           batches->empty() ? "none" : absl::StrCat(batches->front().seq()),
                           "); reconnecting to state the spool's first seq");
          break;
        }
        for (v1::EventBatch& b : *batches) {
          v1::AgentMessage m;
          const uint64_t seq = b.seq();
          if (seq != sent + 1) break;  // a hole: the next read reports it
          *m.mutable_batch() = std::move(b);
          if (!stream->Write(m)) {
            ok = false;
            break;
          }
          sent = seq;
        }
        if (!ok) break;
        continue;
      }
      spool_.WaitForChange(&generation, absl::Milliseconds(500));
    }
    // A failed write usually means the collector finished the stream: give
    // the reader a moment to see its status (e.g. RESOURCE_EXHAUSTED "disk
    // full"), which cancelling first would hide behind CANCELLED.
    for (int i = 0; i < 20 && alive.load(); ++i) absl::SleepFor(absl::Milliseconds(50));
    if (alive.load()) context.TryCancel();
    reader.join();
  }
  grpc::Status status = stream->Finish();
  {
    MutexLock lock(&mu_);
    active_context_ = nullptr;
    if (!stopping_) {
      if (error.empty()) {
        error = status.ok()
                    ? "stream closed by the collector"
                    : absl::StrCat(status.error_message(), " (code ", status.error_code(), ")");
      }
      last_error_ = error;
    }
  }
  if (!error.empty()) {
    SYNCWATCH_LOG(kWarning, "collector ", options_.address, ": ", error,
                  welcomed ? "" : " (no welcome)");
  }
  return welcomed;
}

void CollectorLink::ReadAcks(
    grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>* stream,
    std::atomic<uint64_t>* settled, std::atomic<bool>* alive) {
  v1::CollectorMessage m;
  while (stream->Read(&m)) {
    absl::Status st;
    if (m.has_ack()) {
      st = spool_.Ack(options_.address, m.ack().seq());
      if (m.ack().seq() > settled->load()) settled->store(m.ack().seq());
    } else if (m.has_refusal()) {
      st = spool_.Refuse(options_.address, m.refusal().seq(), m.refusal().reason());
      if (m.refusal().seq() > settled->load()) settled->store(m.refusal().seq());
    } else if (m.has_throttle()) {
      const absl::Duration wait = FromProtoDuration(m.throttle().retry_after());
      SYNCWATCH_LOG(kWarning, "collector ", options_.address, " asks to slow down for ",
                    absl::FormatDuration(wait), ": ", m.throttle().reason());
      MutexLock lock(&mu_);
      throttled_until_ = absl::Now() + std::min(wait, absl::Minutes(10));
    }
    if (!st.ok()) {
      SYNCWATCH_LOG(kError, "spool: ", st.ToString());
      break;
    }
  }
  alive->store(false);
  spool_.Poke();  // wake the writer so it notices
}

}  // namespace syncwatch::agent
