// The encoding layer every parser reads through:
//  - TextValidator checks a stream chunk by chunk, in syncwatch's own code,
//    so that whether input is valid UTF-8 / UTF-16 does not depend on which
//    expat (or other library) release is installed;
//  - ReadTextInput reads a whole small text input (JSON from ConvertTo-Json)
//    into UTF-8, as Windows PowerShell writes it: UTF-8 with or without BOM,
//    or UTF-16 with BOM (Out-File and '>' in Windows PowerShell 5.1).
#ifndef SYNCWATCH_AGENT_PARSERS_TEXT_INPUT_H_
#define SYNCWATCH_AGENT_PARSERS_TEXT_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"

namespace syncwatch::agent {

enum class TextEncoding { kUtf8, kUtf16Le, kUtf16Be };

// The encoding of a stream from its first bytes (pass at least 4 when the
// stream has them): a byte-order mark decides; without one, `utf16_lead`
// (e.g. '<' for XML; '\0' to disable) next to a zero byte means UTF-16 without
// a BOM; anything else is UTF-8.
TextEncoding DetectTextEncoding(absl::string_view first, char utf16_lead = '\0');

// expat's name of the encoding: "UTF-8", "UTF-16LE" or "UTF-16BE".
const char* TextEncodingName(TextEncoding encoding);

// Validates a stream chunk by chunk and counts its lines (U+000A). Bounded
// memory: a character split between chunks is carried as state, not copied.
// Rejects for UTF-8: overlong forms, surrogates (U+D800..DFFF), code points
// above U+10FFFF, bytes that are never UTF-8, a bad continuation byte and a
// sequence cut by the end of the input; for UTF-16: a high surrogate not
// followed by a low one, a low surrogate without a high one before it, and an
// odd number of bytes. A byte-order mark is an ordinary U+FEFF here.
class TextValidator {
 public:
  explicit TextValidator(TextEncoding encoding) : encoding_(encoding) {}

  struct Error {
    // Bytes of the chunk before the bad character (0 when it started in an
    // earlier chunk): what may still be handed on to a parser.
    size_t valid_bytes = 0;
    // 1-based line of the bad character.
    int64_t line = 1;
    // "invalid UTF-8 at byte <offset in the stream>: <why>" (or UTF-16).
    std::string problem;
  };

  // Checks the next chunk; `final` marks the last (it may be empty). Returns
  // the first problem, or nullopt when all input so far is fine (a character
  // cut by the end of a non-final chunk is fine until the next chunk shows
  // otherwise). Do not call again after an error.
  std::optional<Error> Check(absl::string_view chunk, bool final);

 private:
  std::optional<Error> CheckUtf8(absl::string_view chunk, bool final);
  std::optional<Error> CheckUtf16(absl::string_view chunk, bool final);
  Error MakeError(int64_t at, absl::string_view why) const;

  const TextEncoding encoding_;
  int64_t chunk_abs_ = 0;  // stream offset of the current chunk's first byte
  int64_t lines_ = 0;      // newlines before the current position
  // UTF-8: continuation bytes still expected, the range the next one must lie
  // in, the sequence's lead byte and its stream offset.
  int need_ = 0;
  unsigned char lo_ = 0x80;
  unsigned char hi_ = 0xBF;
  unsigned char lead_ = 0;
  int64_t seq_abs_ = 0;
  // UTF-16: the first byte of a code unit cut by the end of a chunk, and a
  // high surrogate waiting for its low one (0: none).
  bool have_odd_byte_ = false;
  unsigned char odd_byte_ = 0;
  uint32_t high_ = 0;
  int64_t high_abs_ = 0;
};

// Reads all of `in` and returns it as UTF-8 without BOM. InvalidArgument
// "<name>: larger than the <N> MiB limit for <what>" beyond `max_bytes` (read
// no further), "<name>:<line>: invalid UTF-8 at byte <offset>: <why>" (or UTF-16,
// from TextValidator); errors of the reader are returned unchanged.
absl::StatusOr<std::string> ReadTextInput(ByteReader& in, absl::string_view name, size_t max_bytes,
                                          absl::string_view what);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_TEXT_INPUT_H_
