// Issue 6, admin actions: the real collector with a tokens file, driven by the
// real `syncwatch` CLI — ack an alert, silence and unsilence, change the
// retention (kept across a restart) — and a read token refused each time with
// a clear message and a non-zero exit.
#include <signal.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/ingest_client.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::Subprocess;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kReadToken[] = "5d0e3b9a7c1f4e2d8b6a0c9e1f3d5b7a";
constexpr char kAdminToken[] = "e8c1a4f7b2d50936e8c1a4f7b2d50936";

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

class AdminProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::PickFreePort();
    testing::WriteFile(dir_.Sub("tokens"), absl::StrCat(kReadToken, " read grafana\n", kAdminToken,
                                                        " admin ops-oncall\n"));
    testing::WriteFile(dir_.Sub("read-token"), absl::StrCat(kReadToken, "\n"));
    testing::WriteFile(dir_.Sub("admin-token"), absl::StrCat(kAdminToken, "\n"));
    testing::WriteFile(dir_.Sub("collector.yaml"),
                       absl::StrCat("data_dir: ", dir_.Sub("data"), "\nlisten: ", Address(),
                                    "\nhttp_listen: 127.0.0.1:0\nsync_writes: false\n",
                                    "auth:\n  tokens_file: ", dir_.Sub("tokens"), "\n"));
    StartCollector();
  }

  void StartCollector() {
    ++starts_;
    const std::string out = dir_.Sub(absl::StrCat("collector-", starts_, ".out"));
    auto p = Subprocess::Start({SYNCWATCH_COLLECTOR_BIN, "--config", dir_.Sub("collector.yaml")},
                               out, dir_.Sub(absl::StrCat("collector-", starts_, ".err")));
    ASSERT_TRUE(p.ok()) << p.status();
    collector_.emplace(*std::move(p));
    ASSERT_TRUE(testing::WaitForFileContaining(out, "http on port", absl::Seconds(30)))
        << testing::ReadFileOrEmpty(dir_.Sub(absl::StrCat("collector-", starts_, ".err")));
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // One server whose pending deletes exceed the default threshold (500).
  void SendMassDelete() {
    v1::Hello hello;
    hello.set_agent_id("agent-sync01");
    hello.set_server("sync01");
    hello.set_tenant("contoso.onmicrosoft.com");
    hello.set_role(v1::SERVER_ROLE_ACTIVE);
    hello.set_spool_epoch("epoch-1");
    v1::Event e;
    *e.mutable_observed_at() = ToProtoTimestamp(absl::Now());
    v1::PendingExportSnapshot* p = e.mutable_pending_exports();
    p->set_snapshot_id("sync01-snapshot");
    p->set_connector_name("contoso.onmicrosoft.com - AAD");
    *p->mutable_taken_at() = ToProtoTimestamp(absl::Now() - absl::Minutes(1));
    p->set_pending_deletes(700);
    SYNCWATCH_ASSERT_OK(testing::SendBatch(Address(), hello, {e}));
  }

  // Runs the `syncwatch` CLI with the token in `token_file` ("read-token" or
  // "admin-token").
  CliResult Cli(const std::string& token_file, std::vector<std::string> args) {
    ++cli_runs_;
    args.insert(args.begin(), {SYNCWATCH_CLI_BIN, "--collector", Address(), "--token-file",
                               dir_.Sub(token_file)});
    const std::string out = dir_.Sub(absl::StrCat("cli-", cli_runs_, ".out"));
    const std::string err = dir_.Sub(absl::StrCat("cli-", cli_runs_, ".err"));
    CliResult result;
    auto p = Subprocess::Start(args, out, err);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return result;
    result.code = p->Wait(absl::Seconds(60)).value_or(-1);
    result.out = testing::ReadFileOrEmpty(out);
    result.err = testing::ReadFileOrEmpty(err);
    return result;
  }

  // The CLI's JSON output of a command that must succeed.
  Json CliJson(const std::string& token_file, std::vector<std::string> args) {
    args.insert(args.end(), {"--output", "json"});
    const CliResult r = Cli(token_file, args);
    EXPECT_EQ(r.code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    Json json = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << r.out;
    return json;
  }

  // The firing alerts, once there is one (the engine evaluates after commit).
  Json WaitForFiringAlert() {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    Json alerts;
    do {
      alerts = CliJson("read-token", {"alerts"});
      if (alerts.is_array() && !alerts.empty()) return alerts;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < deadline);
    ADD_FAILURE() << "no alert fired";
    return alerts;
  }

  testing::TempDir dir_;
  int port_ = 0;
  int starts_ = 0;
  int cli_runs_ = 0;
  std::optional<Subprocess> collector_;
};

void ExpectRefusedForReadToken(const CliResult& r, const std::string& rpc) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(
                         rpc, ": PERMISSION_DENIED: \"grafana\" has role read; this needs admin")));
}

