// Process-level tests: the real syncwatch-collector, syncwatch-agent and
// syncwatch binaries, talking gRPC over TCP on 127.0.0.1.
#include <grpcpp/create_channel.h>
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncwatch/v1/query.grpc.pb.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/metrics.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SYNCWATCH_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYNCWATCH_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef SYNCWATCH_TEST_UNDER_ASAN
#define SYNCWATCH_TEST_UNDER_ASAN 0
#endif

namespace syncwatch {
namespace {

using ::syncwatch::testing::Subprocess;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { port_ = testing::PickFreePort(); }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Starts the collector and waits until it listens.
  Subprocess StartCollector() {
    ++collector_starts_;
    const std::string out = dir_.Sub(absl::StrCat("collector-", collector_starts_, ".out"));
    // The fixtures' runs date from 2023, past the default retention: a test
    // that outlives the first retention pass would see them deleted.
    const std::string config = dir_.Sub("collector.yaml");
    testing::WriteFile(config, "retention: {runs: off, export_errors: off, snapshots: off}\n");
    auto p = Subprocess::Start(
        {SYNCWATCH_COLLECTOR_BIN, "--config", config, "--data_dir", dir_.Sub("collector-data"),
         "--listen", Address(), "--http-listen", "127.0.0.1:0"},
        out, dir_.Sub("collector.err"));
    EXPECT_TRUE(p.ok()) << p.status();
    auto content = testing::WaitForFileContaining(out, "http on port", absl::Seconds(30));
    EXPECT_TRUE(content) << testing::ReadFileOrEmpty(dir_.Sub("collector.err"));
    if (content) http_port_ = std::stoi(content->substr(content->find("http on port ") + 13));
    return *std::move(p);
  }

  std::string WriteAgentConfig(const std::string& sources, int batch_max_events = 500) {
    const std::string path = dir_.Sub("agent.yaml");
    testing::WriteFile(
        path, absl::StrCat("server: sync01\ntenant: fabrikam.onmicrosoft.com\n", "collectors: [\"",
                           Address(), "\"]\n", "data_dir: ", dir_.Sub("agent-data"),
                           "\nbatch_max_events: ", batch_max_events, "\nsources:\n", sources));
    return path;
  }

  Subprocess StartAgentOnce(const std::string& config) {
    auto p = Subprocess::Start(
        {SYNCWATCH_AGENT_BIN, "--config", config, "--once", "--once_timeout", "300s"},
        dir_.Sub("agent.out"), dir_.Sub("agent.err"));
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }

  int64_t CountRuns(std::set<int64_t>* run_numbers = nullptr) {
    auto stub =
        v1::Query::NewStub(grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
    v1::ListRunsRequest req;
    req.set_page_size(5000);
    int64_t n = 0;
    do {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      v1::ListRunsResponse resp;
      grpc::Status s = stub->ListRuns(&ctx, req, &resp);
      if (!s.ok()) return -1;
      n += resp.runs_size();
      if (run_numbers) {
        for (const auto& r : resp.runs()) run_numbers->insert(r.run().run_number());
      }
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return n;
  }

  // A counter from the collector's /metrics, -1 when it cannot be read.
  int64_t Metric(const std::string& name) { return testing::CollectorMetric(http_port_, name); }

  // kFiles run-history files of kRunsPerFile runs each (run numbers 1..N) and
  // an agent config reading them in small batches, so streams last long
  // enough to be killed in the middle. Returns the config's path.
  static constexpr int kFiles = 40;
  static constexpr int kRunsPerFile = 250;
  std::string WriteManyRunFiles() {
    for (int f = 0; f < kFiles; ++f) {
      testing::WriteFile(dir_.Sub(absl::StrCat("in/runs-", 100 + f, ".xml")),
                         testing::RunHistoryXml("contoso.com", 1 + f * kRunsPerFile, kRunsPerFile));
    }
    return WriteAgentConfig(absl::StrCat("  - {name: runs, kind: run_history, format: xml, path: ",
                                         dir_.Sub("in/*.xml"), "}\n"),
                            /*batch_max_events=*/25);
  }

  testing::TempDir dir_;
  int port_ = 0;
  int http_port_ = 0;
  int collector_starts_ = 0;
};

// issue 2: SIGKILL the collector mid-stream, restart it on the same data dir:
// every acknowledged event is there exactly once and the agent finishes.
TEST_F(ProcessTest, CollectorKilledMidStreamLosesAndDuplicatesNothing) {
  const std::string config = WriteManyRunFiles();

  Subprocess collector = StartCollector();
  Subprocess agent = StartAgentOnce(config);
  for (int kill = 0; kill < 3; ++kill) {
    // Let some batches land, then kill without warning.
    const int64_t before = std::max<int64_t>(CountRuns(), 0);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (CountRuns() <= before + 100 && absl::Now() < deadline && agent.running()) {
    }
    collector.Signal(SIGKILL);
    ASSERT_EQ(collector.Wait(absl::Seconds(10)), 128 + SIGKILL);
    collector = StartCollector();
  }
  ASSERT_EQ(agent.Wait(absl::Seconds(300)), 0) << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));

