// Reading a whole small text input (JSON from ConvertTo-Json) into UTF-8, as
// Windows PowerShell writes it: UTF-8 with or without BOM, or UTF-16 with BOM
// (Out-File and '>' in Windows PowerShell 5.1).
#ifndef SYNCWATCH_AGENT_PARSERS_TEXT_INPUT_H_
#define SYNCWATCH_AGENT_PARSERS_TEXT_INPUT_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"

namespace syncwatch::agent {

// Reads all of `in` and returns it as UTF-8 without BOM. InvalidArgument
// "<name>: larger than the <N> MiB limit for <what>" beyond `max_bytes` (read
// no further), "<name>:<line>: invalid UTF-8 at byte <offset>" or
// "<name>: <UTF-16 problem>"; errors of the reader are returned unchanged.
absl::StatusOr<std::string> ReadTextInput(ByteReader& in, absl::string_view name, size_t max_bytes,
                                          absl::string_view what);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_TEXT_INPUT_H_
