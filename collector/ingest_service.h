// The Ingest gRPC service: one bidirectional stream per agent connection.
#ifndef SYNCWATCH_COLLECTOR_INGEST_SERVICE_H_
#define SYNCWATCH_COLLECTOR_INGEST_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "collector/storage_writer.h"
#include "common/event_validation.h"
#include "syncwatch/v1/ingest.grpc.pb.h"

namespace syncwatch::collector {

struct IngestStats {
  std::atomic<int64_t> streams_open{0};
  std::atomic<uint64_t> streams_total{0};
  std::atomic<uint64_t> batches_received{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> batches_refused{0};
};

// Per stream: Hello -> Welcome; then for each batch, validation (a bad batch
// gets a Refusal naming the fault, and the stream goes on), a hand-over to the
// StorageWriter, and an Ack once the write committed. One batch per stream is
// in flight at a time: gRPC flow control then paces the agent. A failed write
// ends the stream with the write's status (e.g. RESOURCE_EXHAUSTED when the
// disk is full) so that the agent re-sends after its back-off.
//
// Thread-safe. Reactions never block (STYLE.md §3.5).
class IngestService final : public v1::Ingest::CallbackService {
 public:
  struct Options {
    ValidationLimits limits;
    // Largest serialized batch that is stored; larger ones are refused. The
    // gRPC transport limit (CollectorOptions::max_message_bytes) is above it so
    // that an oversized batch gets a Refusal instead of a broken stream.
    // Default: 16 MiB.
    size_t max_batch_bytes = 16 * 1024 * 1024;
    std::string collector_version;
  };

  // `writer` must outlive the service and every stream.
  IngestService(StorageWriter& writer, const Options& options);

  grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* StreamEvents(
      grpc::CallbackServerContext* context) override;

  const IngestStats& stats() const { return stats_; }

 private:
  friend class IngestReactor;
  StorageWriter& writer_;
  const Options options_;
  IngestStats stats_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_INGEST_SERVICE_H_
