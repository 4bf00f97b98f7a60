// Fault tests with the real binaries: the collector's disk fills up, a store
// or spool is corrupted, the collector is killed again and again while
// several agents stream. SYNCWATCH_LONG_FAULTS=1 makes the kill test stream
// 1,000,000 events instead of 30,000.
#include <grpcpp/create_channel.h>
#include <httplib.h>
#include <signal.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncwatch/v1/query.grpc.pb.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::Subprocess;
using ::testing::HasSubstr;

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::PickFreePort();
    data_dir_ = dir_.Sub("collector-data");
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The collector's config: retention off, because the fixtures' runs date
  // from 2023.
  std::string CollectorConfig() {
    const std::string config = dir_.Sub("collector.yaml");
    testing::WriteFile(config, absl::StrCat("retention: {runs: off, export_errors: off, "
                                            "snapshots: off}\nmin_free_disk_bytes: ",
                                            min_free_disk_bytes_, "\n"));
    return config;
  }

  // Starts the collector on data_dir_ without waiting.
  Subprocess SpawnCollector() {
    ++collector_starts_;
    auto p = Subprocess::Start(
        {SYNCWATCH_COLLECTOR_BIN, "--config", CollectorConfig(), "--data_dir", data_dir_,
         "--listen", Address(), "--http-listen", "127.0.0.1:0"},
        CollectorOut(), dir_.Sub(absl::StrCat("collector-", collector_starts_, ".err")));
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }
  std::string CollectorOut() const {
    return dir_.Sub(absl::StrCat("collector-", collector_starts_, ".out"));
  }
  std::string CollectorErr() const {
    return testing::ReadFileOrEmpty(
        dir_.Sub(absl::StrCat("collector-", collector_starts_, ".err")));
  }

  // Starts the collector and waits until it listens.
  Subprocess StartCollector() {
    Subprocess p = SpawnCollector();
    auto content =
        testing::WaitForFileContaining(CollectorOut(), "http on port", absl::Seconds(30));
    EXPECT_TRUE(content) << CollectorErr();
    if (content) http_port_ = std::stoi(content->substr(content->find("http on port ") + 13));
    return p;
  }

  // Runs a binary to its end; its exit code, stdout in *out (stderr appended).
  int Run(const std::vector<std::string>& argv, std::string* out) {
    ++runs_;
    const std::string o = dir_.Sub(absl::StrCat("run-", runs_, ".out"));
    const std::string e = dir_.Sub(absl::StrCat("run-", runs_, ".err"));
    auto p = Subprocess::Start(argv, o, e);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    const std::optional<int> code = p->Wait(absl::Seconds(120));
    *out = testing::ReadFileOrEmpty(o) + testing::ReadFileOrEmpty(e);
    return code.value_or(-1);
  }

  // `count` runs of server `server` (numbers 1..count) in files of
  // `per_file`, and an agent config reading them in batches of 100.
  std::string WriteAgent(const std::string& server, int count, int per_file) {
    const std::string in = dir_.Sub("in-" + server);
    for (int first = 1; first <= count; first += per_file) {
      testing::WriteFile(
          absl::StrCat(in, "/runs-", 100000 + first, ".xml"),
          testing::RunHistoryXml("contoso.com", first, std::min(per_file, count - first + 1)));
    }
    const std::string config = dir_.Sub("agent-" + server + ".yaml");
    testing::WriteFile(
        config,
        absl::StrCat("server: ", server, "\ncollectors: [\"", Address(), "\"]\n", "data_dir: ",
                     dir_.Sub("agent-data-" + server), "\nbatch_max_events: 100\nsources:\n",
                     "  - {name: runs, kind: run_history, format: xml, path: ", in, "/*.xml}\n"));
    return config;
  }

  Subprocess StartAgentOnce(const std::string& server, const std::string& config) {
    auto p = Subprocess::Start(
        {SYNCWATCH_AGENT_BIN, "--config", config, "--once", "--once_timeout", "600s"},
        dir_.Sub("agent-" + server + ".out"), dir_.Sub("agent-" + server + ".err"));
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }
  std::string AgentErr(const std::string& server) {
    return testing::ReadFileOrEmpty(dir_.Sub("agent-" + server + ".err"));
  }

  // Run numbers stored per server (each run counted as often as it is
  // listed); false when the collector did not answer.
  bool StoredRuns(std::map<std::string, std::multiset<int64_t>>* runs) {
    auto stub =
        v1::Query::NewStub(grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
    v1::ListRunsRequest req;
    req.set_page_size(5000);
    do {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::ListRunsResponse resp;
      if (!stub->ListRuns(&ctx, req, &resp).ok()) return false;
      for (const auto& r : resp.runs()) (*runs)[r.server()].insert(r.run().run_number());
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return true;
  }

  // Expects runs 1..count of `server`, each exactly once.
  static void ExpectExactlyOnce(const std::multiset<int64_t>& runs, int count) {
    EXPECT_EQ(runs.size(), static_cast<size_t>(count));
    EXPECT_EQ(std::set<int64_t>(runs.begin(), runs.end()).size(), static_cast<size_t>(count));
    if (!runs.empty()) {
      EXPECT_EQ(*runs.begin(), 1);
      EXPECT_EQ(*runs.rbegin(), count);
    }
  }

  testing::TempDir dir_;
  std::string data_dir_;
  uint64_t min_free_disk_bytes_ = 0;
  int port_ = 0;
  int http_port_ = 0;
  int collector_starts_ = 0;
  int runs_ = 0;
};

// Overwrites 64 bytes in the middle of the newest MANIFEST in `dir`.
void CorruptManifest(const std::string& dir) {
  std::string manifest;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("MANIFEST-", 0) == 0 && name > manifest) manifest = name;
  }
  ASSERT_FALSE(manifest.empty()) << "no MANIFEST in " << dir;
  const std::string path = dir + "/" + manifest;
  const auto size = std::filesystem::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(size / 2));
  const std::string junk(64, '\xA5');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

class DiskFullTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    mnt_ = dir_.Sub("small");
    std::filesystem::create_directories(mnt_);
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=24m") != 0) {
      const int err = errno;
      // CI runs as root; a test that quietly skips proves nothing.
      FAIL() << "cannot mount a tmpfs on " << mnt_ << ": " << std::strerror(err)
             << " (the disk-full tests need root or CAP_SYS_ADMIN; run them as root)";
    }
    mounted_ = true;
    data_dir_ = mnt_ + "/data";
    // A 24 MiB file system: keep 4 MiB free for the store.
    min_free_disk_bytes_ = 4 * 1024 * 1024;
  }
  void TearDown() override {
    if (mounted_) umount2(mnt_.c_str(), MNT_DETACH);
  }

  // Appends to a filler file on the small file system until it is full.
  void FillUp() {
    std::FILE* f = std::fopen((mnt_ + "/filler").c_str(), "ab");
    ASSERT_NE(f, nullptr);
    const std::string chunk(64 * 1024, 'x');
    for (size_t n = chunk.size(); n > 0;) {
      if (std::fwrite(chunk.data(), 1, n, f) != n || std::fflush(f) != 0) {
        if (n == 1) break;
        n /= 2;
        std::clearerr(f);
      }
    }
    std::fclose(f);
  }

  std::string mnt_;
  bool mounted_ = false;
};

int64_t MetricValue(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(metrics.substr(at + name.size() + 2));
}