TEST_F(AdminProcessTest, AckSilenceAndRetentionThroughTheCliWithAdminAndReadTokens) {
  SendMassDelete();
  const Json firing = WaitForFiringAlert();
  ASSERT_TRUE(firing.is_array() && !firing.empty());
  const std::string id = firing[0]["fingerprint"];
  EXPECT_EQ(firing[0]["name"], "PendingDeletesOverThreshold");
  EXPECT_TRUE(firing[0]["acked_by"].is_null());

  // Ack: refused for read, done for admin, shown in the alerts.
  ExpectRefusedForReadToken(Cli("read-token", {"ack", id}), "AckAlert");
  const Json acked = CliJson("admin-token", {"ack", id, "--comment", "on it"});
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0]["acked_by"], "ops-oncall");
  Json alerts = CliJson("read-token", {"alerts"});
  EXPECT_EQ(alerts[0]["acked_by"], "ops-oncall");
  EXPECT_EQ(alerts[0]["ack_comment"], "on it");
  CliResult r = Cli("admin-token", {"ack", "0000000000000000"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no alert has the id \"0000000000000000\""));

  // Silence: bad input is a usage error naming what is wrong.
  r = Cli("admin-token", {"silence", "--for", "4h"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("silence needs at least one matcher"));
  r = Cli("admin-token", {"silence", "--server", "sync01", "--for", "a while"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad value \"a while\" for --for"));
  ExpectRefusedForReadToken(Cli("read-token", {"silence", "--server", "sync01", "--for", "4h"}),
                            "CreateSilence");
  const Json created = CliJson(
      "admin-token", {"silence", "--server", "sync01", "--alert", "PendingDeletesOverThreshold",
                      "--for", "4h", "--comment", "planned cleanup"});
  ASSERT_EQ(created.size(), 1u);
  const std::string silence = created[0]["id"];
  EXPECT_EQ(created[0]["created_by"], "ops-oncall");
  const Json silences = CliJson("read-token", {"silences"});
  ASSERT_EQ(silences.size(), 1u);
  EXPECT_EQ(silences[0]["id"], silence);
  EXPECT_EQ(silences[0]["comment"], "planned cleanup");
  alerts = CliJson("read-token", {"alerts"});
  EXPECT_EQ(alerts[0]["silenced_by"], Json::array({silence}));
  r = Cli("read-token", {"alerts"});
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(id, "  firing acked silenced  critical")));

  ExpectRefusedForReadToken(Cli("read-token", {"unsilence", silence}), "DeleteSilence");
  r = Cli("admin-token", {"unsilence", silence});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(CliJson("read-token", {"silences"}), Json::array());
  EXPECT_EQ(CliJson("read-token", {"alerts"})[0]["silenced_by"], Json::array());
  // Repeated (as the CLI does when a collector did not answer), it succeeds
  // and changes nothing; an id nobody knows is an error.
  const Json again = CliJson("admin-token", {"unsilence", silence});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]["id"], silence);
  EXPECT_EQ(CliJson("read-token", {"silences"}), Json::array());
  r = Cli("admin-token", {"unsilence", "0000000000000000"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no silence in force has the id \"0000000000000000\""));
  // A silence made again with the id of the ended one is refused, not revived.
  r = Cli("admin-token", {"silence", "--server", "sync01", "--for", "4h", "--id", silence});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("is taken by another silence"));

  // Retention: read may look, only admin may change; kept over a restart.
  ExpectRefusedForReadToken(Cli("read-token", {"retention", "set", "--runs", "100d"}),
                            "SetRetention");
  r = Cli("admin-token", {"retention", "set", "--runs", "soon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad value \"soon\" for --runs"));
  Json retention =
      CliJson("admin-token", {"retention", "set", "--runs", "200d", "--snapshots", "30d"});
  ASSERT_EQ(retention.size(), 3u);
  EXPECT_EQ(retention[0]["kind"], "runs");
  EXPECT_EQ(retention[0]["window"], "200d");
  EXPECT_EQ(retention[0]["config"], "400d");
  EXPECT_EQ(retention[2]["window"], "30d");
  EXPECT_EQ(retention[1]["overridden"], false);

  collector_->Signal(SIGTERM);
  ASSERT_EQ(collector_->Wait(absl::Seconds(30)), 0);
  StartCollector();
  const std::string log = testing::ReadFileOrEmpty(dir_.Sub("collector-2.err")) +
                          testing::ReadFileOrEmpty(dir_.Sub("collector-2.out"));
  EXPECT_THAT(log, HasSubstr("runs 200d (set by ops-oncall"));
  retention = CliJson("read-token", {"retention"});
  ASSERT_EQ(retention.size(), 3u);
  EXPECT_EQ(retention[0]["window"], "200d");
  EXPECT_EQ(retention[0]["changed_by"], "ops-oncall");
  EXPECT_EQ(retention[2]["window"], "30d");
  // The ack outlives the restart too (the alert still fires).
  EXPECT_EQ(CliJson("read-token", {"alerts"})[0]["acked_by"], "ops-oncall");
}

}  // namespace
}  // namespace syncwatch
