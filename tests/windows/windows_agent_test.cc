// syncwatch-agent.exe (SYNCWATCH_AGENT_EXE, cross-built by
// scripts/build-windows) under wine64 against the real Linux
// syncwatch-collector on 127.0.0.1 (issue 17):
//  - fast detection: with run history polled every 30 s by the command source
//    of deploy/windows/agent.yaml (powershell.exe ... Get-ADSyncRunProfileResult
//    ... ConvertTo-Json), an Export run that ends
//    stopped-deletion-threshold-exceeded is in a real Alertmanager's
//    /api/v2/alerts within 60 s of its end. powershell.exe is
//    tests/windows/fake_powershell.cc (SYNCWATCH_FAKE_POWERSHELL_EXE), which
//    starts printing that run at a moment the test chooses;
//  - the exe killed mid-stream (taskkill /F) and started again: the collector
//    holds every event exactly once.
// scripts/windows/test runs it; it is not a ctest test (the Linux suite has no
// exe), and fails, not skips, without its inputs.
#include <stdlib.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/alertmanager.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/metrics.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::Subprocess;
using Json = nlohmann::json;

constexpr char kWine[] = "/usr/lib/wine/wine64";
// The Entra connector of the bundled run-history sample, where the fake
// powershell.exe puts the run stopped by the deletion threshold.
constexpr char kAad[] = "mcardletech.onmicrosoft.com - AAD";
constexpr char kTenant[] = "mcardletech.onmicrosoft.com";
constexpr char kSample[] = SYNCWATCH_SOURCE_DIR
    "/deploy/samples/aadconnect/get-adsyncrunprofileresult-json/"
    "TestRunHistory.json";
constexpr char kShippedConfig[] = SYNCWATCH_SOURCE_DIR "/deploy/windows/agent.yaml";

// Wine maps / to drive Z:.
std::string WinPath(const std::string& path) {
  return "Z:" + absl::StrReplaceAll(path, {{"/", "\\"}});
}

