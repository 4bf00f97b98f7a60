// Windows side of agent/platform.h (the agent's production platform).
#include <windows.h>
// After windows.h:
#include <bcrypt.h>
#include <shellapi.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/platform.h"
#include "agent/win_util.h"

namespace syncwatch::agent {
namespace {

using win::ErrorText;
using win::Handle;
using win::Narrow;
using win::Widen;

// Appends `arg` so that CommandLineToArgvW (and the C runtime's parser) give
// it back unchanged: quoted when it is empty or holds blanks or quotes; in
// quotes, backslashes are literal except before a quote or the closing quote,
// where each is doubled.
void AppendQuoted(const std::wstring& arg, std::wstring* line) {
  if (!line->empty()) line->push_back(L' ');
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    line->append(arg);
    return;
  }
  line->push_back(L'"');
  size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      line->append(backslashes * 2 + 1, L'\\');
    } else {
      line->append(backslashes, L'\\');
    }
    backslashes = 0;
    line->push_back(c);
  }
  line->append(backslashes * 2, L'\\');
  line->push_back(L'"');
}

// Reads one pipe to its end on its own thread, so that neither pipe fills up
// while the other is read (the child would block on a full one).
class PipeReader {
 public:
  // Keeps at most `keep_tail` bytes (the last ones) when non-zero; otherwise
  // everything, and signals `over_cap` once more than `cap` bytes arrived.
  PipeReader(HANDLE pipe, size_t cap, size_t keep_tail, HANDLE over_cap)
      : pipe_(pipe), cap_(cap), keep_tail_(keep_tail), over_cap_(over_cap) {
    done_.Reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
    thread_ = std::thread([this] { Loop(); });
  }
  ~PipeReader() {
    if (thread_.joinable()) thread_.join();
  }
  PipeReader(const PipeReader&) = delete;
  PipeReader& operator=(const PipeReader&) = delete;

  HANDLE done() const { return done_.get(); }
  // Only after done() is signalled.
  std::string Take() {
    if (thread_.joinable()) thread_.join();
    return std::move(data_);
  }

 private:
  void Loop() {
    char buf[65536];
    DWORD got = 0;
    bool signalled = false;
    while (::ReadFile(pipe_.get(), buf, sizeof(buf), &got, nullptr) && got > 0) {
      if (keep_tail_ > 0) {
        data_.append(buf, got);
        if (data_.size() > keep_tail_) data_.erase(0, data_.size() - keep_tail_);
      } else if (data_.size() <= cap_) {
        data_.append(buf, got);
      }
      if (keep_tail_ == 0 && data_.size() > cap_ && !signalled) {
        signalled = true;
        ::SetEvent(over_cap_);
      }
    }
    ::SetEvent(done_.get());
  }

  Handle pipe_;
  const size_t cap_;
  const size_t keep_tail_;
  HANDLE over_cap_;
  Handle done_;
  std::string data_;
  std::thread thread_;
};

// One anonymous pipe: the read end stays here, the write end is inherited.
absl::Status MakePipe(Handle* read, Handle* write) {
  SECURITY_ATTRIBUTES sa{};
  sa.nLength = sizeof(sa);
  sa.bInheritHandle = TRUE;
  HANDLE r = nullptr;
  HANDLE w = nullptr;
  if (!::CreatePipe(&r, &w, &sa, 0)) {
    return absl::InternalError(absl::StrCat("CreatePipe: ", ErrorText(::GetLastError())));
  }
  read->Reset(r);
  write->Reset(w);
  ::SetHandleInformation(r, HANDLE_FLAG_INHERIT, 0);
  return absl::OkStatus();
}

}  // namespace

std::string HostName() {
  wchar_t buf[256];
  DWORD size = sizeof(buf) / sizeof(buf[0]);
  // The DNS host name is already the short one (no domain part).
  if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &size) || size == 0) {
    return "localhost";
  }
  std::string name = Narrow(std::wstring(buf, size));
  const size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

