#include "agent/parsers/byte_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace syncwatch::agent {
namespace {

// std::error_code::message() rather than strerror(): it is thread-safe.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

absl::StatusOr<size_t> StringByteReader::Read(char* buf, size_t capacity) {
  const size_t n = std::min(capacity, data_.size());
  if (n > 0) std::memcpy(buf, data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

absl::StatusOr<std::unique_ptr<FileByteReader>> FileByteReader::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    std::string message = absl::StrCat("cannot open ", path, ": ", ErrnoText(err));
    switch (err) {
      case ENOENT:
      case ENOTDIR:
        return absl::NotFoundError(message);
      case EACCES:
      case EPERM:
        return absl::PermissionDeniedError(message);
      default:
        return absl::UnavailableError(message);
    }
  }
  // The constructor is private, so make_unique cannot reach it.
  return std::unique_ptr<FileByteReader>(new FileByteReader(path, f));
}

FileByteReader::~FileByteReader() {
  // Read-only stream: a failing fclose loses nothing.
  (void)std::fclose(file_);
}

absl::StatusOr<size_t> FileByteReader::Read(char* buf, size_t capacity) {
  const size_t n = std::fread(buf, 1, capacity, file_);
  if (n < capacity && std::ferror(file_)) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat("cannot read ", path_, ": ", ErrnoText(err)));
  }
  return n;
}

}  // namespace syncwatch::agent
