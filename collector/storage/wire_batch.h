// Where a received batch's runs are in the bytes the agent sent, so that the
// writer stores those bytes as they came instead of serialising each run
// again (runs are most of what a collector stores).
#ifndef SYNCWATCH_COLLECTOR_STORAGE_WIRE_BATCH_H_
#define SYNCWATCH_COLLECTOR_STORAGE_WIRE_BATCH_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::collector {

// A batch as it came on the wire. The views point into the received bytes:
// whoever holds a BatchWire keeps those bytes alive.
struct BatchWire {
  // The size of the serialized EventBatch.
  size_t size = 0;
  // One entry per event of the batch, in order: the bytes of the event's run
  // as sent; empty for an event that is not a run, and for one whose run the
  // bytes hold in more than one piece (protobuf merges a repeated message
  // field; the parsed run is then the only whole). Parsing an entry gives the
  // parsed event's run.
  std::vector<absl::string_view> runs;
};

// The wire layout of the batch in `message`, a serialized AgentMessage that
// parsed as a message holding `batch`. nullopt when the message does not
// hold the batch in one piece (its batch field repeated or interleaved with a
// hello), or when it is not valid wire format.
std::optional<BatchWire> FindBatchWire(absl::string_view message, const v1::EventBatch& batch);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_WIRE_BATCH_H_
