// Hooks into the run-history parsers for tests and fuzzers only.
#ifndef SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_INTERNAL_H_
#define SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_INTERNAL_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/run_history.h"

namespace syncwatch::agent::internal {

// ParseRunHistoryXml reading `chunk_size` bytes at a time instead of 64 KiB,
// so that small inputs can put chunk boundaries anywhere (inside a
// multi-byte character, a tag, the seam between two documents).
// `chunk_size` must be at least 1.
absl::Status ParseRunHistoryXmlChunked(ByteReader& in, absl::string_view name, const RunSink& sink,
                                       size_t chunk_size);

}  // namespace syncwatch::agent::internal

#endif  // SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_INTERNAL_H_
