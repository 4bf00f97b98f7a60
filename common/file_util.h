// Files and folders named by UTF-8 paths, the same way on every OS. On
// Windows a std::string path would be read in the ANSI code page (so
// "Zürich-東京" could not be opened); every file the programs open by a path
// from a config file or the command line goes through these instead.
#ifndef SYNCWATCH_COMMON_FILE_UTIL_H_
#define SYNCWATCH_COMMON_FILE_UTIL_H_

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace syncwatch {

// The path named by UTF-8 text (UTF-16 on Windows; the bytes as they are on
// POSIX). Use it for std::filesystem calls and std::ifstream/ofstream.
std::filesystem::path Utf8Path(absl::string_view utf8);

// A file open for reading. On Windows it is opened sharing read, write and
// delete, so that its writer may still write, replace or delete it.
class InputFile {
 public:
  // NotFound (no such file or folder), PermissionDenied, or Unavailable, each
  // "cannot open PATH: <the OS's reason>". A file its writer holds open
  // without sharing it (Windows: a sharing or lock violation) is Unavailable
  // and IsFileInUse().
  static absl::StatusOr<std::unique_ptr<InputFile>> Open(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to `capacity` bytes into `buf`; returns how many, 0 at the end.
  // Unavailable "cannot read PATH: …" (IsFileInUse() for a region its writer
  // locked).
  absl::StatusOr<size_t> Read(char* buf, size_t capacity);

 private:
  InputFile(std::string path, void* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  void* file_;  // a HANDLE on Windows, a std::FILE* elsewhere
};

// The whole file, through InputFile (its errors).
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// True for InputFile's errors about a file that its writer holds (the agent
// reads it again later instead of reporting it broken).
bool IsFileInUse(const absl::Status& status);

// OK when the folder `dir` can be listed. NotFound when it does not exist;
// Unavailable when it cannot be listed for another reason (an unreachable
// share, no access). Either names the folder and gives the OS's reason.
absl::Status CheckFolder(const std::string& dir);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_FILE_UTIL_H_
