// Starting the real binaries from process-level tests.
#ifndef SYNCWATCH_TESTS_TESTUTIL_SUBPROCESS_H_
#define SYNCWATCH_TESTS_TESTUTIL_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace syncwatch::testing {

// A child process whose stdout and stderr go to files. Killed with SIGKILL on
// destruction if still running.
class Subprocess {
 public:
  // Starts `argv[0]` with `argv`; output to `stdout_path` / `stderr_path`.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv,
                                          const std::string& stdout_path,
                                          const std::string& stderr_path);
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  bool running();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// What RunCommand saw: the exit code (nullopt on timeout) and the output.
struct CommandResult {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`), its output kept in
// `dir`/`name`.out and .err.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                         const std::string& name, absl::Duration timeout = absl::Seconds(60));

// Where the process tests find Chromium (Debian package chromium).
inline constexpr char kChromiumPath[] = "/usr/bin/chromium";

// The command line of headless Chromium as the process tests run it, with
// the profile in `profile_dir`, `extra` flags (e.g. "--dump-dom"), then `url`.
std::vector<std::string> HeadlessChromium(const std::string& profile_dir,
                                          const std::vector<std::string>& extra,
                                          const std::string& url);

// Waits until `path` contains `needle`; returns the file's content then, or
// nullopt on timeout.
std::optional<std::string> WaitForFileContaining(const std::string& path, const std::string& needle,
                                                 absl::Duration timeout);

// A TCP port on 127.0.0.1 that was free a moment ago.
int PickFreePort();

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_SUBPROCESS_H_
