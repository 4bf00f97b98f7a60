#include "common/text_util.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace syncwatch {

std::string NormalizeGuid(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  absl::string_view inner = t;
  if (absl::ConsumePrefix(&inner, "{")) {
    if (!absl::ConsumeSuffix(&inner, "}")) return std::string(t);
  }
  std::string lower = absl::AsciiStrToLower(inner);
  if (IsNormalizedGuid(lower)) return lower;
  return std::string(t);
}

bool IsNormalizedGuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

Bom DetectBom(absl::string_view bytes) {
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") return Bom::kUtf8;
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "\xFF\xFE") return Bom::kUtf16Le;
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "\xFE\xFF") return Bom::kUtf16Be;
  return Bom::kNone;
}

bool IsValidUtf8(absl::string_view text, size_t* bad_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    if (i + len > n) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        if (bad_offset) *bad_offset = i;
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    const bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

absl::StatusOr<std::string> Utf16ToUtf8(absl::string_view bytes, bool little_endian) {
  if (bytes.size() % 2 != 0) {
    return absl::InvalidArgumentError("UTF-16 text has an odd number of bytes (truncated?)");
  }
  std::string out;
  out.reserve(bytes.size() / 2);
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  auto unit = [&](size_t i) -> uint32_t {
    return little_endian ? (s[i] | (s[i + 1] << 8)) : ((s[i] << 8) | s[i + 1]);
  };
  for (size_t i = 0; i < bytes.size(); i += 2) {
    uint32_t cp = unit(i);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + 3 >= bytes.size() || unit(i + 2) < 0xDC00 || unit(i + 2) > 0xDFFF) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid UTF-16 surrogate pair at byte ", i + 2));
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (unit(i + 2) - 0xDC00);
      i += 2;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-16 surrogate at byte ", i + 2));
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> DecodeToUtf8(absl::string_view bytes) {
  switch (DetectBom(bytes)) {
    case Bom::kUtf16Le:
      return Utf16ToUtf8(bytes.substr(2), /*little_endian=*/true);
    case Bom::kUtf16Be:
      return Utf16ToUtf8(bytes.substr(2), /*little_endian=*/false);
    case Bom::kUtf8:
      bytes.remove_prefix(3);
      break;
    case Bom::kNone:
      break;
  }
  size_t bad = 0;
  if (!IsValidUtf8(bytes, &bad)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid UTF-8 at line ", LineOfOffset(bytes, bad), " (byte ", bad, ")"));
  }
  return std::string(bytes);
}

uint64_t Fnv1a64(absl::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

int LineOfOffset(absl::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

}  // namespace syncwatch
