// Fuzzes what the collector does with a message from an agent before storing
// it: protobuf parsing of an AgentMessage, then ValidateHello/ValidateBatch.
// Invariant: a batch that validates has a seq, events, and every event a kind
// and a valid observation time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/event_validation.h"
#include "common/time_util.h"
#include "syncwatch/v1/ingest.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  syncwatch::v1::AgentMessage message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
  syncwatch::ValidationLimits limits;
  limits.max_events_per_batch = 64;
  limits.max_name_bytes = 256;
  limits.max_text_bytes = 1024;
  if (message.has_hello()) (void)syncwatch::ValidateHello(message.hello(), limits);
  if (message.has_batch() && syncwatch::ValidateBatch(message.batch(), limits).ok()) {
    const syncwatch::v1::EventBatch& b = message.batch();
    if (b.seq() == 0 || b.events_size() == 0 || b.events_size() > 64) std::abort();
    for (const auto& e : b.events()) {
      if (e.kind_case() == syncwatch::v1::Event::KIND_NOT_SET) std::abort();
      if (!syncwatch::IsValidTimestamp(e.observed_at())) std::abort();
    }
  }
  return 0;
}
