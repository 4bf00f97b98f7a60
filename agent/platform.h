// The agent's only OS-specific calls, so that it builds on Windows (where it
// runs in production) as well as on Linux (where it is tested).
#ifndef SYNCWATCH_AGENT_PLATFORM_H_
#define SYNCWATCH_AGENT_PLATFORM_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace syncwatch::agent {

// The machine's host name (short form), or "localhost" if it cannot be read.
std::string HostName();

// Random bytes from the OS, hex encoded (for spool epochs).
std::string RandomHex(int bytes);

// The command line as UTF-8 text, for the flags and paths in it. POSIX: argv
// as given. Windows: main()'s argv is in the ANSI code page (a path such as
// C:\Zürich-東京\agent.yaml loses characters there), so the UTF-16 command
// line (GetCommandLineW, split as CommandLineToArgvW does) is converted.
std::vector<std::string> Utf8CommandLine(int argc, char** argv);

// Makes the C library's allocator serve every thread from one heap (glibc's
// M_ARENA_MAX=1; does nothing elsewhere). The agent builds a big snapshot on
// one thread and the collector links parse and send it on others; with a heap
// per thread, what one thread freed stays resident while another allocates
// anew, which raised the agent's peak on a 200 MiB csexport file by 15-20 MB
// (BENCHMARKS.md). Call before the agent starts threads.
void UseOneMallocArena();

struct CommandOutput {
  int exit_code = 0;
  std::string out;  // standard output
  std::string err;  // the end of standard error (at most 4 KiB), for messages
};

// Runs `argv` (argv[0] is looked up in PATH) with no standard input and waits
// for it. DeadlineExceeded (after killing it) when it outlives `timeout`;
// ResourceExhausted (after killing it) when it writes more than `max_output`
// bytes; NotFound when the program cannot be started. A non-zero exit is not
// an error here: the caller decides.
absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PLATFORM_H_
