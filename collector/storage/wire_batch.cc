#include "collector/storage/wire_batch.h"

#include "collector/storage/stored_record.h"
#include "syncwatch/v1/ingest.pb.h"

namespace syncwatch::collector {

std::optional<BatchWire> FindBatchWire(absl::string_view message, const v1::EventBatch& batch) {
  // The batch is held in one piece when the message has one batch field and
  // no hello (a hello, or a second batch, would replace or merge into it).
  int fields = 0;
  absl::string_view batch_bytes;
  const bool batch_valid =
      ForEachField(message, v1::AgentMessage::kBatchFieldNumber, [&](absl::string_view bytes) {
        batch_bytes = bytes;
        return ++fields == 1;
      });
  if (!batch_valid || fields != 1) return std::nullopt;
  const bool hello_valid =
      ForEachField(message, v1::AgentMessage::kHelloFieldNumber, [](absl::string_view) {
        return false;  // any hello at all
      });
  if (!hello_valid) return std::nullopt;

  BatchWire wire;
  wire.size = batch_bytes.size();
  wire.runs.reserve(static_cast<size_t>(batch.events_size()));
  const bool events_valid = ForEachField(
      batch_bytes, v1::EventBatch::kEventsFieldNumber, [&](absl::string_view event_bytes) {
        const size_t i = wire.runs.size();
        if (i >= static_cast<size_t>(batch.events_size())) return false;
        absl::string_view run;
        int pieces = 0;
        if (batch.events(static_cast<int>(i)).has_run()) {
          if (!ForEachField(event_bytes, v1::Event::kRunFieldNumber, [&](absl::string_view bytes) {
                run = bytes;
                ++pieces;
                return true;
              })) {
            return false;
          }
        }
        wire.runs.push_back(pieces == 1 ? run : absl::string_view());
        return true;
      });
  if (!events_valid || wire.runs.size() != static_cast<size_t>(batch.events_size())) {
    return std::nullopt;
  }
  return wire;
}

}  // namespace syncwatch::collector
