// syncwatch-agent: --config FILE -> AgentOptions -> Agent.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "agent/platform.h"
#include "agent/spool.h"
#include "common/flags_util.h"
#include "common/log.h"

#ifdef _WIN32
#include "agent/service_win.h"
#endif

ABSL_FLAG(std::string, config, "", "YAML config file (required)");
ABSL_FLAG(bool, once, false,
          "Read every source once, wait until every collector acknowledged everything, and exit: "
          "0 when delivered, 1 otherwise");
ABSL_FLAG(absl::Duration, once_timeout, absl::Seconds(120),
          "How long --once waits for acknowledgements");
ABSL_FLAG(bool, check, false,
          "Check the spool in the config's data_dir (read-only) and exit: 0 healthy, 1 problems");
ABSL_FLAG(bool, repair, false,
          "Repair the spool in the config's data_dir (rocksdb::RepairDB: keeps what is "
          "readable, drops the rest), then check it; the agent must not be running");
#ifdef _WIN32
ABSL_FLAG(bool, service, false,
          "Run as the Windows service (the service manager passes this; see `syncwatch-agent "
          "service install`)");
#endif

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

// Exit codes: 1 a failure, 2 a usage or config error, 3 the spool is corrupt.
constexpr int kExitCorruptSpool = 3;

// --check: records per family and every problem; 0 healthy, 1 problems.
int CheckSpool(const std::string& dir) {
  auto report = syncwatch::agent::Spool::Check(dir);
  if (!report.ok()) return Fail(2, std::string(report.status().message()));
  std::printf("agent spool %s\n", dir.c_str());
  for (const auto& [family, records] : report->records) {
    std::printf("  %-8s %10llu records\n", family.c_str(),
                static_cast<unsigned long long>(records));  // NOLINT(runtime/int)
  }
  if (report->healthy()) {
    std::printf("healthy\n");
    return 0;
  }
  std::printf("%zu problem(s):\n", report->problems.size());
  for (const std::string& p : report->problems) std::printf("  - %s\n", p.c_str());
  return 1;
}

int RepairSpool(const std::string& dir) {
  std::printf(
      "repairing agent spool %s: rocksdb::RepairDB keeps the batches and marks it can read and "
      "drops the rest (inputs whose mark is lost are read again)\n",
      dir.c_str());
  std::fflush(stdout);
  if (absl::Status s = syncwatch::agent::Spool::Repair(dir); !s.ok()) {
    return Fail(1, std::string(s.message()));
  }
  std::printf("repaired; checking\n");
  return CheckSpool(dir);
}

}  // namespace

// Runs the agent: --once, or until SIGINT/SIGTERM (Ctrl+C) or, as a Windows
// service, until the service manager's STOP or SHUTDOWN; then drains.
int RunAgent(const syncwatch::agent::AgentOptions& options, const std::string& spool_dir,
             bool service) {
  auto agent = syncwatch::agent::Agent::Create(options, syncwatch::RealClock::Get());
  if (!agent.ok()) {
    if (agent.status().code() == absl::StatusCode::kDataLoss) {
      Fail(kExitCorruptSpool, std::string(agent.status().message()));
      return Fail(kExitCorruptSpool,
                  absl::StrCat("the spool in ", spool_dir,
                               " is corrupt; not starting. Run "
                               "`syncwatch-agent --check --config ",
                               absl::GetFlag(FLAGS_config),
                               "` to see what is damaged, then `syncwatch-agent --repair "
                               "--config ",
                               absl::GetFlag(FLAGS_config), "`"));
    }
    if (service) SYNCWATCH_LOG(kError, agent.status().message());
    return Fail(1, std::string(agent.status().message()));
  }

  if (absl::GetFlag(FLAGS_once)) {
    syncwatch::agent::ScanReport report = (*agent)->ScanOnce();
    SYNCWATCH_LOG(kInfo, "read ", report.files_read, " files, spooled ", report.events_spooled,
                  " events; waiting for the collectors");
    for (const std::string& path : report.in_use) {
      SYNCWATCH_LOG(kWarning, "not read this time: ", path, " is in use by its writer");
    }
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
#ifdef _WIN32
  if (service) syncwatch::agent::ReportServiceRunning();
#endif
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  SYNCWATCH_LOG(kInfo, service ? "stop requested by the service manager, stopping"
                               : "signal received, stopping");
#ifdef _WIN32
  if (service) syncwatch::agent::ReportServiceStopping(absl::Seconds(30));
#else
  static_cast<void>(service);
#endif
  (*agent)->Stop();
  runner.join();
  return 0;
}

#ifdef _WIN32
// The service's main: everything goes to <data_dir>\logs\agent.log, warnings
// and errors to the event log too (a service has no console).
constexpr size_t kServiceLogBytes = 10 << 20;

int ServiceMain() {
  auto options = syncwatch::agent::LoadAgentConfig(absl::GetFlag(FLAGS_config));
  if (!options.ok()) {
    syncwatch::agent::LogToFileAndEventLog("", kServiceLogBytes);
    SYNCWATCH_LOG(kError, options.status().message());
    return 2;
  }
  syncwatch::agent::LogToFileAndEventLog(options->data_dir, kServiceLogBytes);
  const std::string spool_dir = syncwatch::agent::SpoolDir(*options);
  const int code = RunAgent(*options, spool_dir, /*service=*/true);
  if (code != 0) SYNCWATCH_LOG(kError, "the agent stopped with exit code ", code);
  return code;
}
#endif

int main(int argc, char** argv) {
  syncwatch::agent::UseOneMallocArena();  // before any thread starts
  absl::SetProgramUsageMessage(
      "Reads what the Entra Connect sync engine records and streams it to syncwatch collectors.\n"
      "Usage: syncwatch-agent --config FILE [--once | --check | --repair]\n"
#ifdef _WIN32
      "       syncwatch-agent service install --config FILE | service uninstall\n"
#endif
      "Exit codes: 0 ok, 1 failure (--check: problems found), 2 usage, 3 corrupt spool");
  // UTF-8 from here on (on Windows, from the UTF-16 command line).
  std::vector<std::string> utf8_args = syncwatch::agent::Utf8CommandLine(argc, argv);
  std::vector<char*> utf8_ptrs;
  for (std::string& a : utf8_args) utf8_ptrs.push_back(a.data());
  std::vector<std::string> args =
      syncwatch::NormalizeFlagNames(static_cast<int>(utf8_ptrs.size()), utf8_ptrs.data());
#ifdef _WIN32
  if (args.size() >= 2 && args[1] == "service") {
    return syncwatch::agent::ServiceCommand({args.begin() + 2, args.end()});
  }
#endif
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (absl::GetFlag(FLAGS_config).empty()) return Fail(2, "--config FILE is required");
#ifdef _WIN32
  // Connect to the service manager first (it waits 30 s at most), then load.
  if (absl::GetFlag(FLAGS_service)) return syncwatch::agent::RunAsService(ServiceMain, &g_stop);
#endif
  auto options = syncwatch::agent::LoadAgentConfig(absl::GetFlag(FLAGS_config));
  if (!options.ok()) return Fail(2, std::string(options.status().message()));
  const std::string spool_dir = syncwatch::agent::SpoolDir(*options);
  if (absl::GetFlag(FLAGS_check) && absl::GetFlag(FLAGS_repair)) {
    return Fail(2, "--check and --repair exclude each other");
  }
  if (absl::GetFlag(FLAGS_check)) return CheckSpool(spool_dir);
  if (absl::GetFlag(FLAGS_repair)) return RepairSpool(spool_dir);

  return RunAgent(*options, spool_dir, /*service=*/false);
}
