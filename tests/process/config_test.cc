// Issue 18, configuration changes and staging drift: the real collector fed
// ServerConfiguration events over the real Ingest stream, read back with the
// real `syncwatch` CLI (`changes`, `drift`, `alerts`).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "collector/config/test_configuration.h"
#include "collector/config/test_runs.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/ingest_client.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::Subprocess;
using Json = nlohmann::json;
namespace sample = ::syncwatch::collector::config::testing;

class ConfigProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::PickFreePort();
    testing::WriteFile(dir_.Sub("collector.yaml"),
                       absl::StrCat("data_dir: ", dir_.Sub("data"), "\nlisten: ", Address(),
                                    "\nhttp_listen: 127.0.0.1:0\nsync_writes: false\n"));
    const std::string out = dir_.Sub("collector.out");
    auto p = Subprocess::Start({SYNCWATCH_COLLECTOR_BIN, "--config", dir_.Sub("collector.yaml")},
                               out, dir_.Sub("collector.err"));
    ASSERT_TRUE(p.ok()) << p.status();
    collector_.emplace(*std::move(p));
    ASSERT_TRUE(testing::WaitForFileContaining(out, "http on port", absl::Seconds(30)))
        << testing::ReadFileOrEmpty(dir_.Sub("collector.err"));
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // `server`'s agent sends `config` as its batch `seq`.
  void Send(const std::string& server, v1::ServerRole role, const v1::ServerConfiguration& config,
            uint64_t seq) {
    v1::Event e;
    *e.mutable_configuration() = config;
    SendEvents(server, role, {e}, seq);
  }

  void SendEvents(const std::string& server, v1::ServerRole role, std::vector<v1::Event> events,
                  uint64_t seq) {
    v1::Hello hello;
    hello.set_agent_id("agent-" + server);
    hello.set_server(server);
    hello.set_tenant("contoso.onmicrosoft.com");
    hello.set_role(role);
    hello.set_spool_epoch("epoch-1");
    for (v1::Event& e : events) *e.mutable_observed_at() = ToProtoTimestamp(absl::Now());
    SYNCWATCH_ASSERT_OK(testing::SendBatch(Address(), hello, std::move(events), seq));
  }

  // The CLI's JSON output of a command that must succeed.
  Json CliJson(std::vector<std::string> args) {
    ++cli_runs_;
    args.insert(args.begin(), {SYNCWATCH_CLI_BIN, "--collector", Address()});
    args.insert(args.end(), {"--output", "json"});
    const std::string out = dir_.Sub(absl::StrCat("cli-", cli_runs_, ".out"));
    const std::string err = dir_.Sub(absl::StrCat("cli-", cli_runs_, ".err"));
    auto p = Subprocess::Start(args, out, err);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return Json();
    EXPECT_EQ(p->Wait(absl::Seconds(60)).value_or(-1), 0)
        << absl::StrJoin(args, " ") << ": " << testing::ReadFileOrEmpty(err);
    Json json = Json::parse(testing::ReadFileOrEmpty(out), nullptr, false);
    EXPECT_TRUE(json.is_array()) << testing::ReadFileOrEmpty(out);
    return json;
  }

  testing::TempDir dir_;
  int port_ = 0;
  int cli_runs_ = 0;
  std::optional<Subprocess> collector_;
};

// The sample with (a) OU=CORP no longer included, (b) "In from AD - User Join"
// disabled, (c) its scoping filter edited, (d) "Out to AAD - User Join" linked
// by Join instead of Provision; taken at 08:55.
v1::ServerConfiguration Edited(const std::string& seed) {
  v1::ServerConfiguration c = sample::SampleConfiguration(seed);
  c.mutable_taken_at()->set_seconds(1714553700);
  c.set_digest("edited");
  auto* inclusions = c.mutable_connectors(1)->mutable_partitions(0)->mutable_inclusions();
  inclusions->erase(inclusions->begin());
  v1::SyncRuleConfiguration* join = sample::FindRule(&c, sample::kUserJoin);
  join->set_disabled(true);
  join->set_scoping_filter("(isCriticalSystemObject NOTEQUAL 'TRUE' AND department EQUAL 'IT')");
  sample::FindRule(&c, sample::kOutUserJoin)->set_link_type("Join");
  return c;
}

std::vector<std::string> Lines(const Json& records, const char* before, const char* after) {
  std::vector<std::string> lines;
  for (const Json& r : records) {
    lines.push_back(absl::StrCat(r["kind"].get<std::string>(), " | ",
                                 r["rule"].is_null() ? "" : r["rule"].get<std::string>(), " | ",
                                 r[before].is_null() ? "" : r[before].get<std::string>(), " | ",
                                 r[after].is_null() ? "" : r[after].get<std::string>()));
  }
  return lines;
}

