#include "agent/parsers/byte_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"

namespace syncwatch::agent {

absl::StatusOr<size_t> StringByteReader::Read(char* buf, size_t capacity) {
  const size_t n = std::min(capacity, data_.size());
  if (n > 0) std::memcpy(buf, data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

absl::StatusOr<std::unique_ptr<FileByteReader>> FileByteReader::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<InputFile>> file = InputFile::Open(path);
  if (!file.ok()) return file.status();
  // The constructor is private, so make_unique cannot reach it.
  return std::unique_ptr<FileByteReader>(new FileByteReader(*std::move(file)));
}

absl::StatusOr<size_t> FileByteReader::Read(char* buf, size_t capacity) {
  return file_->Read(buf, capacity);
}

}  // namespace syncwatch::agent