std::string EnvOrEmpty(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

class WindowsAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string exe = EnvOrEmpty("SYNCWATCH_AGENT_EXE");
    ASSERT_FALSE(exe.empty()) << "SYNCWATCH_AGENT_EXE is not set: give it the path of "
                                 "syncwatch-agent.exe (scripts/windows/test does)";
    ASSERT_EQ(access(exe.c_str(), R_OK), 0) << "SYNCWATCH_AGENT_EXE=" << exe << " cannot be read";
    ASSERT_EQ(access(kWine, X_OK), 0) << kWine << " is missing (scripts/deps.txt: wine64)";
    // A copy of its own, so that the fake powershell.exe can sit beside it.
    std::filesystem::create_directories(dir_.Sub("bin"));
    std::filesystem::copy_file(exe, dir_.Sub("bin/syncwatch-agent.exe"));
    if (EnvOrEmpty("WINEDEBUG").empty()) setenv("WINEDEBUG", "-all", 1);
    port_ = testing::PickFreePort();
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", port_); }

  // Starts the collector with `extra` YAML and waits until it listens.
  void StartCollector(const std::string& extra) {
    const std::string config = dir_.Sub("collector.yaml");
    // The runs of the samples date from 2022: retention off keeps them.
    testing::WriteFile(
        config, absl::StrCat("data_dir: ", dir_.Sub("collector-data"), "\nlisten: ", Address(),
                             "\nhttp_listen: 127.0.0.1:0\n"
                             "retention: {runs: off, export_errors: off, "
                             "snapshots: off}\n",
                             extra));
    auto p = Subprocess::Start({SYNCWATCH_COLLECTOR_BIN, "--config", config},
                               dir_.Sub("collector.out"), dir_.Sub("collector.err"));
    ASSERT_TRUE(p.ok()) << p.status();
    collector_ = std::make_unique<Subprocess>(*std::move(p));
    auto out = testing::WaitForFileContaining(dir_.Sub("collector.out"), "http on port",
                                              absl::Seconds(30));
    ASSERT_TRUE(out) << testing::ReadFileOrEmpty(dir_.Sub("collector.err"));
    ASSERT_TRUE(absl::SimpleAtoi(
        absl::StripAsciiWhitespace(out->substr(out->find("http on port ") + 13, 6)), &http_port_))
        << *out;
  }

  // `wine64 syncwatch-agent.exe --config CONFIG args...`.
  Subprocess StartAgent(const std::string& config, const std::vector<std::string>& args,
                        const std::string& name) {
    std::vector<std::string> argv = {kWine, dir_.Sub("bin/syncwatch-agent.exe"), "--config",
                                     WinPath(config)};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Subprocess::Start(argv, dir_.Sub(name + ".out"), dir_.Sub(name + ".err"));
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }

  // The agent.yaml of sync01 for this test's collector, its spool in the test
  // directory, with `sources`.
  std::string AgentConfig(const YAML::Node& sources, int batch_max_events = 500) {
    YAML::Node config;
    config["server"] = "sync01";
    config["tenant"] = kTenant;
    config["role"] = "active";
    config["collectors"].push_back(Address());
    config["data_dir"] = WinPath(dir_.Sub("agent-data"));
    config["batch_max_events"] = batch_max_events;
    config["sources"] = sources;
    YAML::Emitter out;
    out << config;
    const std::string path = dir_.Sub("agent.yaml");
    testing::WriteFile(path, std::string(out.c_str()) + "\n");
    return path;
  }

  // `syncwatch runs --output json` at the collector; null when it fails.
  Json Runs() {
    const testing::CommandResult r = testing::RunCommand(
        {SYNCWATCH_CLI_BIN, "--collector", Address(), "runs", "--output", "json"}, dir_.path(),
        absl::StrCat("runs-", ++cli_calls_));
    Json runs = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (r.exit_code != 0 || !runs.is_array()) {
      ADD_FAILURE() << "syncwatch runs: " << r.err;
      return Json();
    }
    return runs;
  }

  // A counter of the collector's /metrics; -1 when it cannot be read.
  int64_t Metric(const std::string& name) { return testing::CollectorMetric(http_port_, name); }

  testing::TempDir dir_;
  int port_ = 0;
  int http_port_ = 0;
  int cli_calls_ = 0;
  std::unique_ptr<Subprocess> collector_;
};

// The run-history source of deploy/windows/agent.yaml: the one with a command.
YAML::Node ShippedRunHistoryCommand() {
  YAML::Node config = YAML::LoadFile(kShippedConfig);
  for (const YAML::Node& source : config["sources"]) {
    if (source["command"] && source["kind"].as<std::string>() == "run_history") return source;
  }
  return YAML::Node();
}

// Unix milliseconds per line of `path`.
std::vector<int64_t> Starts(const std::string& path) {
  std::vector<int64_t> starts;
  for (absl::string_view line :
       absl::StrSplit(testing::ReadFileOrEmpty(path), '\n', absl::SkipWhitespace())) {
    int64_t ms = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &ms)) starts.push_back(ms);
  }
  return starts;
}

// The active DeletionThresholdStoppedExport alert of sync01's Entra connector
// in `alerts`, or null.
const Json* ThresholdAlert(const Json& alerts) {
  for (const Json& a : alerts) {
    if (!a.contains("labels")) continue;
    const Json& l = a["labels"];
    if (l.value("alertname", "") == "DeletionThresholdStoppedExport" &&
        l.value("server", "") == "sync01" && l.value("connector", "") == kAad &&
        testing::AlertIsActive(a)) {
      return &a;
    }
  }
  return nullptr;
}

