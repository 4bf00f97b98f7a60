#include "common/file_util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

#ifdef _WIN32
#include "common/win_util.h"
#else
#include <dirent.h>
#endif

namespace syncwatch {
namespace {

// Marks IsFileInUse() errors.
constexpr char kInUsePayload[] = "type.syncwatch.dev/syncwatch.FileInUse";

}  // namespace

std::filesystem::path Utf8Path(absl::string_view utf8) {
  return std::filesystem::u8path(utf8.begin(), utf8.end());
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  absl::StatusOr<std::unique_ptr<InputFile>> in = InputFile::Open(path);
  if (!in.ok()) return in.status();
  std::string text;
  char chunk[64 * 1024];
  while (true) {
    absl::StatusOr<size_t> n = (*in)->Read(chunk, sizeof(chunk));
    if (!n.ok()) return n.status();
    if (*n == 0) return text;
    text.append(chunk, *n);
  }
}

bool IsFileInUse(const absl::Status& status) {
  return status.GetPayload(kInUsePayload).has_value();
}

#ifdef _WIN32
// ---- Windows: the wide-character API, errors as Windows gives them -------

namespace {

bool IsMissing(DWORD error) {
  return error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND ||
         error == ERROR_INVALID_NAME || error == ERROR_DIRECTORY;
}

bool IsLocked(DWORD error) {
  return error == ERROR_SHARING_VIOLATION || error == ERROR_LOCK_VIOLATION;
}

absl::Status InUse(absl::Status status) {
  status.SetPayload(kInUsePayload, absl::Cord("1"));
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path) {
  absl::StatusOr<std::wstring> wide = win::Widen(path);
  if (!wide.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open ", path, ": not UTF-8"));
  }
  HANDLE h = ::CreateFileW(wide->c_str(), GENERIC_READ,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD error = ::GetLastError();
    std::string message = absl::StrCat("cannot open ", path, ": ", win::ErrorText(error));
    if (IsMissing(error)) return absl::NotFoundError(message);
    if (error == ERROR_ACCESS_DENIED) return absl::PermissionDeniedError(message);
    if (IsLocked(error)) return InUse(absl::UnavailableError(message));
    return absl::UnavailableError(message);
  }
  // The constructor is private, so make_unique cannot reach it.
  return std::unique_ptr<InputFile>(new InputFile(path, h));
}

InputFile::~InputFile() { ::CloseHandle(static_cast<HANDLE>(file_)); }

absl::StatusOr<size_t> InputFile::Read(char* buf, size_t capacity) {
  DWORD got = 0;
  const DWORD want = static_cast<DWORD>(std::min<size_t>(capacity, DWORD{1} << 30));
  if (!::ReadFile(static_cast<HANDLE>(file_), buf, want, &got, nullptr)) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_HANDLE_EOF) return 0;
    absl::Status status =
        absl::UnavailableError(absl::StrCat("cannot read ", path_, ": ", win::ErrorText(error)));
    return IsLocked(error) ? InUse(std::move(status)) : status;
  }
  return static_cast<size_t>(got);
}

absl::Status CheckFolder(const std::string& dir) {
  absl::StatusOr<std::wstring> wide = win::Widen(dir);
  if (!wide.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot list ", dir, ": not UTF-8"));
  }
  std::wstring pattern = wide->empty() ? L"." : *wide;
  // "C:" is the current folder of drive C: "C:*", not "C:\*".
  if (pattern.back() != L'\\' && pattern.back() != L'/' && pattern.back() != L':') {
    pattern += L'\\';
  }
  pattern += L'*';
  WIN32_FIND_DATAW data;
  HANDLE h = ::FindFirstFileExW(pattern.c_str(), FindExInfoBasic, &data, FindExSearchNameMatch,
                                nullptr, 0);
  if (h != INVALID_HANDLE_VALUE) {
    ::FindClose(h);
    return absl::OkStatus();
  }
  const DWORD error = ::GetLastError();
  // The root of an empty drive has no entries, not even "." and "..".
  if (error == ERROR_FILE_NOT_FOUND) {
    const DWORD attributes = ::GetFileAttributesW(wide->c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      return absl::OkStatus();
    }
  }
  std::string message = absl::StrCat("cannot list ", dir, ": ", win::ErrorText(error));
  if (IsMissing(error)) return absl::NotFoundError(message);
  return absl::UnavailableError(message);
}

#else
// ---- POSIX ----------------------------------------------------------------

namespace {

// std::error_code::message() rather than strerror(): it is thread-safe.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

absl::StatusOr<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path) {
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
  return std::unique_ptr<InputFile>(new InputFile(path, f));
}

InputFile::~InputFile() {
  // Read-only stream: a failing fclose loses nothing.
  (void)std::fclose(static_cast<std::FILE*>(file_));
}

absl::StatusOr<size_t> InputFile::Read(char* buf, size_t capacity) {
  std::FILE* f = static_cast<std::FILE*>(file_);
  const size_t n = std::fread(buf, 1, capacity, f);
  if (n < capacity && std::ferror(f)) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat("cannot read ", path_, ": ", ErrnoText(err)));
  }
  return n;
}

absl::Status CheckFolder(const std::string& dir) {
  DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());
  if (d != nullptr) {
    ::closedir(d);
    return absl::OkStatus();
  }
  const int err = errno;
  std::string message = absl::StrCat("cannot list ", dir, ": ", ErrnoText(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  return absl::UnavailableError(message);
}

#endif

}  // namespace syncwatch
