// Engine times as google.protobuf.Timestamp, for the parsers.
#ifndef SYNCWATCH_AGENT_PARSERS_ENGINE_TIME_H_
#define SYNCWATCH_AGENT_PARSERS_ENGINE_TIME_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/time_util.h"
#include "google/protobuf/timestamp.pb.h"

namespace syncwatch::agent::internal {

// ParseEngineTime, limited to what a google.protobuf.Timestamp can hold
// (years 0001..9999). ParseEngineTime itself takes "20240-2-27 06:30:11"
// (year 20240), and the collector rejects a batch with such a time, so an
// out-of-range time is a parse error here like any other bad time.
inline std::optional<google::protobuf::Timestamp> ParseEngineTimestamp(absl::string_view text) {
  absl::StatusOr<absl::Time> t = ParseEngineTime(text);
  if (!t.ok()) return std::nullopt;
  google::protobuf::Timestamp ts = ToProtoTimestamp(*t);
  if (!IsValidTimestamp(ts)) return std::nullopt;
  return ts;
}

}  // namespace syncwatch::agent::internal

#endif  // SYNCWATCH_AGENT_PARSERS_ENGINE_TIME_H_
