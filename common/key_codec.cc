#include "common/key_codec.h"

namespace syncwatch {

KeyBuilder& KeyBuilder::String(absl::string_view s) {
  // Runs without a NUL are copied whole; a NUL becomes 00 FF.
  for (;;) {
    const size_t nul = s.find('\0');
    if (nul == absl::string_view::npos) {
      key_->append(s.data(), s.size());
      break;
    }
    key_->append(s.data(), nul + 1);
    key_->push_back('\xFF');
    s.remove_prefix(nul + 1);
  }
  key_->append("\0\x01", 2);
  return *this;
}

KeyBuilder& KeyBuilder::Uint64(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    key_->push_back(static_cast<char>((v >> shift) & 0xFF));
  }
  return *this;
}

KeyBuilder& KeyBuilder::Int64(int64_t v) {
  return Uint64(static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}

bool KeyReader::String(std::string* out) {
  out->clear();
  for (size_t i = 0; i + 1 < rest_.size(); ++i) {
    const char c = rest_[i];
    if (c != '\0') {
      out->push_back(c);
      continue;
    }
    const char next = rest_[i + 1];
    if (next == '\x01') {
      rest_.remove_prefix(i + 2);
      return true;
    }
    if (next != '\xFF') return false;
    out->push_back('\0');
    ++i;
  }
  return false;
}

bool KeyReader::Uint64(uint64_t* out) {
  if (rest_.size() < 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(rest_[i]);
  rest_.remove_prefix(8);
  *out = v;
  return true;
}

bool KeyReader::Int64(int64_t* out) {
  uint64_t u = 0;
  if (!Uint64(&u)) return false;
  *out = static_cast<int64_t>(u ^ (uint64_t{1} << 63));
  return true;
}

std::string PrefixUpperBound(absl::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty()) {
    unsigned char last = static_cast<unsigned char>(bound.back());
    if (last != 0xFF) {
      bound.back() = static_cast<char>(last + 1);
      return bound;
    }
    bound.pop_back();
  }
  return bound;
}

}  // namespace syncwatch