TEST_F(ConfigProcessTest, ChangesAndDriftThroughTheCli) {
  v1::ServerConfiguration original = sample::SampleConfiguration("sync01");
  original.set_digest("original");
  v1::ServerConfiguration staging = sample::SampleConfiguration("sync02");
  staging.set_digest("original");
  Send("sync01", v1::SERVER_ROLE_ACTIVE, original, 1);
  Send("sync02", v1::SERVER_ROLE_STAGING, staging, 1);

  // Same rules under other GUIDs: no drift, and a first configuration is no change.
  EXPECT_EQ(CliJson({"drift"}), Json::array());
  EXPECT_EQ(CliJson({"changes"}), Json::array());

  Send("sync01", v1::SERVER_ROLE_ACTIVE, Edited("sync01"), 2);
  const Json changes = CliJson({"changes", "--server", "sync01"});
  EXPECT_THAT(
      Lines(changes, "before", "after"),
      ::testing::ElementsAre(
          "container-no-longer-included |  | OU=CORP,DC=contoso,DC=com | ",
          "rule-disabled | In from AD - User Join | enabled | disabled",
          "scoping-filter-changed | In from AD - User Join | (isCriticalSystemObject NOTEQUAL "
          "'TRUE') | (isCriticalSystemObject NOTEQUAL 'TRUE' AND department EQUAL 'IT')",
          "link-type-changed | Out to AAD - User Join | Provision | Join"));
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0]["server"], "sync01");
  EXPECT_EQ(changes[0]["tenant"], "contoso.onmicrosoft.com");
  EXPECT_EQ(changes[0]["detected_at"], "2024-05-01T08:55:00.000Z");
  EXPECT_EQ(changes[0]["connector"], "contoso.com");
  EXPECT_EQ(CliJson({"changes", "--server", "sync02"}), Json::array());

  // The staging server now differs from the active one in exactly those four.
  const Json drift = CliJson({"drift", "--tenant", "contoso.onmicrosoft.com"});
  EXPECT_THAT(Lines(drift, "reference_value", "value"),
              ::testing::ElementsAre(
                  "container-included |  |  | OU=CORP,DC=contoso,DC=com",
                  "rule-enabled | In from AD - User Join | disabled | enabled",
                  "scoping-filter-changed | In from AD - User Join | (isCriticalSystemObject "
                  "NOTEQUAL 'TRUE' AND department EQUAL 'IT') | (isCriticalSystemObject NOTEQUAL "
                  "'TRUE')",
                  "link-type-changed | Out to AAD - User Join | Join | Provision"));
  ASSERT_FALSE(drift.empty());
  EXPECT_EQ(drift[0]["server"], "sync02");
  EXPECT_EQ(drift[0]["reference_server"], "sync01");

  // The staging server takes the same edits (under its own GUIDs): no drift.
  Send("sync02", v1::SERVER_ROLE_STAGING, Edited("sync02"), 2);
  EXPECT_EQ(CliJson({"drift"}), Json::array());
}

v1::Event RunOf(v1::RunProfileResult run) {
  v1::Event e;
  *e.mutable_run() = std::move(run);
  return e;
}

v1::Event ConfigurationOf(v1::ServerConfiguration c, int64_t taken_at, const std::string& digest) {
  v1::Event e;
  c.mutable_taken_at()->set_seconds(taken_at);
  c.set_digest(digest);
  *e.mutable_configuration() = std::move(c);
  return e;
}

TEST_F(ConfigProcessTest, DeletesExplainAndTheDeletionAlertNameTheExcludedOu) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  v1::ServerConfiguration edited = sample::SampleConfiguration("sync01");
  edited.mutable_connectors(1)->mutable_partitions(0)->add_exclusions(
      "OU=Sales,OU=CORP,DC=contoso,DC=com");
  SendEvents("sync01", v1::SERVER_ROLE_ACTIVE,
             {ConfigurationOf(sample::SampleConfiguration("sync01"), now - 7200, "original"),
              RunOf(sample::OneStepRun(sample::kAad, now - 5400, "Export", "export"))},
             1);
  v1::Event snapshot;
  v1::PendingExportSnapshot* p = snapshot.mutable_pending_exports();
  p->set_snapshot_id("s1");
  p->set_connector_name(sample::kAad);
  p->mutable_taken_at()->set_seconds(now - 60);
  p->set_pending_deletes(700);
  SendEvents(
      "sync01", v1::SERVER_ROLE_ACTIVE,
      {ConfigurationOf(edited, now - 3600, "edited"),
       RunOf(sample::ImportRun(sample::kAd, now - 2400, "full-import", 700, 700)),
       RunOf(sample::SyncRun(sample::kAd, now - 2100, sample::kAad, {0, 0, 700, 700})), snapshot},
      2);

  const Json explained = CliJson({"deletes", "--explain"});
  ASSERT_EQ(explained.size(), 1u) << explained.dump();
  EXPECT_EQ(explained[0]["server"], "sync01");
  EXPECT_EQ(explained[0]["connector"], sample::kAad);
  EXPECT_EQ(explained[0]["pending_deletes"], 700);
  ASSERT_GE(explained[0]["causes"].size(), 1u);
  EXPECT_EQ(explained[0]["causes"][0]["kind"], "ou-unselected");
  EXPECT_THAT(explained[0]["causes"][0]["summary"].get<std::string>(),
              ::testing::StartsWith("OU=Sales,OU=CORP,DC=contoso,DC=com excluded from "
                                    "contoso.com's OU filtering at "));
  EXPECT_TRUE(explained[0]["causes"][0]["evidence"].is_array());

  // The alert engine evaluates after the commit: wait for the alert.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  Json alerts;
  do {
    alerts = CliJson({"alerts"});
    if (!alerts.empty() || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  } while (true);
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
  EXPECT_EQ(alerts[0]["name"], "PendingDeletesOverThreshold");
  ASSERT_TRUE(alerts[0]["causes"].is_array()) << alerts.dump();
  EXPECT_EQ(alerts[0]["causes"][0]["kind"], "ou-unselected");
  EXPECT_THAT(alerts[0]["summary"].get<std::string>(),
              ::testing::HasSubstr("probable cause: OU=Sales,OU=CORP,DC=contoso,DC=com excluded"));
}

}  // namespace
}  // namespace syncwatch