// issue 6: the collector's disk fills up. Batches are refused with
// RESOURCE_EXHAUSTED naming the data dir, the collector stays up and answers
// queries, and once space is freed the agent delivers every event once.
TEST_F(DiskFullTest, CollectorRefusesBatchesWhileFullAndCatchesUpWhenSpaceIsFreed) {
  constexpr int kRuns = 3000;
  const std::string config = WriteAgent("sync01", kRuns, 500);
  Subprocess collector = StartCollector();
  FillUp();
  Subprocess agent = StartAgentOnce("sync01", config);

  ASSERT_TRUE(testing::WaitForFileContaining(
      dir_.Sub("agent-sync01.err"), "collector disk full: " + data_dir_, absl::Seconds(30)))
      << AgentErr("sync01") << CollectorErr();
  EXPECT_THAT(AgentErr("sync01"), HasSubstr("(code 8)"));  // RESOURCE_EXHAUSTED
  EXPECT_THAT(CollectorErr(), HasSubstr("collector disk full"));
  std::string out;
  ASSERT_EQ(Run({SYNCWATCH_CLI_BIN, "--collector", Address(), "runs", "--output", "json"}, &out), 0)
      << out;
  httplib::Client http("127.0.0.1", http_port_);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_GT(MetricValue(metrics->body, "syncwatch_store_write_failures_total"), 0);
  EXPECT_TRUE(collector.running());
  EXPECT_TRUE(agent.running());

  std::filesystem::remove(mnt_ + "/filler");
  ASSERT_EQ(agent.Wait(absl::Seconds(120)), 0) << AgentErr("sync01") << CollectorErr();
  EXPECT_TRUE(collector.running());
  std::map<std::string, std::multiset<int64_t>> runs;
  ASSERT_TRUE(StoredRuns(&runs));
  ExpectExactlyOnce(runs["sync01"], kRuns);
  // The CLI sees the same.
  ASSERT_EQ(Run({SYNCWATCH_CLI_BIN, "--collector", Address(), "runs", "--output", "json"}, &out), 0)
      << out;
  const auto json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(json.is_array()) << out.substr(0, 500);
  EXPECT_EQ(json.size(), static_cast<size_t>(kRuns));
}

