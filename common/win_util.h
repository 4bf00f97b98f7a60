// Small Windows helpers shared by the Windows-only code (agent/platform_win.cc,
// agent/service_win.cc, common/file_util.cc): an owned HANDLE, UTF-8 <-> UTF-16, and
// the text of a Windows error code.
#ifndef SYNCWATCH_COMMON_WIN_UTIL_H_
#define SYNCWATCH_COMMON_WIN_UTIL_H_

#include <windows.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace syncwatch::win {

// Owns a HANDLE; both "no handle" values Windows uses count as empty.
class Handle {
 public:
  explicit Handle(HANDLE h = nullptr) : h_(h) {}
  ~Handle() { Reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  HANDLE get() const { return h_; }
  bool valid() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE Release() {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }
  void Reset(HANDLE h = nullptr) {
    if (valid()) ::CloseHandle(h_);
    h_ = h;
  }

 private:
  HANDLE h_;
};

inline std::string ErrorText(DWORD code) {
  wchar_t* buf = nullptr;
  const DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::string text;
  if (n > 0 && buf != nullptr) {
    const int len =
        ::WideCharToMultiByte(CP_UTF8, 0, buf, static_cast<int>(n), nullptr, 0, nullptr, nullptr);
    text.resize(static_cast<size_t>(len));
    ::WideCharToMultiByte(CP_UTF8, 0, buf, static_cast<int>(n), text.data(), len, nullptr, nullptr);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.pop_back();
  }
  if (buf != nullptr) ::LocalFree(buf);
  return absl::StrCat(text.empty() ? "error" : text, " (", code, ")");
}

inline absl::StatusOr<std::wstring> Widen(const std::string& s) {
  if (s.empty()) return std::wstring();
  const int len = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(),
                                        static_cast<int>(s.size()), nullptr, 0);
  if (len <= 0) return absl::InvalidArgumentError(absl::StrCat("not UTF-8: '", s, "'"));
  std::wstring w(static_cast<size_t>(len), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()),
                        w.data(), len);
  return w;
}

inline std::string Narrow(const std::wstring& w) {
  if (w.empty()) return std::string();
  const int len = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr,
                                        0, nullptr, nullptr);
  std::string s(static_cast<size_t>(len), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), len, nullptr,
                        nullptr);
  return s;
}

}  // namespace syncwatch::win

#endif  // SYNCWATCH_COMMON_WIN_UTIL_H_
