#include "agent/parsers/text_input.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/text_util.h"

namespace syncwatch::agent {

absl::StatusOr<std::string> ReadTextInput(ByteReader& in, absl::string_view name, size_t max_bytes,
                                          absl::string_view what) {
  constexpr size_t kReadChunk = 64 * 1024;
  std::string raw;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    const size_t want = std::min(buf.size(), max_bytes + 1 - raw.size());
    SYNCWATCH_ASSIGN_OR_RETURN(size_t n, in.Read(buf.data(), want));
    if (n == 0) break;
    raw.append(buf.data(), n);
    if (raw.size() > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": larger than the ", max_bytes >> 20, " MiB limit for ", what));
    }
  }
  // Check UTF-8 here rather than in DecodeToUtf8 so the error names the line.
  if (DetectBom(raw) == Bom::kNone || DetectBom(raw) == Bom::kUtf8) {
    absl::string_view body = raw;
    if (DetectBom(raw) == Bom::kUtf8) body.remove_prefix(3);
    size_t bad = 0;
    if (!IsValidUtf8(body, &bad)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", LineOfOffset(body, bad), ": invalid UTF-8 at byte ", bad));
    }
  }
  absl::StatusOr<std::string> text = DecodeToUtf8(raw);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", text.status().message()));
  return text;
}

}  // namespace syncwatch::agent
