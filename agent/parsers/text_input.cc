#include "agent/parsers/text_input.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/text_util.h"

namespace syncwatch::agent {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t kLow7Bits = 0x7F7F7F7F7F7F7F7FULL;
constexpr uint64_t kNewlines = 0x0A0A0A0A0A0A0A0AULL;

// Newlines among 8 ASCII bytes (every high bit clear): the zero bytes of
// w ^ "\n\n\n\n\n\n\n\n", found without carries between bytes.
int CountNewlines(uint64_t w) {
  const uint64_t x = w ^ kNewlines;
  const uint64_t nonzero = (x & kLow7Bits) + kLow7Bits;
  return __builtin_popcountll(~(nonzero | x) & kHighBits);
}

constexpr uint64_t kLaneLow = 0x0001000100010001ULL;
constexpr uint64_t kLaneHigh = 0x8000800080008000ULL;
constexpr uint64_t kLaneLow15 = 0x7FFF7FFF7FFF7FFFULL;

// Whether any of the 16-bit lanes of `x` is zero.
bool HasZeroLane(uint64_t x) { return ((x - kLaneLow) & ~x & kLaneHigh) != 0; }

// How many of the 16-bit lanes of `x` are zero (exactly: no carries between lanes).
int CountZeroLanes(uint64_t x) {
  return __builtin_popcountll(~(((x & kLaneLow15) + kLaneLow15) | x) & kLaneHigh);
}

// Why a byte cannot start a UTF-8 sequence (it is 0x80..0xC1 or 0xF5..0xFF).
const char* BadLeadReason(unsigned char c) {
  if (c < 0xC0) return "continuation byte without a lead byte";
  if (c < 0xC2) return "overlong encoding";
  if (c < 0xF8) return "code point above U+10FFFF";
  return "byte that never occurs in UTF-8";
}

// Why `c` cannot follow the bytes of a sequence started by `lead`.
const char* BadContinuationReason(unsigned char lead, unsigned char c, bool second) {
  if ((c & 0xC0) != 0x80) return "multi-byte sequence cut short (bad continuation byte)";
  if (second && (lead == 0xE0 || lead == 0xF0)) return "overlong encoding";
  if (second && lead == 0xED) return "UTF-16 surrogate encoded in UTF-8";
  return "code point above U+10FFFF";  // second byte after 0xF4
}

}  // namespace

TextEncoding DetectTextEncoding(absl::string_view first, char utf16_lead) {
  switch (DetectBom(first)) {
    case Bom::kUtf16Le:
      return TextEncoding::kUtf16Le;
    case Bom::kUtf16Be:
      return TextEncoding::kUtf16Be;
    case Bom::kUtf8:
    case Bom::kNone:
      break;
  }
  if (utf16_lead != '\0' && first.size() >= 2) {
    if (first[0] == utf16_lead && first[1] == '\0') return TextEncoding::kUtf16Le;
    if (first[0] == '\0' && first[1] == utf16_lead) return TextEncoding::kUtf16Be;
  }
  return TextEncoding::kUtf8;
}

const char* TextEncodingName(TextEncoding encoding) {
  switch (encoding) {
    case TextEncoding::kUtf16Le:
      return "UTF-16LE";
    case TextEncoding::kUtf16Be:
      return "UTF-16BE";
    case TextEncoding::kUtf8:
      break;
  }
  return "UTF-8";
}

TextValidator::Error TextValidator::MakeError(int64_t at, absl::string_view why) const {
  Error e;
  e.valid_bytes = static_cast<size_t>(std::max<int64_t>(at - chunk_abs_, 0));
  e.line = 1 + lines_;
  e.problem = absl::StrCat("invalid ", encoding_ == TextEncoding::kUtf8 ? "UTF-8" : "UTF-16",
                           " at byte ", at, ": ", why);
  return e;
}

std::optional<TextValidator::Error> TextValidator::Check(absl::string_view chunk, bool final) {
  std::optional<Error> error =
      encoding_ == TextEncoding::kUtf8 ? CheckUtf8(chunk, final) : CheckUtf16(chunk, final);
  chunk_abs_ += static_cast<int64_t>(chunk.size());
  return error;
}

