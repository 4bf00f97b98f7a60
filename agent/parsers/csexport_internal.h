// Hooks into the csexport parsers for tests and fuzzers only.
#ifndef SYNCWATCH_AGENT_PARSERS_CSEXPORT_INTERNAL_H_
#define SYNCWATCH_AGENT_PARSERS_CSEXPORT_INTERNAL_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/csexport.h"

namespace syncwatch::agent::internal {

// The parsers reading `chunk_size` bytes at a time instead of 64 KiB, so that
// small inputs can put chunk boundaries anywhere (inside a multi-byte
// character, a tag, a value). `chunk_size` must be at least 1.
absl::Status ParseCsExportPendingExportsChunked(ByteReader& in, absl::string_view name,
                                                const CsExportLimits& limits,
                                                v1::PendingExportSnapshot* out, size_t chunk_size);
absl::Status ParseCsExportErrorsChunked(ByteReader& in, absl::string_view name,
                                        const ExportErrorSink& sink, size_t chunk_size);

// What ErrorExtraDetails JSON says about a conflict (see csexport.h).
struct ErrorExtraDetails {
  std::string attribute_conflict_name;
  std::string attribute_conflict_value;  // the first of AttributeConflictValues
  std::string object_id_in_conflict;     // normalised when it is a GUID
};

// Reads ErrorExtraDetails JSON: an array of {"Key", "Value"} pairs or a plain
// object. nullopt when `text` is not such JSON or names none of the three.
std::optional<ErrorExtraDetails> ParseErrorExtraDetails(absl::string_view text);

}  // namespace syncwatch::agent::internal

#endif  // SYNCWATCH_AGENT_PARSERS_CSEXPORT_INTERNAL_H_
