// POSIX side of agent/platform.h (Linux, where the agent is tested and can run).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/platform.h"

extern char** environ;

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace syncwatch::agent {

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string name(buf);
  // Sync servers are known by their short name in Entra Connect's UI.
  const size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

std::string RandomHex(int bytes) {
  std::random_device rd;  // /dev/urandom or getrandom()
  std::string out;
  for (int i = 0; i < bytes; ++i) out += absl::StrFormat("%02x", rd() & 0xFF);
  return out;
}

std::vector<std::string> Utf8CommandLine(int argc, char** argv) {
  return std::vector<std::string>(argv, argv + argc);
}

void UseOneMallocArena() {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 1);
#endif
}

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::string what = absl::StrJoin(argv, " ");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe(out_pipe) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe(err_pipe) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  posix_spawn_file_actions_addclose(&actions, out_r.get());
  posix_spawn_file_actions_addclose(&actions, err_r.get());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return absl::NotFoundError(absl::StrCat("cannot start '", what, "': ", std::strerror(rc)));
  out_w.Reset();
  err_w.Reset();

  CommandOutput result;
  absl::Status failure;
  const absl::Time deadline = absl::Now() + timeout;
  bool out_open = true;
  bool err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = absl::DeadlineExceededError(
          absl::StrCat("'", what, "' did not finish within ", absl::FormatDuration(timeout)));
      break;
    }
    pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0},
                     {err_open ? err_r.get() : -1, POLLIN, 0}};
    const int n = ::poll(
        fds, 2, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000)));
    if (n < 0 && errno != EINTR) {
      failure = absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      if (i == 0) {
        result.out.append(buf, static_cast<size_t>(got));
      } else {
        result.err.append(buf, static_cast<size_t>(got));
        if (result.err.size() > 4096) result.err.erase(0, result.err.size() - 4096);
      }
    }
    if (result.out.size() > max_output) {
      failure = absl::ResourceExhaustedError(
          absl::StrCat("'", what, "' wrote more than ", max_output, " bytes"));
      break;
    }
  }
  if (!failure.ok()) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!failure.ok()) return failure;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace syncwatch::agent