// A state machine over bytes (Unicode's table 3-7 of well-formed sequences),
// with 8 ASCII bytes at a time between sequences.
std::optional<TextValidator::Error> TextValidator::CheckUtf8(absl::string_view chunk, bool final) {
  const auto* s = reinterpret_cast<const unsigned char*>(chunk.data());
  const size_t n = chunk.size();
  size_t i = 0;
  while (i < n) {
    if (need_ == 0) {
      uint64_t w;
      while (i + 8 <= n) {
        std::memcpy(&w, s + i, 8);
        if ((w & kHighBits) != 0) break;
        lines_ += CountNewlines(w);
        i += 8;
      }
      if (i == n) break;
      const unsigned char c = s[i];
      if (c < 0x80) {
        lines_ += c == '\n';
        ++i;
        continue;
      }
      seq_abs_ = chunk_abs_ + static_cast<int64_t>(i);
      lead_ = c;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_ = 2;
        if (c == 0xE0) lo_ = 0xA0;  // below: overlong
        if (c == 0xED) hi_ = 0x9F;  // above: surrogates
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_ = 3;
        if (c == 0xF0) lo_ = 0x90;  // below: overlong
        if (c == 0xF4) hi_ = 0x8F;  // above: beyond U+10FFFF
      } else {
        return MakeError(seq_abs_, BadLeadReason(c));
      }
      ++i;
    } else {
      const unsigned char c = s[i];
      if (c < lo_ || c > hi_) {
        const bool second = need_ == (lead_ >= 0xF0 ? 3 : lead_ >= 0xE0 ? 2 : 1);
        return MakeError(seq_abs_, BadContinuationReason(lead_, c, second));
      }
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
      ++i;
    }
  }
  if (final && need_ != 0) {
    return MakeError(seq_abs_, "the input ends inside a multi-byte sequence (truncated?)");
  }
  return std::nullopt;
}

std::optional<TextValidator::Error> TextValidator::CheckUtf16(absl::string_view chunk, bool final) {
  const auto* s = reinterpret_cast<const unsigned char*>(chunk.data());
  const size_t n = chunk.size();
  const bool le = encoding_ == TextEncoding::kUtf16Le;
  // Stream offset of the code unit being looked at.
  auto unit_abs = [&](size_t i) {
    return chunk_abs_ + static_cast<int64_t>(i) - (have_odd_byte_ ? 1 : 0);
  };
  // Four code units at a time while none is a surrogate: a little-endian
  // load puts a unit in each 16-bit lane as is (UTF-16LE) or byte-swapped.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr bool kFastPath = true;
#else
  constexpr bool kFastPath = false;
#endif
  const uint64_t surrogate_mask = (le ? 0xF800 : 0x00F8) * kLaneLow;
  const uint64_t surrogate_bits = (le ? 0xD800 : 0x00D8) * kLaneLow;
  const uint64_t newline = (le ? 0x000A : 0x0A00) * kLaneLow;
  size_t i = 0;
  // A unit whose first byte ended the previous chunk.
  unsigned char carried[2];
  while (true) {
    const unsigned char* p;
    int64_t at;
    if (have_odd_byte_) {
      if (i == n) break;
      carried[0] = odd_byte_;
      carried[1] = s[0];
      p = carried;
      at = unit_abs(0);
      have_odd_byte_ = false;
      i = 1;
    } else {
      if (kFastPath && high_ == 0) {
        uint64_t w;
        while (i + 8 <= n) {
          std::memcpy(&w, s + i, 8);
          if (HasZeroLane((w & surrogate_mask) ^ surrogate_bits)) break;
          lines_ += CountZeroLanes(w ^ newline);
          i += 8;
        }
      }
      if (i + 2 > n) break;
      p = s + i;
      at = unit_abs(i);
      i += 2;
    }
    const uint32_t u = le ? (p[0] | (uint32_t{p[1]} << 8)) : ((uint32_t{p[0]} << 8) | p[1]);
    if (high_ != 0) {
      if (u >= 0xDC00 && u <= 0xDFFF) {
        high_ = 0;
        continue;
      }
      return MakeError(high_abs_, absl::StrFormat("high surrogate U+%04X not followed by a low "
                                                  "surrogate",
                                                  high_));
    }
    if ((u & 0xF800) != 0xD800) {
      lines_ += u == 0x0A;
    } else if (u <= 0xDBFF) {
      high_ = u;
      high_abs_ = at;
    } else {
      return MakeError(at, absl::StrFormat("low surrogate U+%04X without a high surrogate "
                                           "before it",
                                           u));
    }
  }
  if (i < n) {  // one byte left over
    have_odd_byte_ = true;
    odd_byte_ = s[i];
  }
  if (final && high_ != 0) {
    return MakeError(high_abs_, absl::StrFormat("the input ends after high surrogate U+%04X "
                                                "(truncated?)",
                                                high_));
  }
  if (final && have_odd_byte_) {
    return MakeError(chunk_abs_ + static_cast<int64_t>(n) - 1,
                     "odd number of bytes: the last character is cut (truncated?)");
  }
  return std::nullopt;
}

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
  // Validate here rather than rely on DecodeToUtf8 so the error names the line.
  const TextEncoding encoding = DetectTextEncoding(raw);
  TextValidator validator(encoding);
  if (std::optional<TextValidator::Error> bad = validator.Check(raw, /*final=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":", bad->line, ": ", bad->problem));
  }
  if (encoding == TextEncoding::kUtf8) {
    // Valid UTF-8 already: only a byte-order mark goes, without another pass
    // or copy.
    if (DetectBom(raw) == Bom::kUtf8) raw.erase(0, 3);
    return raw;
  }
  absl::StatusOr<std::string> text = DecodeToUtf8(raw);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", text.status().message()));
  return text;
}

}  // namespace syncwatch::agent