  std::set<int64_t> numbers;
  EXPECT_EQ(CountRuns(&numbers), kFiles * kRunsPerFile);
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kFiles * kRunsPerFile));
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), kFiles * kRunsPerFile);
  // The kills really hit a live stream: the agent saw its streams break.
  EXPECT_THAT(testing::ReadFileOrEmpty(dir_.Sub("agent.err")), ::testing::HasSubstr("collector "));
}

// issue 3: SIGKILL the agent while it streams, restart it: the collector ends
// with every event exactly once, and no input was spooled twice.
TEST_F(ProcessTest, AgentKilledMidStreamResumesWithoutLossOrRepeat) {
  const std::string config = WriteManyRunFiles();
  Subprocess collector = StartCollector();
  {
    Subprocess agent = StartAgentOnce(config);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (CountRuns() < 500 && absl::Now() < deadline && agent.running()) {
    }
    agent.Signal(SIGKILL);
    ASSERT_EQ(agent.Wait(absl::Seconds(10)), 128 + SIGKILL) << "the agent finished before the kill";
  }
  const int64_t stored_at_kill = CountRuns();
  EXPECT_LT(stored_at_kill, kFiles * kRunsPerFile) << "the kill came too late to test anything";

  Subprocess again = StartAgentOnce(config);
  ASSERT_EQ(again.Wait(absl::Seconds(300)), 0) << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
  std::set<int64_t> numbers;
  EXPECT_EQ(CountRuns(&numbers), kFiles * kRunsPerFile);
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kFiles * kRunsPerFile));
  // No file was spooled twice (the spool marks a file read in the same write
  // that spools its events), so the collector stored each event in exactly
  // one batch; batches re-sent after the restart were recognised as such.
  EXPECT_EQ(Metric("syncwatch_ingest_events_stored_total"), kFiles * kRunsPerFile);
}

// Writes a csexport /f:x document of about `megabytes` MiB to `path` without
// holding it: a fifth pending deletes, a fifth adds, the rest updates with
// full holograms (the bulk of a real file).
void WriteLargeCsExport(const std::string& path, int megabytes) {
  std::ofstream out(path, std::ios::binary);
  out << "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<cs-objects>\n";
  const int64_t target = int64_t{megabytes} << 20;
  int64_t written = 0;
  for (int64_t i = 0; written < target; ++i) {
    const char* op = i % 5 == 0 ? "delete" : i % 5 == 1 ? "add" : "modify";
    const char* delta_op = i % 5 == 0 ? "delete" : i % 5 == 1 ? "add" : "update";
    std::string o = absl::StrCat(
        " <cs-object cs-dn=\"CN={", absl::Hex(i, absl::kZeroPad16), "}\" id=\"{",
        absl::Hex(i, absl::kZeroPad8),
        "-0000-4000-8000-000000000000}\" object-type=\"user\">\n  <unapplied-export><delta "
        "operation=\"",
        delta_op, "\" dn=\"CN={", absl::Hex(i, absl::kZeroPad16), "}\">",
        i % 5 == 0
            ? ""
            : absl::StrCat("<attr name=\"userPrincipalName\" type=\"string\" multivalued=\"false\">"
                           "<value>u",
                           i, "@contoso.com</value></attr>"),
        "</delta></unapplied-export>\n  <synchronized-hologram><entry dn=\"CN=x\">");
    for (int a = 0; a < 12; ++a) {
      absl::StrAppend(&o, "<attr name=\"extensionAttribute", a,
                      "\" type=\"string\" multivalued=\"false\"><value>",
                      std::string(60, static_cast<char>('a' + a)), "</value></attr>");
    }
    absl::StrAppend(
        &o, "<attr name=\"userPrincipalName\" type=\"string\" multivalued=\"false\"><value>u", i,
        "@contoso.com</value></attr></entry></synchronized-hologram>\n  <export-delta-operation>",
        op,
        "</export-delta-operation>\n  <ma-name>contoso.onmicrosoft.com - AAD</ma-name>\n "
        "</cs-object>\n");
    out << o;
    written += static_cast<int64_t>(o.size());
  }
  out << "</cs-objects>\n";
}

