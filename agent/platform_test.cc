#include "agent/platform.h"

#ifdef _WIN32
#include <windows.h>
// After windows.h:
#include <fcntl.h>
#include <io.h>
#include <shellapi.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#endif

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::testing::StatusIs;

#ifndef _WIN32

TEST(RunCommand, CapturesOutputAndExitCode) {
  auto r = RunCommand({"sh", "-c", "echo out; echo oops >&2; exit 3"}, absl::Seconds(30), 1024);
  SYNCWATCH_ASSERT_OK(r);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "oops\n");
}

TEST(RunCommand, KillsACommandThatOverstaysItsTimeout) {
  const absl::Time start = absl::Now();
  EXPECT_THAT(RunCommand({"sleep", "30"}, absl::Milliseconds(200), 1024),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::HasSubstr("sleep 30")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST(RunCommand, StopsAtTheOutputCap) {
  EXPECT_THAT(RunCommand({"yes"}, absl::Seconds(30), 100000),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(RunCommand, MissingProgramIsNotFound) {
  EXPECT_THAT(RunCommand({"/no/such/program"}, absl::Seconds(5), 1024),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("/no/such/program")));
}

#else  // _WIN32: the commands are this test binary itself, in a child mode.

std::string Utf8(const wchar_t* w) {
  const int len = ::WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
  std::string s(static_cast<size_t>(len > 0 ? len - 1 : 0), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, w, -1, s.data(), len, nullptr, nullptr);
  return s;
}

// `agent_test.exe --child=MODE ARGS...` runs MODE instead of the tests (a
// static initializer, before gtest's main): the arguments it received are
// what CommandLineToArgvW makes of the line RunCommand built.
const bool kChildMode = [] {
  int argc = 0;
  wchar_t** argv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  if (argv == nullptr || argc < 2 || std::wstring(argv[1]).rfind(L"--child=", 0) != 0) {
    return false;
  }
  const std::wstring mode = argv[1] + 8;
  // Bytes as written: no "\n" -> "\r\n" (what RunCommand returns is compared).
  ::_setmode(::_fileno(stdout), _O_BINARY);
  ::_setmode(::_fileno(stderr), _O_BINARY);
  if (mode == L"echo") {  // each argument on a line, "oops" on stderr, exit 3
    for (int i = 2; i < argc; ++i) std::printf("[%s]\n", Utf8(argv[i]).c_str());
    std::fprintf(stderr, "oops\n");
    std::fflush(nullptr);
    std::_Exit(3);
  }
  if (mode == L"flood") {  // endless output on both pipes
    std::string chunk(4096, 'x');
    for (;;) {
      std::fwrite(chunk.data(), 1, chunk.size(), stdout);
      std::fwrite(chunk.data(), 1, 100, stderr);
    }
  }
  if (mode == L"sleep") {
    ::Sleep(60000);
    std::_Exit(0);
  }
  if (mode == L"tree" && argc == 3) {  // starts a sleeping grandchild, writes its pid to
                                       // the file argv[2], sleeps
    wchar_t self[MAX_PATH];
    ::GetModuleFileNameW(nullptr, self, MAX_PATH);
    std::wstring line = std::wstring(L"\"") + self + L"\" --child=sleep";
    STARTUPINFOW si{};
    si.cb = sizeof(si);
    PROCESS_INFORMATION pi{};
    if (!::CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si,
                          &pi)) {
      std::_Exit(9);
    }
    FILE* f = ::_wfopen(argv[2], L"w");
    if (f == nullptr) std::_Exit(10);
    std::fprintf(f, "%lu", static_cast<unsigned long>(pi.dwProcessId));
    std::fclose(f);
    ::Sleep(60000);
    std::_Exit(0);
  }
  std::_Exit(8);
}();

std::string Self() {
  wchar_t self[MAX_PATH];
  ::GetModuleFileNameW(nullptr, self, MAX_PATH);
  return Utf8(self);
}

TEST(RunCommand, CapturesOutputAndExitCode) {
  ASSERT_FALSE(kChildMode);
  auto r = RunCommand({Self(), "--child=echo"}, absl::Seconds(30), 1024);
  SYNCWATCH_ASSERT_OK(r);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "");
  EXPECT_EQ(r->err, "oops\n");
}

TEST(RunCommand, QuotesArgumentsByTheCommandLineToArgvWRules) {
  const std::vector<std::string> args = {"plain",
                                         "two words",
                                         "",
                                         "quote\"inside",
                                         "trailing\\",
                                         "back\\\\\"slash",
                                         "tab\there",
                                         "C:\\Program Files\\x\\",
                                         "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"};
  std::vector<std::string> argv = {Self(), "--child=echo"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv, absl::Seconds(30), 1 << 20);
  SYNCWATCH_ASSERT_OK(r);
  std::string want;
  for (const std::string& a : args) want += "[" + a + "]\n";
  EXPECT_EQ(r->out, want);
}

TEST(RunCommand, KillsACommandThatOverstaysItsTimeout) {
  const absl::Time start = absl::Now();
  EXPECT_THAT(RunCommand({Self(), "--child=sleep"}, absl::Milliseconds(300), 1024),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::HasSubstr("--child=sleep")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST(RunCommand, StopsAtTheOutputCapWithoutDeadlockOnStderr) {
  EXPECT_THAT(RunCommand({Self(), "--child=flood"}, absl::Seconds(30), 100000),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(RunCommand, TimeoutKillsTheWholeProcessTree) {
  syncwatch::testing::TempDir dir;
  const std::string pid_file = dir.path() + "\\grandchild.pid";
  const absl::Time start = absl::Now();
  EXPECT_THAT(RunCommand({Self(), "--child=tree", pid_file}, absl::Seconds(3), 1024),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Killing only the child would leave the grandchild (60 s asleep) holding
  // the pipes, and RunCommand waiting for it.
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  FILE* f = std::fopen(pid_file.c_str(), "r");
  ASSERT_NE(f, nullptr) << "the child did not start its grandchild";
  unsigned long pid = 0;  // NOLINT(runtime/int)
  ASSERT_EQ(std::fscanf(f, "%lu", &pid), 1);
  std::fclose(f);
  // The grandchild sleeps 60 s unless the job object ended it with its parent.
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
  if (h != nullptr) {
    EXPECT_EQ(::WaitForSingleObject(h, 5000), WAIT_OBJECT_0) << "grandchild " << pid << " lives";
    ::CloseHandle(h);
  }
}

TEST(RunCommand, MissingProgramIsNotFound) {
  EXPECT_THAT(RunCommand({"/no/such/program"}, absl::Seconds(5), 1024),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("/no/such/program")));
}

#endif  // _WIN32

TEST(HostName, IsShortAndNotEmpty) {
  const std::string h = HostName();
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(h.find('.'), std::string::npos);
}

}  // namespace
}  // namespace syncwatch::agent