// issue 6: a corrupt store stops the collector with exit code 3 and the way
// out; --check names the problem, --repair fixes it and the collector starts.
TEST_F(FaultTest, CorruptCollectorStoreStopsStartupUntilCheckedAndRepaired) {
  constexpr int kRuns = 600;
  const std::string config = WriteAgent("sync01", kRuns, 200);
  {
    Subprocess collector = StartCollector();
    Subprocess agent = StartAgentOnce("sync01", config);
    ASSERT_EQ(agent.Wait(absl::Seconds(60)), 0) << AgentErr("sync01");
    collector.Signal(SIGTERM);
    ASSERT_EQ(collector.Wait(absl::Seconds(30)), 0);
  }
  std::string out;
  ASSERT_EQ(Run({SYNCWATCH_COLLECTOR_BIN, "--check", "--data_dir", data_dir_}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("healthy"));
  CorruptManifest(data_dir_);

  Subprocess broken = SpawnCollector();
  ASSERT_EQ(broken.Wait(absl::Seconds(30)), 3) << CollectorErr();
  EXPECT_THAT(CollectorErr(), HasSubstr("syncwatch-collector --check --data_dir " + data_dir_));
  EXPECT_THAT(CollectorErr(), HasSubstr("--repair"));

  ASSERT_EQ(Run({SYNCWATCH_COLLECTOR_BIN, "--check", "--data_dir", data_dir_}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("MANIFEST"));
  EXPECT_THAT(out, HasSubstr("Corruption"));
  ASSERT_EQ(Run({SYNCWATCH_COLLECTOR_BIN, "--repair", "--data_dir", data_dir_}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("RepairDB"));
  ASSERT_EQ(Run({SYNCWATCH_COLLECTOR_BIN, "--check", "--data_dir", data_dir_}, &out), 0) << out;

  Subprocess collector = StartCollector();
  std::map<std::string, std::multiset<int64_t>> runs;
  ASSERT_TRUE(StoredRuns(&runs)) << CollectorErr();
  ExpectExactlyOnce(runs["sync01"], kRuns);
}

// issue 6: the same for the agent's spool.
TEST_F(FaultTest, CorruptAgentSpoolStopsStartupUntilCheckedAndRepaired) {
  // No collector: everything stays spooled.
  const std::string config = WriteAgent("sync01", 300, 100);
  {
    auto agent = Subprocess::Start(
        {SYNCWATCH_AGENT_BIN, "--config", config, "--once", "--once_timeout", "1s"},
        dir_.Sub("agent-first.out"), dir_.Sub("agent-first.err"));
    ASSERT_TRUE(agent.ok());
    ASSERT_EQ(agent->Wait(absl::Seconds(30)), 1);
  }
  const std::string spool = dir_.Sub("agent-data-sync01/spool");
  std::string out;
  ASSERT_EQ(Run({SYNCWATCH_AGENT_BIN, "--check", "--config", config}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("healthy"));
  CorruptManifest(spool);

  ASSERT_EQ(Run({SYNCWATCH_AGENT_BIN, "--config", config, "--once"}, &out), 3) << out;
  EXPECT_THAT(out, HasSubstr("syncwatch-agent --check --config " + config));
  ASSERT_EQ(Run({SYNCWATCH_AGENT_BIN, "--check", "--config", config}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("Corruption"));
  ASSERT_EQ(Run({SYNCWATCH_AGENT_BIN, "--repair", "--config", config}, &out), 0) << out;
  ASSERT_EQ(Run({SYNCWATCH_AGENT_BIN, "--check", "--config", config}, &out), 0) << out;

  // What survived is delivered, once.
  Subprocess collector = StartCollector();
  Subprocess agent = StartAgentOnce("sync01", config);
  ASSERT_EQ(agent.Wait(absl::Seconds(60)), 0) << AgentErr("sync01");
  std::map<std::string, std::multiset<int64_t>> runs;
  ASSERT_TRUE(StoredRuns(&runs));
  ExpectExactlyOnce(runs["sync01"], 300);
}

// issue 6: SIGKILL the collector every second or two while three agents
// stream; afterwards every run of every server is stored exactly once.
TEST_F(FaultTest, CollectorKilledRepeatedlyWhileThreeAgentsStreamStoresEveryEventOnce) {
  const char* long_env = std::getenv("SYNCWATCH_LONG_FAULTS");
  const bool long_run = long_env != nullptr && std::string(long_env) == "1";
  const int total = long_run ? 1000000 : 30000;
  const std::vector<std::string> servers = {"sync01", "sync02", "sync03"};
  const int per_server = total / static_cast<int>(servers.size());
  std::vector<std::string> configs;
  for (const std::string& s : servers) {
    configs.push_back(WriteAgent(s, per_server, long_run ? 5000 : 500));
  }

  Subprocess collector = StartCollector();
  std::vector<Subprocess> agents;
  for (size_t i = 0; i < servers.size(); ++i) {
    agents.push_back(StartAgentOnce(servers[i], configs[i]));
  }
  const int kills = long_run ? 40 : 6;
  for (int k = 0; k < kills; ++k) {
    // The first kill early: a fast build delivers the short run's 10,000
    // events per agent within a second or two.
    absl::SleepFor(absl::Milliseconds((k == 0 ? 300 : 1000) + 250 * (k % 4)));
    collector.Signal(SIGKILL);
    ASSERT_EQ(collector.Wait(absl::Seconds(10)), 128 + SIGKILL);
    collector = StartCollector();
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    ASSERT_EQ(agents[i].Wait(absl::Seconds(long_run ? 3600 : 120)), 0) << AgentErr(servers[i]);
  }
  std::map<std::string, std::multiset<int64_t>> runs;
  ASSERT_TRUE(StoredRuns(&runs));
  EXPECT_EQ(runs.size(), servers.size());
  for (const std::string& s : servers) {
    SCOPED_TRACE(s);
    ExpectExactlyOnce(runs[s], per_server);
  }
  // The kills hit live streams (otherwise the test proved nothing).
  int interrupted = 0;
  for (const std::string& s : servers) {
    interrupted += absl::StrContains(AgentErr(s), "collector ") ? 1 : 0;
  }
  EXPECT_GT(interrupted, 0) << AgentErr("sync01");
}

}  // namespace
}  // namespace syncwatch
