// Fuzzes how the collector finds a batch's runs in the bytes an agent sent
// (FindBatchWire), which the writer then stores as they came.
// Invariants, for bytes that parse as an AgentMessage holding a batch:
// - every run given parses as the run of its event, exactly;
// - only run events get bytes, and there is one entry per event;
// - bytes as protobuf writes them (one batch, no hello), without unknown
//   fields around the runs, always give the layout, with bytes for every run
//   that has any. (An unknown field may reuse a known number with another
//   wire type; the walk then gives up, and the writer serialises the runs.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "collector/storage/wire_batch.h"
#include "syncwatch/v1/ingest.pb.h"

namespace {

bool HasUnknownFields(const google::protobuf::Message& m) {
  return !m.GetReflection()->GetUnknownFields(m).empty();
}

// Whether the message, its batch or an event of it has unknown fields.
bool UnknownAroundRuns(const syncwatch::v1::AgentMessage& message) {
  if (HasUnknownFields(message) || HasUnknownFields(message.batch())) return true;
  for (const syncwatch::v1::Event& e : message.batch().events()) {
    if (HasUnknownFields(e)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  syncwatch::v1::AgentMessage message;
  if (!message.ParseFromString(bytes)) return 0;
  const syncwatch::v1::EventBatch& batch = message.batch();
  std::optional<syncwatch::collector::BatchWire> wire =
      syncwatch::collector::FindBatchWire(bytes, batch);
  if (wire) {
    if (!message.has_batch() || wire->size > size) std::abort();
    if (wire->runs.size() != static_cast<size_t>(batch.events_size())) std::abort();
    for (int i = 0; i < batch.events_size(); ++i) {
      const absl::string_view run = wire->runs[static_cast<size_t>(i)];
      if (run.empty()) continue;
      if (!batch.events(i).has_run()) std::abort();
      syncwatch::v1::RunProfileResult parsed;
      if (!parsed.ParseFromArray(run.data(), static_cast<int>(run.size()))) std::abort();
      if (parsed.SerializeAsString() != batch.events(i).run().SerializeAsString()) std::abort();
    }
  }
  if (message.has_batch() && bytes == message.SerializeAsString() && !UnknownAroundRuns(message)) {
    if (!wire || wire->size != batch.ByteSizeLong()) std::abort();
    for (int i = 0; i < batch.events_size(); ++i) {
      const bool has_bytes = batch.events(i).has_run() && batch.events(i).run().ByteSizeLong() > 0;
      if (wire->runs[static_cast<size_t>(i)].empty() == has_bytes) std::abort();
    }
  }
  return 0;
}
