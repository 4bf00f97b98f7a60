// Checks what an agent sends before the collector stores it. Everything here is
// cheap (no I/O) so that it can run on a gRPC reactor thread.
#ifndef SYNCWATCH_COMMON_EVENT_VALIDATION_H_
#define SYNCWATCH_COMMON_EVENT_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "syncwatch/v1/event.pb.h"
#include "syncwatch/v1/ingest.pb.h"

namespace syncwatch {

struct ValidationLimits {
  // Most events one batch may carry. Default: 10,000.
  size_t max_events_per_batch = 10000;
  // Longest name-like string (server, connector, DN, ...). Default: 4 KiB.
  size_t max_name_bytes = 4096;
  // Longest free text (error literals, stack traces). Default: 256 KiB.
  size_t max_text_bytes = 256 * 1024;
  // Most objects listed in one pending-export snapshot. Default: 1,000,000.
  size_t max_snapshot_objects = 1000000;
};

// OK when the Hello names an agent, a server and a role; InvalidArgument
// naming the field otherwise.
absl::Status ValidateHello(const v1::Hello& hello, const ValidationLimits& limits);

// OK when every event of the batch is well-formed; otherwise InvalidArgument
// whose message names the event index, its kind and the field at fault, e.g.
// "event 3 (run): connector_name is empty".
absl::Status ValidateBatch(const v1::EventBatch& batch, const ValidationLimits& limits);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_EVENT_VALIDATION_H_