// Peak resident set of the children waited for so far, in MiB.
double ChildrenPeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// issue 3: a huge csexport file must not grow the agent's memory by more than
// 64 MB. Measured as the agent process's peak RSS against the same agent
// reading a tiny file.
TEST_F(ProcessTest, AgentMemoryStaysBoundedOnAHugeCsexportFile) {
#if SYNCWATCH_TEST_UNDER_ASAN
  // ASan's shadow memory and quarantine make RSS meaningless; still run the
  // path end to end on a smaller file.
  constexpr int kMegabytes = 64;
  constexpr bool kMeasure = false;
#else
  // 1 GiB as the issue states it, unless the disk cannot take it: the lists'
  // budgets fill within the first ~100 MiB, so 256 MiB still shows the bound.
  const int kMegabytes =
      std::filesystem::space(dir_.path()).available > (uint64_t{4} << 30) ? 1024 : 256;
  constexpr bool kMeasure = true;
#endif
  Subprocess collector = StartCollector();
  const std::string config = WriteAgentConfig(absl::StrCat(
      "  - {name: pending, kind: pending_exports, format: csexport, path: ", dir_.Sub("in/*.xml"),
      "}\n"));
  testing::WriteFile(dir_.Sub("in/small.xml"),
                     testing::CsExportPendingXml("contoso.onmicrosoft.com - AAD", 10, 10));
  {
    Subprocess agent = StartAgentOnce(config);
    ASSERT_EQ(agent.Wait(absl::Seconds(120)), 0) << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
  }
  const double baseline = ChildrenPeakRssMb();
  WriteLargeCsExport(dir_.Sub("in/large.xml"), kMegabytes);
  const absl::Time start = absl::Now();
  {
    Subprocess agent = StartAgentOnce(config);
    ASSERT_EQ(agent.Wait(absl::Seconds(900)), 0) << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
  }
  const double peak = ChildrenPeakRssMb();
  std::printf(
      "csexport %d MiB read in %.1f s; agent peak RSS %.1f MiB, baseline %.1f MiB, growth %.1f "
      "MiB\n",
      kMegabytes, absl::ToDoubleSeconds(absl::Now() - start), peak, baseline, peak - baseline);
  if (kMeasure) {
    EXPECT_LE(peak - baseline, 64.0);
  }

  // And the snapshot arrived with every pending object counted.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto stub = v1::Query::NewStub(
      grpc::CreateCustomChannel(Address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  v1::ListPendingExportsResponse resp;
  ASSERT_TRUE(stub->ListPendingExports(&ctx, v1::ListPendingExportsRequest(), &resp).ok());
  ASSERT_EQ(resp.snapshots_size(), 1);
  const v1::PendingExportSnapshot& s = resp.snapshots(0).snapshot();
  EXPECT_GT(s.pending_deletes(), 1000);
  EXPECT_GT(s.pending_updates(), s.pending_deletes());
  EXPECT_GT(s.deletes_size(), 0);
  EXPECT_LE(s.deletes_size(), s.pending_deletes());
}

// issue 2: the README's first command in miniature — samples in, `syncwatch
// runs --output json` out.
TEST_F(ProcessTest, CliPrintsTheSampleRunsAsJson) {
  Subprocess collector = StartCollector();
  const std::string samples = testing::SamplesDir();
  const std::string config = WriteAgentConfig(
      absl::StrCat("  - {name: runs-xml, kind: run_history, format: xml, path: ", samples,
                   "/mim-run-history-xml/*.xml}\n",
                   "  - {name: runs-json, kind: run_history, format: json, path: ", samples,
                   "/get-adsyncrunprofileresult-json/*.json}\n"));
  Subprocess agent = StartAgentOnce(config);
  ASSERT_EQ(agent.Wait(absl::Seconds(120)), 0) << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));

  auto cli =
      Subprocess::Start({SYNCWATCH_CLI_BIN, "--collector", Address(), "runs", "--output", "json"},
                        dir_.Sub("cli.out"), dir_.Sub("cli.err"));
  SYNCWATCH_ASSERT_OK(cli);
  ASSERT_EQ(cli->Wait(absl::Seconds(60)), 0) << testing::ReadFileOrEmpty(dir_.Sub("cli.err"));
  const nlohmann::json runs = nlohmann::json::parse(testing::ReadFileOrEmpty(dir_.Sub("cli.out")));
  ASSERT_TRUE(runs.is_array());
  ASSERT_EQ(runs.size(), 6u);
  int with_id = 0;
  for (const auto& r : runs) {
    for (const char* key :
         {"server", "connector", "run_profile", "run_number", "result", "start", "end"}) {
      EXPECT_TRUE(r.contains(key)) << key << " missing in " << r.dump();
    }
    EXPECT_EQ(r["server"], "sync01");
    if (!r["run_history_id"].is_null()) ++with_id;
    if (r["run_history_id"] == "c5aba9de-a634-4d64-b4ad-c7ad337faf91") {
      EXPECT_EQ(r["connector"], "mcardletech.onmicrosoft.com - AAD");
      EXPECT_EQ(r["run_profile"], "Export");
      EXPECT_EQ(r["run_number"], 26148);
      EXPECT_EQ(r["result"], "success");
      EXPECT_EQ(r["start"], "2022-04-08T04:10:17.557Z");
      EXPECT_EQ(r["end"], "2022-04-08T04:10:27.097Z");
    }
    if (r["connector"] == "MOSS-UserProfile") {
      EXPECT_EQ(r["result"], "completed-export-errors");
      EXPECT_EQ(r["start"], "2017-01-04T23:05:05.367Z");
    }
  }
  EXPECT_EQ(with_id, 4);  // the JSON runs carry a RunHistoryId, the XML ones none

  // An unreachable collector is a clear error and a non-zero exit.
  collector.Signal(SIGTERM);
  ASSERT_EQ(collector.Wait(absl::Seconds(30)), 0);
  auto down = Subprocess::Start({SYNCWATCH_CLI_BIN, "--collector", Address(), "runs"},
                                dir_.Sub("cli2.out"), dir_.Sub("cli2.err"));
  SYNCWATCH_ASSERT_OK(down);
  EXPECT_NE(down->Wait(absl::Seconds(60)), 0);
  EXPECT_THAT(testing::ReadFileOrEmpty(dir_.Sub("cli2.err")), ::testing::HasSubstr(Address()));
}