// Issue 17, item 5. The agent, the collector and Alertmanager run with the
// defaults an operator has (the collector evaluates its rules on each commit
// and sends a new alert at once; the 1-minute evaluation interval and
// resend interval do not come into it). The alert is taken as arrived when
// /api/v2/alerts lists it; Alertmanager's group_wait (30 s by default)
// delays only the notification to its receivers after that.
TEST_F(WindowsAgentTest, DeletionThresholdStopReachesAlertmanagerWithin60sOfTheRunsEnd) {
  const std::string fake = EnvOrEmpty("SYNCWATCH_FAKE_POWERSHELL_EXE");
  ASSERT_FALSE(fake.empty()) << "SYNCWATCH_FAKE_POWERSHELL_EXE is not set: give it the path of "
                                "the cross-built tests/windows powershell.exe";
  // CreateProcessW looks in the exe's own folder first.
  std::filesystem::copy_file(fake, dir_.Sub("bin/powershell.exe"));
  const std::string run_ends = dir_.Sub("run-ends");
  const std::string starts_log = dir_.Sub("powershell-starts.log");
  setenv("SYNCWATCH_FAKE_RUN_HISTORY", WinPath(kSample).c_str(), 1);
  setenv("SYNCWATCH_FAKE_RUN_ENDS", WinPath(run_ends).c_str(), 1);
  setenv("SYNCWATCH_FAKE_POWERSHELL_LOG", WinPath(starts_log).c_str(), 1);

  const YAML::Node source = ShippedRunHistoryCommand();
  ASSERT_TRUE(source) << kShippedConfig << " has no run_history source with a command";
  ASSERT_EQ(source["command"][0].as<std::string>(), "powershell.exe") << kShippedConfig;
  ASSERT_EQ(source["interval"].as<std::string>(""), "30s") << kShippedConfig;

  const std::string binary = testing::FindAlertmanager();
  ASSERT_FALSE(binary.empty()) << "prometheus-alertmanager is not installed (scripts/deps.txt)";
  testing::Alertmanager am(dir_);
  std::string why;
  ASSERT_TRUE(am.Start(binary, &why)) << why;
  ASSERT_NO_FATAL_FAILURE(
      StartCollector(absl::StrCat("notifiers:\n  alertmanager: {urls: [\"", am.url(), "\"]}\n")));

  YAML::Node sources;
  sources.push_back(source);
  Subprocess agent = StartAgent(AgentConfig(sources), {}, "agent");

  // Two polls, 30 s apart, and the sample's runs at the collector.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (Starts(starts_log).size() < 2 && absl::Now() < deadline && agent.running()) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const std::vector<int64_t> starts = Starts(starts_log);
  ASSERT_GE(starts.size(), 2u) << "the agent did not run powershell.exe twice: "
                               << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
  EXPECT_NEAR(static_cast<double>(starts[1] - starts[0]) / 1000.0, 30.0, 3.0)
      << "powershell.exe is not run every 30 s";
  Json runs = Runs();
  ASSERT_EQ(runs.size(), 4u) << runs << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
  EXPECT_EQ(ThresholdAlert(am.Alerts()), nullptr) << am.Alerts();

  // The run ends now, just after a poll began: the next poll is about 30 s
  // away, the worst case for detection.
  absl::SleepFor(absl::Seconds(1));
  const absl::Time ended = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  testing::WriteFile(run_ends + ".tmp", absl::StrCat(absl::ToUnixMillis(ended)));
  std::filesystem::rename(run_ends + ".tmp", run_ends);

  const Json* alert = nullptr;
  Json alerts;
  absl::Time arrived;
  while (absl::Now() < ended + absl::Seconds(120) && agent.running()) {
    alerts = am.Alerts();
    arrived = absl::Now();
    if ((alert = ThresholdAlert(alerts)) != nullptr) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_NE(alert, nullptr) << "no DeletionThresholdStoppedExport alert within 120 s: " << alerts
                            << "\nagent: " << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
  const absl::Duration delay = arrived - ended;
  std::cout << "DeletionThresholdStoppedExport in Alertmanager " << absl::FormatDuration(delay)
            << " after the run ended (limit 60s; powershell.exe polled every "
            << source["interval"].as<std::string>() << ")" << std::endl;
  EXPECT_LE(delay, absl::Seconds(60));

  const Json& labels = (*alert)["labels"];
  EXPECT_EQ(labels["severity"], "critical");
  EXPECT_EQ(labels["tenant"], kTenant);
  EXPECT_EQ(labels["role"], "active");
  EXPECT_EQ((*alert)["annotations"]["run_ended"], FormatIso8601(ended));
  // And the collector stores the run as the cmdlet printed it.
  runs = Runs();
  ASSERT_EQ(runs.size(), 5u) << runs;
  bool found = false;
  for (const Json& run : runs) {
    if (run["run_number"] != 26149) continue;
    found = true;
    EXPECT_EQ(run["connector"], kAad);
    EXPECT_EQ(run["run_profile"], "Export");
    EXPECT_EQ(run["result"], "stopped-deletion-threshold-exceeded");
  }
  EXPECT_TRUE(found) << runs;
}

// Issue 17: the exe killed hard (taskkill /F: TerminateProcess, as an admin or
// a crash would) while it streams, then started again.
TEST_F(WindowsAgentTest, KilledMidStreamAndStartedAgainDeliversEveryEventOnce) {
  constexpr int kFiles = 100;
  constexpr int kRunsPerFile = 250;
  constexpr int kRuns = kFiles * kRunsPerFile;
  for (int f = 0; f < kFiles; ++f) {
    testing::WriteFile(dir_.Sub(absl::StrCat("in/runs-", 100 + f, ".xml")),
                       testing::RunHistoryXml("contoso.com", 1 + f * kRunsPerFile, kRunsPerFile));
  }
  YAML::Node source;
  source["name"] = "runs";
  source["kind"] = "run_history";
  source["format"] = "xml";
  source["path"] = WinPath(dir_.Sub("in")) + "\\*.xml";
  YAML::Node sources;
  sources.push_back(source);
  // Small batches: the stream lasts long enough to be cut.
  const std::string config = AgentConfig(sources, /*batch_max_events=*/25);
  ASSERT_NO_FATAL_FAILURE(StartCollector(""));
  const std::string stored = "syncwatch_ingest_events_stored_total";

  {
    Subprocess agent = StartAgent(config, {"--once", "--once_timeout", "600s"}, "agent");
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (Metric(stored) < 250 && absl::Now() < deadline && agent.running()) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    const testing::CommandResult kill = testing::RunCommand(
        {kWine, "taskkill", "/F", "/IM", "syncwatch-agent.exe"}, dir_.path(), "taskkill");
    ASSERT_EQ(kill.exit_code, 0) << kill.out << kill.err;
    // (Wine's taskkill /F terminates with exit code 0: whether the kill came
    // before the agent finished is told by what the collector holds.)
    ASSERT_TRUE(agent.Wait(absl::Seconds(30)).has_value())
        << "syncwatch-agent.exe still runs after taskkill /F";
  }
  const int64_t stored_at_kill = Metric(stored);
  std::cout << "killed with " << stored_at_kill << " of " << kRuns << " runs stored" << std::endl;
  ASSERT_GT(stored_at_kill, 0);
  ASSERT_LT(stored_at_kill, kRuns) << "the kill came too late to test anything: "
                                   << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));

  Subprocess again = StartAgent(config, {"--once", "--once_timeout", "600s"}, "again");
  ASSERT_EQ(again.Wait(absl::Seconds(600)), 0) << testing::ReadFileOrEmpty(dir_.Sub("again.err"));

  const Json runs = Runs();
  std::set<int64_t> numbers;
  for (const Json& run : runs) numbers.insert(run["run_number"].get<int64_t>());
  EXPECT_EQ(runs.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kRuns));
  ASSERT_FALSE(numbers.empty());
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), kRuns);
  // Each event was stored in exactly one batch: the batches sent again after
  // the restart were recognised as such, and no file was spooled twice.
  EXPECT_EQ(Metric(stored), kRuns);
}

}  // namespace
}  // namespace syncwatch
