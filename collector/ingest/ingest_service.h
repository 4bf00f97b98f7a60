// The Ingest gRPC service: one bidirectional stream per agent connection.
#ifndef SYNCWATCH_COLLECTOR_INGEST_INGEST_SERVICE_H_
#define SYNCWATCH_COLLECTOR_INGEST_INGEST_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "collector/ingest/agent_limits.h"
#include "collector/storage/storage_writer.h"
#include "common/clock.h"
#include "common/event_validation.h"
#include "common/mutex.h"
#include "syncwatch/v1/ingest.grpc.pb.h"

namespace syncwatch::collector {

struct IngestStats {
  std::atomic<int64_t> streams_open{0};
  std::atomic<uint64_t> streams_total{0};
  std::atomic<uint64_t> batches_received{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> batches_refused{0};
  // Streams ended because the client certificate does not name the Hello's
  // server (mutual TLS only).
  std::atomic<uint64_t> identity_rejections{0};
  // Streams refused because their agent identity had max_streams_per_agent.
  std::atomic<uint64_t> stream_limit_rejections{0};
  // Throttle messages sent (the batch before each was still stored).
  std::atomic<uint64_t> throttles{0};
};

// Admission per agent identity (a string the caller chooses): how many
// streams it has open, and a token bucket over the events it sends that
// refills at limits.agent_events_per_second up to twice that. Entries of
// identities with no stream and a full bucket are forgotten. Thread-safe.
class AgentLimiter {
 public:
  // `clock` must outlive the limiter.
  AgentLimiter(const AgentLimits& limits, const Clock& clock);
  AgentLimiter(const AgentLimiter&) = delete;
  AgentLimiter& operator=(const AgentLimiter&) = delete;

  // Counts one more stream for `identity`: OK, or ResourceExhausted naming
  // the limit when it already has max_streams_per_agent open.
  absl::Status AcquireStream(const std::string& identity);
  // Undoes one successful AcquireStream.
  void ReleaseStream(const std::string& identity);
  // Takes `events` from the identity's bucket (it may go into debt, up to a
  // minute's worth). Returns how long the agent should send nothing to get
  // back within the rate: zero while it is within it.
  absl::Duration TakeEvents(const std::string& identity, int64_t events);

 private:
  struct Agent {
    int streams = 0;
    double tokens = 0;
    absl::Time refilled;
  };
  // The identity's entry, created with a full bucket; refilled up to now.
  Agent& Refilled(const std::string& identity, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AgentLimits limits_;
  const Clock& clock_;
  Mutex mu_;
  std::map<std::string, Agent> agents_ ABSL_GUARDED_BY(mu_);
};

// Per stream: Hello -> identity and stream-limit checks -> Welcome; then for each batch, validation
// (a bad batch gets a Refusal naming the fault, and the stream goes on), a hand-over to the
// StorageWriter, and an Ack once the write committed; answers go out in the
// order the batches came. At most Options::max_batches_in_flight batches per
// stream wait for their answers: gRPC flow control then paces the agent. A failed write
// ends the stream with the write's status (e.g. RESOURCE_EXHAUSTED when the
// disk is full) so that the agent re-sends after its back-off.
//
// Batch seqs follow one another (see ingest.proto): the writer stores a batch
// only when its seq is the agent's mark + 1, counting the batches of every
// stream handed to it before; a refused seq is settled there too, in order
// (StorageWriter::SubmitRefusal). A batch out of sequence ends the stream with
// FAILED_PRECONDITION naming the seq expected, and nothing read after it is
// acknowledged.
//
// Under mutual TLS the client certificate must name the Hello's server (see
// Options::require_client_identity); otherwise the stream ends with
// PERMISSION_DENIED. An agent over its event rate still has every batch
// stored, but gets a Throttle before the Ack (AgentLimiter).
//
// Thread-safe. Reactions never block (STYLE.md §3.5).
//
// The stream is served as bytes (the generated raw callback method): each
// message is parsed here, and a batch's runs are stored from the bytes they
// came in. A message that does not parse ends the stream with
// INVALID_ARGUMENT.
class IngestService final
    : public v1::Ingest::WithRawCallbackMethod_StreamEvents<v1::Ingest::Service> {
 public:
  struct Options {
    ValidationLimits limits;
    // Largest serialized batch that is stored; larger ones are refused. The
    // gRPC transport limit (CollectorOptions::max_message_bytes) is above it so
    // that an oversized batch gets a Refusal instead of a broken stream.
    // Default: 16 MiB.
    size_t max_batch_bytes = 16 * 1024 * 1024;
    std::string collector_version;
    // Mutual TLS: the client certificate must name Hello.server, as a DNS
    // subject alternative name or as the subject CN, compared
    // case-insensitively and exactly (a certificate for "sync01" does not
    // cover "sync01.contoso.com"; issue one naming both if agents use
    // either). The agent identity for the limits is then that server name;
    // without it, the Hello's agent_id. Default: false.
    bool require_client_identity = false;
    AgentLimits agent_limits;
    // Batches a stream reads before the first of them is answered: the next
    // batch is parsed while one is stored, and a stream holds at most this
    // many (plus the one being read). Default: 2.
    size_t max_batches_in_flight = 2;
  };

  // `writer` and `clock` must outlive the service and every stream.
  IngestService(StorageWriter& writer, const Clock& clock, const Options& options);

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamEvents(
      grpc::CallbackServerContext* context) override;

  const IngestStats& stats() const { return stats_; }

 private:
  friend class IngestReactor;
  StorageWriter& writer_;
  const Options options_;
  IngestStats stats_;
  AgentLimiter limiter_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_INGEST_INGEST_SERVICE_H_