// The agent as a service: it delivers what its sources hold without --once,
// keeps running, and stops cleanly on SIGTERM.
TEST_F(ProcessTest, AgentRunsAsAServiceAndStopsOnSigterm) {
  Subprocess collector = StartCollector();
  const std::string samples = testing::SamplesDir();
  const std::string config = WriteAgentConfig(absl::StrCat(
      "  - {name: runs-json, kind: run_history, format: json, interval: 1s, path: ", samples,
      "/get-adsyncrunprofileresult-json/*.json}\n"));
  auto agent = Subprocess::Start({SYNCWATCH_AGENT_BIN, "--config", config}, dir_.Sub("agent.out"),
                                 dir_.Sub("agent.err"));
  SYNCWATCH_ASSERT_OK(agent);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (CountRuns() < 4 && absl::Now() < deadline) {
  }
  EXPECT_EQ(CountRuns(), 4);
  EXPECT_TRUE(agent->running());
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(absl::Seconds(30)), 0) << testing::ReadFileOrEmpty(dir_.Sub("agent.err"));
}

// A bad config names the file and line and the agent exits 2 without starting.
TEST_F(ProcessTest, AgentRejectsABadConfigNamingTheLine) {
  const std::string path = dir_.Sub("bad.yaml");
  testing::WriteFile(
      path, "server: sync01\nsources:\n  - {name: r, kind: run_history, format: yaml, path: /x}\n");
  auto agent = Subprocess::Start({SYNCWATCH_AGENT_BIN, "--config", path, "--once"},
                                 dir_.Sub("a.out"), dir_.Sub("a.err"));
  SYNCWATCH_ASSERT_OK(agent);
  EXPECT_EQ(agent->Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(testing::ReadFileOrEmpty(dir_.Sub("a.err")),
              ::testing::HasSubstr(path + ":3: source 'r': format 'yaml'"));
}

// The PNG signature and the image width from the IHDR chunk, or -1.
int PngWidth(const std::string& png) {
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return -1;
  const auto byte = [&png](size_t i) { return static_cast<int>(static_cast<uint8_t>(png[i])); };
  return byte(16) << 24 | byte(17) << 16 | byte(18) << 8 | byte(19);
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// issue 5: the collector's web page in a real browser. Three agents report
// three sync servers (healthy, near the deletion threshold, over it); headless
// Chromium renders the fleet page and the critical server's page.
class WebPageTest : public ProcessTest {
 protected:
  static constexpr const char* kChromium = testing::kChromiumPath;

  // Runs headless Chromium on `url` with `mode` ("--dump-dom" or
  // "--screenshot=<file>") and a fresh profile; returns its standard output.
  std::string Chromium(const std::string& mode, const std::string& url) {
    ++chromium_runs_;
    const std::string out = dir_.Sub(absl::StrCat("chromium-", chromium_runs_, ".out"));
    const std::string err = dir_.Sub(absl::StrCat("chromium-", chromium_runs_, ".err"));
    auto p = Subprocess::Start(
        testing::HeadlessChromium(dir_.Sub(absl::StrCat("chromium-profile-", chromium_runs_)),
                                  {"--window-size=1400,900", mode}, url),
        out, err);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    EXPECT_EQ(p->Wait(absl::Seconds(120)), 0) << testing::ReadFileOrEmpty(err);
    return testing::ReadFileOrEmpty(out);
  }

  // Screenshots `path`, checks that it is a real 1400 px wide PNG, and keeps
  // it as `name` in the build directory (the collector binary's parent's
  // parent) for people and CI artifacts.
  void Screenshot(const std::string& path, const std::string& name) {
    const std::string shot = dir_.Sub(name);
    Chromium("--screenshot=" + shot, Url(path));
    const std::string png = testing::ReadFileOrEmpty(shot);
    EXPECT_EQ(PngWidth(png), 1400) << "not a 1400 px wide PNG: " << shot;
    EXPECT_GT(png.size(), 20000u) << "a near-empty screenshot of " << path;
    const std::filesystem::path kept =
        std::filesystem::path(SYNCWATCH_COLLECTOR_BIN).parent_path().parent_path() / name;
    std::error_code copy_error;
    std::filesystem::copy_file(shot, kept, std::filesystem::copy_options::overwrite_existing,
                               copy_error);
    EXPECT_FALSE(copy_error) << "cannot copy the screenshot to " << kept << ": "
                             << copy_error.message();
    std::printf("screenshot of %s: %s\n", path.c_str(), kept.c_str());
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", http_port_, path);
  }

  // Starts `syncwatch-agent --once` for `server`, reading the files under
  // in-<server>/.
  Subprocess StartAgentFor(const std::string& server, const std::string& tenant,
                           const std::string& role) {
    const std::string in = dir_.Sub("in-" + server);
    const std::string config = dir_.Sub(server + ".yaml");
    testing::WriteFile(
        config,
        absl::StrCat("server: ", server, "\ntenant: ", tenant, "\nrole: ", role,
                     "\ncollectors: [\"", Address(), "\"]\ndata_dir: ", dir_.Sub(server + "-data"),
                     "\nsources:\n  - {name: runs, kind: run_history, format: xml, path: ", in,
                     "/runs/*.xml}\n  - {name: pending, kind: pending_exports, format: csexport, "
                     "path: ",
                     in, "/pending/*.xml}\n"));
    auto p = Subprocess::Start({SYNCWATCH_AGENT_BIN, "--config", config, "--once"},
                               dir_.Sub(server + ".out"), dir_.Sub(server + ".err"));
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }

  int chromium_runs_ = 0;
};

TEST_F(WebPageTest, ChromiumShowsTheFleetAndTheCriticalServer) {
  ASSERT_TRUE(std::filesystem::exists(kChromium))
      << kChromium << " is missing: the web page test needs headless Chromium "
      << "(scripts/setup installs the chromium package from scripts/deps.txt)";
  Subprocess collector = StartCollector();
  struct Server {
    std::string name;
    std::string tenant;
    std::string role;
    int pending_deletes;
    std::string health;
  };
  // Worst first, as the page lists them: 612 pending deletes exceed the
  // default threshold of 500 (critical), 450 reach 80% of it (warning).
  const std::vector<Server> fleet = {
      {"sync-over", "tailspin.onmicrosoft.com", "active", 612, "critical"},
      {"sync-near", "fabrikam.onmicrosoft.com", "staging", 450, "warning"},
      {"sync-ok", "contoso.onmicrosoft.com", "active", 3, "ok"}};
  // Runs that ended 20-30 minutes ago, so that no sync cycle is overdue
  // (RunHistoryXml starts run n at 1700000000 s + n minutes).
  const int first_run = static_cast<int>((absl::ToUnixSeconds(absl::Now()) - 1700000000) / 60) - 30;
  std::vector<Subprocess> agents;
  for (const Server& s : fleet) {
    const std::string in = dir_.Sub("in-" + s.name);
    testing::WriteFile(in + "/runs/runs.xml", testing::RunHistoryXml("contoso.com", first_run, 10));
    testing::WriteFile(in + "/pending/aad.xml",
                       testing::CsExportPendingXml("contoso.onmicrosoft.com - AAD",
                                                   s.pending_deletes, /*adds=*/0));
    agents.push_back(StartAgentFor(s.name, s.tenant, s.role));
  }
  for (size_t i = 0; i < agents.size(); ++i) {
    ASSERT_EQ(agents[i].Wait(absl::Seconds(120)), 0)
        << testing::ReadFileOrEmpty(dir_.Sub(fleet[i].name + ".err"));
  }

  // Stored; the alert rules run after the commit, so wait for their verdict.
  std::string expected;
  for (const Server& s : fleet) absl::StrAppend(&expected, s.name, "=", s.health, " ");
  httplib::Client http("127.0.0.1", http_port_);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::string healths;
  do {
    auto res = http.Get("/api/v1/fleet");
    ASSERT_TRUE(res) << "no answer from the collector's HTTP port";
    ASSERT_EQ(res->status, 200) << res->body;
    healths.clear();
    const nlohmann::json summary = nlohmann::json::parse(res->body);
    for (const auto& s : summary["server_list"]) {
      absl::StrAppend(
          &healths, s["server"].get<std::string>(), "=",
          absl::AsciiStrToLower(absl::StripPrefix(s["health"].get<std::string>(), "HEALTH_")), " ");
    }
  } while (healths != expected && absl::Now() < deadline);
  ASSERT_EQ(healths, expected);

  // The fleet page: one row per server, worst first, with its health.
  const std::string dom = Chromium("--dump-dom", Url("/"));
  const size_t table = dom.find("<table id=\"fleet\">");
  ASSERT_NE(table, std::string::npos) << dom;
  const std::string rows = dom.substr(table, dom.find("</table>", table) - table);
  size_t previous = 0;
  for (const Server& s : fleet) {
    const size_t row =
        rows.find(absl::StrCat("data-server=\"", s.name, "\" data-health=\"", s.health, "\""));
    ASSERT_NE(row, std::string::npos) << s.name << " has no " << s.health << " row in\n" << rows;
    EXPECT_GT(row, previous) << s.name << " is out of order";
    previous = row;
  }
  EXPECT_EQ(Occurrences(rows, "data-server=\""), fleet.size());
  EXPECT_THAT(rows, ::testing::HasSubstr("612 / 500"));

  Screenshot("/", "fleet-screenshot.png");

  // The critical server's page lists the objects that would be deleted.
  const std::string server = Chromium("--dump-dom", Url("/servers/sync-over"));
  EXPECT_THAT(server, ::testing::HasSubstr("data-server=\"sync-over\" data-health=\"critical\""));
  EXPECT_THAT(server, ::testing::HasSubstr("612 pending deletes"));
  EXPECT_EQ(Occurrences(server, "<tr class=\"object\">"), 500u);
  EXPECT_THAT(server, ::testing::HasSubstr("and 112 more not shown"));
  for (const char* value : {"CN={00000000000000000000000000000000}", "user0@contoso.com", "anchor0",
                            "User 0", "PendingDeletesOverThreshold"}) {
    EXPECT_THAT(server, ::testing::HasSubstr(value));
  }
  Screenshot("/servers/sync-over", "server-screenshot.png");

  // Unknown servers are a 404 page; the API has the same data as JSON.
  auto missing = http.Get("/servers/sync-nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, ::testing::HasSubstr("sync-nope"));
  auto api = http.Get("/api/v1/servers/sync-over");
  ASSERT_TRUE(api);
  ASSERT_EQ(api->status, 200);
  const nlohmann::json json = nlohmann::json::parse(api->body);
  EXPECT_EQ(json["server"]["pending_deletes"], "612");
  EXPECT_EQ(json["pending_exports"][0]["snapshot"]["deletes"].size(), 612u);
}

}  // namespace
}  // namespace syncwatch
