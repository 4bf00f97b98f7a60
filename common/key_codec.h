// Order-preserving keys for RocksDB: a key is a sequence of components whose
// byte order equals the order of the component tuples.
//  - strings: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01, so
//    "a" < "a\0" < "ab" holds and a component prefix is a valid scan prefix;
//  - integers: 8 bytes big-endian, sign bit flipped for int64.
#ifndef SYNCWATCH_COMMON_KEY_CODEC_H_
#define SYNCWATCH_COMMON_KEY_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace syncwatch {

class KeyBuilder {
 public:
  KeyBuilder() = default;
  // Appends the key's components to `*out` instead (key() and Take() then
  // stay empty).
  explicit KeyBuilder(std::string* out) : key_(out) {}
  KeyBuilder(const KeyBuilder&) = delete;
  KeyBuilder& operator=(const KeyBuilder&) = delete;

  KeyBuilder& String(absl::string_view s);
  KeyBuilder& Int64(int64_t v);
  KeyBuilder& Uint64(uint64_t v);
  const std::string& key() const { return own_; }
  std::string Take() { return std::move(own_); }

 private:
  std::string own_;
  std::string* key_ = &own_;
};

// Reads components back in the order they were written. Each Read* returns
// false (and leaves the output unspecified) when the key does not hold that
// component at the current position.
class KeyReader {
 public:
  explicit KeyReader(absl::string_view key) : rest_(key) {}
  bool String(std::string* out);
  bool Int64(int64_t* out);
  bool Uint64(uint64_t* out);
  bool done() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

// The smallest key greater than every key starting with `prefix` (for an
// iterate_upper_bound); empty when there is none (prefix of all 0xFF).
std::string PrefixUpperBound(absl::string_view prefix);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_KEY_CODEC_H_
