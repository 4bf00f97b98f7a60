// A minimal pull interface over bytes, so parsers can stream from a file, a
// command's output or memory alike.
#ifndef SYNCWATCH_AGENT_PARSERS_BYTE_READER_H_
#define SYNCWATCH_AGENT_PARSERS_BYTE_READER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"

namespace syncwatch::agent {

// Not thread-safe.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Reads up to `capacity` bytes into `buf`; returns how many, 0 at the end.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t capacity) = 0;
};

// Reads from memory; `data` must outlive the reader.
class StringByteReader final : public ByteReader {
 public:
  explicit StringByteReader(absl::string_view data) : data_(data) {}
  absl::StatusOr<size_t> Read(char* buf, size_t capacity) override;

 private:
  absl::string_view data_;
};

// Reads a file named by its UTF-8 path (common/file_util.h: wide-character
// APIs on Windows, sharing the file with its writer).
class FileByteReader final : public ByteReader {
 public:
  // NotFound / PermissionDenied / Unavailable naming the path when it cannot
  // be opened; IsFileInUse() when its writer holds it (Windows).
  static absl::StatusOr<std::unique_ptr<FileByteReader>> Open(const std::string& path);
  absl::StatusOr<size_t> Read(char* buf, size_t capacity) override;

 private:
  explicit FileByteReader(std::unique_ptr<InputFile> file) : file_(std::move(file)) {}
  std::unique_ptr<InputFile> file_;
};

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_BYTE_READER_H_
