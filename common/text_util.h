// Small text helpers for what the sync engine writes.
#ifndef SYNCWATCH_COMMON_TEXT_UTIL_H_
#define SYNCWATCH_COMMON_TEXT_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncwatch {

// "{85098734-66BC-4938-8122-C5F585F463D0}" -> "85098734-66bc-4938-8122-c5f585f463d0".
// Strips braces and surrounding white space and lower-cases; anything that is
// not a GUID is returned trimmed but otherwise unchanged.
std::string NormalizeGuid(absl::string_view text);

// True when `text` is a GUID in the normalised form above.
bool IsNormalizedGuid(absl::string_view text);

// The byte-order mark at the start of `bytes`, if any.
enum class Bom { kNone, kUtf8, kUtf16Le, kUtf16Be };
Bom DetectBom(absl::string_view bytes);

// Turns file content into UTF-8: strips a UTF-8 BOM, converts UTF-16 (LE or BE,
// with BOM; what Windows PowerShell 5.1's Out-File writes) and checks that the
// result is valid UTF-8. Errors give the byte offset of the problem.
absl::StatusOr<std::string> DecodeToUtf8(absl::string_view bytes);

// True when `text` is well-formed UTF-8; otherwise *bad_offset (if given) is set
// to the first bad byte.
bool IsValidUtf8(absl::string_view text, size_t* bad_offset = nullptr);

// FNV-1a 64-bit hash: stable across processes and platforms (unlike
// std::hash / absl::Hash), for recognising unchanged inputs across restarts.
uint64_t Fnv1a64(absl::string_view data, uint64_t seed = 0xcbf29ce484222325ULL);

// 1-based line number of byte `offset` in `text`.
int LineOfOffset(absl::string_view text, size_t offset);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_TEXT_UTIL_H_
