// Delivers the spool to one collector: one stream at a time, re-opened with
// jittered exponential back-off after any failure, re-sending everything the
// collector has not acknowledged. Each stream sends from the Welcome's
// stored_seq + 1, the seq the collector expects (it ends a stream whose batch
// is out of sequence, and the next stream's Welcome tells where to resume),
// re-sending from the spool batches it had acknowledged when the collector
// lost them (its store restored from a backup) and the spool still holds them.
// The Hello states the spool's first seq held, so that a collector that needs
// batches the spool deleted records them as lost and takes what it still holds.
#ifndef SYNCWATCH_AGENT_COLLECTOR_LINK_H_
#define SYNCWATCH_AGENT_COLLECTOR_LINK_H_

#include <grpcpp/client_context.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/spool.h"
#include "common/mutex.h"
#include "common/tls.h"
#include "syncwatch/v1/ingest.grpc.pb.h"

namespace syncwatch::agent {

struct LinkOptions {
  std::string address;  // host:port
  v1::Hello hello;      // sent first on every stream
  ClientTls tls;        // plain text unless tls.enabled()
  // Batches sent ahead of acknowledgements. Default: 8.
  size_t window = 8;
  // Back-off after a failed stream: starts at `initial_backoff`, doubles up to
  // `max_backoff`, each wait drawn uniformly from [0, current] (full jitter).
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(30);
};

// Uses gRPC's synchronous streaming API on two threads (a writer that also
// supervises, and a reader for acks): each thread blocks only on its own side
// of the stream, which keeps the state machine plain. Thread-safe.
class CollectorLink {
 public:
  // `spool` must outlive the link. Fails when TLS files cannot be read.
  static absl::StatusOr<std::unique_ptr<CollectorLink>> Create(LinkOptions options, Spool& spool);
  // Stops if running.
  ~CollectorLink();
  CollectorLink(const CollectorLink&) = delete;
  CollectorLink& operator=(const CollectorLink&) = delete;

  void Start();
  // Cancels the current stream and joins the threads; returns promptly.
  void Stop();

  const std::string& address() const { return options_.address; }
  // The last reason a stream failed, empty if none did (for --once messages).
  std::string last_error();

 private:
  CollectorLink(LinkOptions options, Spool& spool);
  void Supervise();
  // Runs one stream until it fails or Stop(); true when it got a Welcome.
  bool RunStream();
  // Hands acks and refusals to the spool and raises `*settled` to the highest
  // seq answered; clears `*alive` when the stream ends.
  void ReadAcks(grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>* stream,
                std::atomic<uint64_t>* settled, std::atomic<bool>* alive);

  const LinkOptions options_;
  Spool& spool_;
  std::unique_ptr<v1::Ingest::Stub> stub_;

  Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  absl::Time throttled_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::thread thread_;
};

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_COLLECTOR_LINK_H_
