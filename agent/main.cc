// syncwatch-agent: --config FILE -> AgentOptions -> Agent.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "common/flags_util.h"
#include "common/log.h"

ABSL_FLAG(std::string, config, "", "YAML config file (required)");
ABSL_FLAG(bool, once, false,
          "Read every source once, wait until every collector acknowledged everything, and exit: "
          "0 when delivered, 1 otherwise");
ABSL_FLAG(absl::Duration, once_timeout, absl::Seconds(120),
          "How long --once waits for acknowledgements");

namespace {

// Set by SIGINT/SIGTERM (Ctrl+C on Windows); a lock-free atomic store is
// async-signal-safe, and std::signal is portable C++, unlike sem_post.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
void OnSignal(int) { g_stop.store(true); }

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "syncwatch-agent: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Reads what the Entra Connect sync engine records and streams it to syncwatch collectors.\n"
      "Usage: syncwatch-agent --config FILE [--once]");
  std::vector<std::string> args = syncwatch::NormalizeFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (absl::GetFlag(FLAGS_config).empty()) return Fail(2, "--config FILE is required");
  auto options = syncwatch::agent::LoadAgentConfig(absl::GetFlag(FLAGS_config));
  if (!options.ok()) return Fail(2, std::string(options.status().message()));

  auto agent = syncwatch::agent::Agent::Create(*options, syncwatch::RealClock::Get());
  if (!agent.ok()) return Fail(1, std::string(agent.status().message()));

  if (absl::GetFlag(FLAGS_once)) {
    syncwatch::agent::ScanReport report = (*agent)->ScanOnce();
    SYNCWATCH_LOG(kInfo, "read ", report.files_read, " files, spooled ", report.events_spooled,
                  " events; waiting for the collectors");
    absl::Status delivered = (*agent)->WaitDelivered(absl::GetFlag(FLAGS_once_timeout));
    int code = 0;
    for (const std::string& f : report.failures) code = Fail(1, f);
    if (!delivered.ok()) code = Fail(1, std::string(delivered.message()));
    if (code == 0) SYNCWATCH_LOG(kInfo, "everything delivered");
    return code;
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::thread runner([&] { (*agent)->Run(); });
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  SYNCWATCH_LOG(kInfo, "signal received, stopping");
  (*agent)->Stop();
  runner.join();
  return 0;
}