std::string RandomHex(int bytes) {
  std::vector<unsigned char> raw(static_cast<size_t>(bytes > 0 ? bytes : 0));
  if (!raw.empty() &&
      !BCRYPT_SUCCESS(::BCryptGenRandom(nullptr, raw.data(), static_cast<ULONG>(raw.size()),
                                        BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
    // The system RNG does not fail on supported Windows; be safe anyway.
    for (unsigned char& b : raw) b = static_cast<unsigned char>(::GetTickCount64() * 2654435761u);
  }
  std::string out;
  for (unsigned char b : raw) out += absl::StrFormat("%02x", b);
  return out;
}

std::vector<std::string> Utf8CommandLine(int argc, char** argv) {
  int count = 0;
  wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &count);
  if (wide == nullptr) return std::vector<std::string>(argv, argv + argc);  // out of memory
  std::vector<std::string> args;
  for (int i = 0; i < count; ++i) args.push_back(Narrow(wide[i]));
  ::LocalFree(wide);
  return args;
}

void UseOneMallocArena() {}  // one process heap already

absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::string what = absl::StrJoin(argv, " ");
  std::wstring line;
  for (const std::string& a : argv) {
    absl::StatusOr<std::wstring> w = Widen(a);
    if (!w.ok()) return w.status();
    AppendQuoted(*w, &line);
  }

  Handle out_r, out_w, err_r, err_w;
  if (absl::Status s = MakePipe(&out_r, &out_w); !s.ok()) return s;
  if (absl::Status s = MakePipe(&err_r, &err_w); !s.ok()) return s;
  SECURITY_ATTRIBUTES inherit{};
  inherit.nLength = sizeof(inherit);
  inherit.bInheritHandle = TRUE;
  Handle nul(::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                           OPEN_EXISTING, 0, nullptr));
  if (!nul.valid()) {
    return absl::InternalError(absl::StrCat("open NUL: ", ErrorText(::GetLastError())));
  }

  // Only these three handles are inherited (not whatever another thread has
  // open at the moment), so that our pipes see their end when the child's
  // tree exits.
  HANDLE inherited[3] = {nul.get(), out_w.get(), err_w.get()};
  SIZE_T attr_size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attr_size);
  std::vector<unsigned char> attr_buf(attr_size);
  auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buf.data());
  if (!::InitializeProcThreadAttributeList(attrs, 1, 0, &attr_size) ||
      !::UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited,
                                   sizeof(inherited), nullptr, nullptr)) {
    return absl::InternalError(absl::StrCat("process attributes: ", ErrorText(::GetLastError())));
  }
  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof(si);
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = nul.get();
  si.StartupInfo.hStdOutput = out_w.get();
  si.StartupInfo.hStdError = err_w.get();
  si.lpAttributeList = attrs;

  // The whole tree runs in a job: closing or terminating it ends every
  // process the command started, not just the first.
  Handle job(::CreateJobObjectW(nullptr, nullptr));
  if (!job.valid()) {
    ::DeleteProcThreadAttributeList(attrs);
    return absl::InternalError(absl::StrCat("CreateJobObject: ", ErrorText(::GetLastError())));
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  ::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits, sizeof(limits));

  PROCESS_INFORMATION pi{};
  std::vector<wchar_t> mutable_line(line.begin(), line.end());
  mutable_line.push_back(L'\0');
  const BOOL started =
      ::CreateProcessW(nullptr, mutable_line.data(), nullptr, nullptr, TRUE,
                       CREATE_NO_WINDOW | CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT |
                           EXTENDED_STARTUPINFO_PRESENT,
                       nullptr, nullptr, &si.StartupInfo, &pi);
  const DWORD start_error = ::GetLastError();
  ::DeleteProcThreadAttributeList(attrs);
  if (!started) {
    return absl::NotFoundError(absl::StrCat("cannot start '", what, "': ", ErrorText(start_error)));
  }
  Handle process(pi.hProcess);
  Handle thread(pi.hThread);
  if (!::AssignProcessToJobObject(job.get(), process.get())) {
    const DWORD e = ::GetLastError();
    ::TerminateProcess(process.get(), 1);
    return absl::InternalError(absl::StrCat("AssignProcessToJobObject: ", ErrorText(e)));
  }
  ::ResumeThread(thread.get());
  // Our copies of the write ends must go, or the pipes never end.
  out_w.Reset();
  err_w.Reset();
  nul.Reset();

  Handle over_cap(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  PipeReader out(out_r.get(), max_output, 0, over_cap.get());
  PipeReader err(err_r.get(), 0, 4096, over_cap.get());
  // PipeReader owns and closes the read ends.
  static_cast<void>(out_r.Release());
  static_cast<void>(err_r.Release());

  absl::Status failure;
  const absl::Time deadline = absl::Now() + timeout;
  bool out_done = false;
  bool err_done = false;
  while (!out_done || !err_done) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = absl::DeadlineExceededError(
          absl::StrCat("'", what, "' did not finish within ", absl::FormatDuration(timeout)));
      break;
    }
    HANDLE waits[3] = {out.done(), err.done(), over_cap.get()};
    const DWORD ms =
        static_cast<DWORD>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const DWORD r = ::WaitForMultipleObjects(3, waits, FALSE, ms);
    if (r == WAIT_OBJECT_0 + 2) {
      failure = absl::ResourceExhaustedError(
          absl::StrCat("'", what, "' wrote more than ", max_output, " bytes"));
      break;
    }
    out_done = ::WaitForSingleObject(out.done(), 0) == WAIT_OBJECT_0;
    err_done = ::WaitForSingleObject(err.done(), 0) == WAIT_OBJECT_0;
  }
  if (!failure.ok()) ::TerminateJobObject(job.get(), 1);
  ::WaitForSingleObject(process.get(), INFINITE);
  CommandOutput result;
  result.out = out.Take();
  result.err = err.Take();
  if (!failure.ok()) return failure;
  DWORD code = 0;
  ::GetExitCodeProcess(process.get(), &code);
  result.exit_code = static_cast<int>(code);
  return result;
}

}  // namespace syncwatch::agent
