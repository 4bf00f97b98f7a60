// Quoting a value from the input for an error message (internal to agent/parsers).
#ifndef SYNCWATCH_AGENT_PARSERS_QUOTE_H_
#define SYNCWATCH_AGENT_PARSERS_QUOTE_H_

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace syncwatch::agent::internal {

// "\"value\"", C-escaped and cut after 80 bytes (values may be 1 MiB).
inline std::string QuoteForMessage(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return absl::StrCat("\"", absl::CHexEscape(value), "\"");
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMax)), "\"...");
}

}  // namespace syncwatch::agent::internal

#endif  // SYNCWATCH_AGENT_PARSERS_QUOTE_H_
