// issue 5: a generated fleet sent to the real collector over the real ingest
// protocol, then every `syncwatch` command in every output form, checked
// against what was sent; and `promtool check metrics` on /metrics.
#include <httplib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

constexpr int kServers = 60;
constexpr int kRunsPerConnector = 4;
const char* const kConnectors[] = {"contoso.com", "contoso.onmicrosoft.com - AAD"};
const char* const kTenants[] = {"contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com",
                                "tailspin.onmicrosoft.com"};

// What one generated server sends, and so what the collector must answer.
struct ServerPlan {
  std::string name;
  std::string tenant;
  bool staging = false;
  // Pending deletes per connector (the AAD connector's).
  int64_t deletes = 0;
  // The latest export on the first connector ended stopped-server-down.
  bool stopped = false;
  int export_errors = 0;
};

// contoso reports a threshold of 300, fabrikam a disabled one, tailspin none
// (the engine's default 500 applies).
int64_t ThresholdOf(const std::string& tenant) { return tenant == kTenants[0] ? 300 : 500; }
bool ThresholdEnabled(const std::string& tenant) { return tenant != kTenants[1]; }

std::vector<ServerPlan> PlanFleet() {
  std::vector<ServerPlan> plan;
  for (int i = 0; i < kServers; ++i) {
    ServerPlan s;
    s.name = absl::StrCat("sync", i < 10 ? "0" : "", i);
    s.tenant = kTenants[i % 3];
    s.staging = i % 4 == 3;
    // Every 5th server stages a mass delete (over any threshold); the rest
    // stay far below one (no near-threshold warning).
    s.deletes = i % 5 == 0 ? 700 + i : i % 7;
    s.stopped = i % 6 == 1;
    s.export_errors = i % 8 == 2 ? 3 : 0;
    plan.push_back(s);
  }
  return plan;
}

bool Critical(const ServerPlan& s) {
  return s.stopped || (ThresholdEnabled(s.tenant) && s.deletes > ThresholdOf(s.tenant));
}

v1::Event RunEvent(const std::string& connector, const std::string& profile, int64_t number,
                   absl::Time start, const std::string& result) {
  v1::Event e;
  *e.mutable_observed_at() = ToProtoTimestamp(absl::Now());
  v1::RunProfileResult* r = e.mutable_run();
  r->set_run_history_id(absl::StrCat(connector, "-", number));
  r->set_connector_name(connector);
  r->set_run_profile_name(profile);
  r->set_run_number(number);
  r->set_result(result);
  r->set_is_run_complete(true);
  *r->mutable_start_time() = ToProtoTimestamp(start);
  *r->mutable_end_time() = ToProtoTimestamp(start + absl::Minutes(1));
  r->add_steps()->set_step_type(profile == "Export" ? "export" : "delta-import");
  return e;
}

std::vector<v1::Event> EventsOf(const ServerPlan& s, absl::Time now) {
  std::vector<v1::Event> events;
  if (s.tenant != kTenants[2]) {
    v1::Event e;
    *e.mutable_observed_at() = ToProtoTimestamp(now);
    v1::ServerSettings* settings = e.mutable_settings();
    settings->set_staging_mode_enabled(s.staging);
    settings->set_sync_cycle_enabled(true);
    settings->set_deletion_threshold_known(true);
    settings->set_deletion_threshold_enabled(ThresholdEnabled(s.tenant));
    settings->set_deletion_threshold(ThresholdOf(s.tenant));
    events.push_back(e);
  }
  // The second connector runs a minute after the first: its runs are the
  // server's latest.
  for (int c = 0; c < 2; ++c) {
    for (int r = 0; r < kRunsPerConnector; ++r) {
      const bool last = r == kRunsPerConnector - 1;
      const bool stop = last && s.stopped && c == 0;
      events.push_back(RunEvent(kConnectors[c], r % 2 ? "Export" : "Delta Import", r + 1,
                                now - absl::Minutes(50 - 10 * r - c),
                                stop ? "stopped-server-down" : "success"));
    }
  }
  v1::Event snapshot;
  *snapshot.mutable_observed_at() = ToProtoTimestamp(now);
  v1::PendingExportSnapshot* p = snapshot.mutable_pending_exports();
  p->set_snapshot_id(absl::StrCat(s.name, "-snapshot"));
  p->set_connector_name(kConnectors[1]);
  *p->mutable_taken_at() = ToProtoTimestamp(now - absl::Minutes(1));
  p->set_pending_adds(2);
  p->set_pending_updates(5);
  p->set_pending_deletes(s.deletes);
  for (int64_t d = 0; d < s.deletes && d < 5; ++d) {
    v1::PendingObject* o = p->add_deletes();
    o->set_dn(absl::StrCat("CN=User ", d, ",OU=", s.name, ",DC=contoso,DC=com"));
    o->set_object_type("user");
    o->set_user_principal_name(absl::StrCat("user", d, "@", s.tenant));
  }
  events.push_back(snapshot);
  for (int e = 0; e < s.export_errors; ++e) {
    v1::Event error;
    *error.mutable_observed_at() = ToProtoTimestamp(now);
    v1::ExportError* x = error.mutable_export_error();
    x->set_connector_name(kConnectors[1]);
    x->set_cs_guid(absl::StrCat("00000000-0000-4000-8000-0000000000", 10 + e));
    x->set_dn(absl::StrCat("CN=Dup ", e, ",OU=", s.name));
    x->set_error_type(e == 0 ? "AttributeValueMustBeUnique" : "InvalidSoftMatch");
    x->set_conflict_attribute("ProxyAddresses");
    x->set_conflict_value(absl::StrCat("smtp:shared", e, "@", s.name, ".contoso.com"));
    *x->mutable_first_occurred() = ToProtoTimestamp(now - absl::Minutes(5));
    *x->mutable_date_occurred() = ToProtoTimestamp(now - absl::Minutes(2));
    x->set_retry_count(4);
    events.push_back(error);
  }
  return events;
}

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::PickFreePort();
    const std::string out = dir_.Sub("collector.out");
    auto p = Subprocess::Start({SYNCWATCH_COLLECTOR_BIN, "--data_dir", dir_.Sub("data"), "--listen",
                                Address(), "--http-listen", "127.0.0.1:0"},
                               out, dir_.Sub("collector.err"));
    ASSERT_TRUE(p.ok()) << p.status();
    collector_.emplace(*std::move(p));
    auto content = testing::WaitForFileContaining(out, "http on port", absl::Seconds(30));
    ASSERT_TRUE(content) << testing::ReadFileOrEmpty(dir_.Sub("collector.err"));
    http_port_ = std::stoi(content->substr(content->find("http on port ") + 13));
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Sends `events` as one batch from `s`'s agent over the Ingest stream and
  // waits for its Ack.
  void Send(const ServerPlan& s, std::vector<v1::Event> events) {
    v1::Hello hello;
    hello.set_agent_id("agent-" + s.name);
    hello.set_server(s.name);
    hello.set_tenant(s.tenant);
    hello.set_role(s.staging ? v1::SERVER_ROLE_STAGING : v1::SERVER_ROLE_ACTIVE);
    hello.set_agent_version("fleet-test");
    hello.set_spool_epoch("epoch-1");
    SYNCWATCH_ASSERT_OK(testing::SendBatch(Address(), hello, std::move(events)));
  }

  // Runs the `syncwatch` CLI against the collector; its stdout.
  std::string Cli(std::vector<std::string> args) {
    ++cli_runs_;
    args.insert(args.begin(), {SYNCWATCH_CLI_BIN, "--collector", Address()});
    const std::string out = dir_.Sub(absl::StrCat("cli-", cli_runs_, ".out"));
    const std::string err = dir_.Sub(absl::StrCat("cli-", cli_runs_, ".err"));
    auto p = Subprocess::Start(args, out, err);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    const std::optional<int> code = p->Wait(absl::Seconds(60));
    EXPECT_EQ(code, 0) << absl::StrJoin(args, " ") << ": " << testing::ReadFileOrEmpty(err);
    return testing::ReadFileOrEmpty(out);
  }

  Json CliJson(std::vector<std::string> args) {
    args.push_back("--output");
    args.push_back("json");
    const std::string text = Cli(args);
    Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << text;
    return json;
  }

  // CSV lines without the header; the header in *header.
  std::vector<std::string> CliCsv(std::vector<std::string> args, std::string* header) {
    args.push_back("--output");
    args.push_back("csv");
    std::vector<std::string> lines = absl::StrSplit(Cli(args), "\r\n", absl::SkipEmpty());
    if (lines.empty()) return lines;
    *header = lines.front();
    lines.erase(lines.begin());
    return lines;
  }

  std::string Metrics() {
    httplib::Client http("127.0.0.1", http_port_);
    auto res = http.Get("/metrics");
    EXPECT_TRUE(res && res->status == 200);
    return res ? res->body : "";
  }

  testing::TempDir dir_;
  int port_ = 0;
  int http_port_ = 0;
  int cli_runs_ = 0;
  std::optional<Subprocess> collector_;
};

TEST_F(FleetTest, EveryCommandInEveryFormatAgreesWithWhatWasSent) {
  const std::vector<ServerPlan> plan = PlanFleet();
  const absl::Time now = absl::Now();
  std::map<std::string, const ServerPlan*> by_name;
  int64_t total_deletes = 0;
  int expected_critical = 0;
  int staging = 0;
  int total_errors = 0;
  for (const ServerPlan& s : plan) {
    Send(s, EventsOf(s, now));
    by_name[s.name] = &s;
    total_deletes += s.deletes;
    expected_critical += Critical(s) ? 1 : 0;
    staging += s.staging ? 1 : 0;
    total_errors += s.export_errors;
  }

  // fleet: the alert rules run after the commits; wait until the stopped
  // runs' alerts count as well.
  Json fleet;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    fleet = CliJson({"fleet"});
  } while (fleet.value("critical", -1) != expected_critical && absl::Now() < deadline &&
           (absl::SleepFor(absl::Milliseconds(200)), true));
  EXPECT_EQ(fleet["servers"], kServers);
  EXPECT_EQ(fleet["tenants"], 3);
  EXPECT_EQ(fleet["staging_servers"], staging);
  EXPECT_EQ(fleet["active_servers"], kServers - staging);
  EXPECT_EQ(fleet["critical"], expected_critical);
  EXPECT_EQ(fleet["pending_deletes"], total_deletes);
  ASSERT_EQ(fleet["server_list"].size(), static_cast<size_t>(kServers));
  for (size_t i = 0; i < fleet["server_list"].size(); ++i) {
    const Json& row = fleet["server_list"][i];
    const ServerPlan& s = *by_name.at(row["server"].get<std::string>());
    EXPECT_EQ(row["health"] == "critical", Critical(s)) << row.dump();
    // Worst first: the critical servers lead the list.
    EXPECT_EQ(static_cast<int>(i) < expected_critical, Critical(s)) << row.dump();
    // Nothing wrong at all (a mass delete under a disabled threshold warns).
    if (!Critical(s) && s.deletes < 100 && s.export_errors == 0) {
      EXPECT_EQ(row["health"], "ok") << row.dump();
    }
  }

  // servers, in three forms.
  const Json servers = CliJson({"servers"});
  ASSERT_EQ(servers.size(), static_cast<size_t>(kServers));
  for (const Json& row : servers) {
    const ServerPlan& s = *by_name.at(row["server"].get<std::string>());
    SCOPED_TRACE(s.name);
    EXPECT_EQ(row["tenant"], s.tenant);
    EXPECT_EQ(row["role"], s.staging ? "staging" : "active");
    EXPECT_EQ(row["pending_deletes"], s.deletes);
    EXPECT_EQ(row["deletion_threshold"], ThresholdOf(s.tenant));
    EXPECT_EQ(row["deletion_threshold_enabled"], ThresholdEnabled(s.tenant));
    // The latest complete run overall is the second connector's last one.
    EXPECT_EQ(row["last_run_result"], "success");
    EXPECT_FALSE(row["last_seen"].is_null());
    EXPECT_EQ(row["last_successful_cycle"].is_null(), false);
    EXPECT_GE(row["open_alerts"].get<int>(), Critical(s) ? 1 : 0);
  }
  std::string header;
  const std::vector<std::string> server_rows = CliCsv({"servers"}, &header);
  EXPECT_EQ(server_rows.size(), static_cast<size_t>(kServers));
  EXPECT_THAT(header, ::testing::StartsWith(
                          "server,tenant,role,last_seen,last_run_result,last_successful_cycle,"
                          "pending_deletes,deletion_threshold,open_alerts,health"));
  const std::string servers_table = Cli({"servers"});
  const std::vector<std::string> table_lines =
      absl::StrSplit(servers_table, '\n', absl::SkipEmpty());
  EXPECT_EQ(table_lines.size(), static_cast<size_t>(kServers) + 1);
  const std::string fleet_table = Cli({"fleet"});
  for (absl::string_view line : absl::StrSplit(fleet_table, '\n')) {
    EXPECT_LE(line.size(), 200u) << "tables fit a terminal: " << line;
  }
  EXPECT_THAT(fleet_table, HasSubstr(absl::StrCat(kServers, " servers (")));
  const std::vector<std::string> fleet_rows = CliCsv({"fleet"}, &header);
  ASSERT_EQ(fleet_rows.size(), static_cast<size_t>(kServers));
  EXPECT_EQ(fleet_rows.size() - static_cast<size_t>(std::count_if(
                                    fleet_rows.begin(), fleet_rows.end(),
                                    [](const std::string& row) {
                                      return row.find(",critical,") == std::string::npos;
                                    })),
            static_cast<size_t>(expected_critical));
  EXPECT_THAT(fleet_table, HasSubstr(absl::StrCat(expected_critical, " critical")));

  // Filters: one tenant's servers.
  const Json contoso = CliJson({"fleet", "--tenant", kTenants[0]});
  EXPECT_EQ(contoso["servers"], kServers / 3);
  const Json one = CliJson({"servers", "--server", "sync05"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["pending_deletes"], by_name.at("sync05")->deletes);

  // runs: every run sent, and per server.
  const int runs_per_server = kRunsPerConnector * 2;
  EXPECT_EQ(CliJson({"runs"}).size(), static_cast<size_t>(kServers * runs_per_server));
  const Json sync01_runs = CliJson({"runs", "--server", "sync01"});
  ASSERT_EQ(sync01_runs.size(), static_cast<size_t>(runs_per_server));
  int stopped = 0;
  for (const Json& r : sync01_runs) stopped += r["result"] == "stopped-server-down" ? 1 : 0;
  EXPECT_EQ(stopped, by_name.at("sync01")->stopped ? 1 : 0);
  EXPECT_EQ(CliJson({"runs", "--type", "stopped-"}).size(),
            static_cast<size_t>(std::count_if(plan.begin(), plan.end(),
                                              [](const ServerPlan& s) { return s.stopped; })));
  EXPECT_EQ(CliCsv({"runs", "--server", "sync02"}, &header).size(),
            static_cast<size_t>(runs_per_server));
  EXPECT_THAT(Cli({"runs", "--server", "sync02", "--since", "24h"}), HasSubstr("Delta Import"));

  // deletes --server: the counts and the objects sent.
  const Json deletes = CliJson({"deletes", "--server", "sync10"});
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0]["connector"], kConnectors[1]);
  EXPECT_EQ(deletes[0]["pending_adds"], 2);
  EXPECT_EQ(deletes[0]["pending_updates"], 5);
  EXPECT_EQ(deletes[0]["pending_deletes"], by_name.at("sync10")->deletes);
  ASSERT_EQ(deletes[0]["objects"].size(), 5u);
  EXPECT_EQ(deletes[0]["objects"][0]["dn"], "CN=User 0,OU=sync10,DC=contoso,DC=com");
  EXPECT_EQ(deletes[0]["objects"][0]["user_principal_name"],
            absl::StrCat("user0@", by_name.at("sync10")->tenant));
  EXPECT_EQ(CliCsv({"deletes", "--server", "sync10"}, &header).size(), 5u) << "a row per object";
  EXPECT_THAT(Cli({"deletes", "--server", "sync10"}), HasSubstr("CN=User 4,OU=sync10"));
  EXPECT_EQ(CliJson({"deletes"}).size(), static_cast<size_t>(kServers));

  // errors: all of them, with the Connect Health category.
  const Json errors = CliJson({"errors"});
  ASSERT_EQ(errors.size(), static_cast<size_t>(total_errors));
  for (const Json& e : errors) {
    if (e["error_type"] == "AttributeValueMustBeUnique") {
      EXPECT_EQ(e["category"], "duplicate-attribute");
      EXPECT_EQ(e["attribute"], "ProxyAddresses");
      EXPECT_EQ(e["retry_count"], 4);
    }
  }
  const Json unique = CliJson({"errors", "--type", "AttributeValueMustBeUnique"});
  EXPECT_EQ(unique.size(), static_cast<size_t>(total_errors / 3));
  EXPECT_EQ(CliCsv({"errors"}, &header).size(), static_cast<size_t>(total_errors));
  EXPECT_THAT(Cli({"errors"}), HasSubstr("InvalidSoftMatch"));

  // alerts: each mass delete over an enabled threshold has its alert.
  const Json alerts = CliJson({"alerts"});
  std::set<std::string> over;
  for (const Json& a : alerts) {
    if (a["name"] == "PendingDeletesOverThreshold") over.insert(a["server"].get<std::string>());
  }
  for (const ServerPlan& s : plan) {
    EXPECT_EQ(over.count(s.name) > 0,
              ThresholdEnabled(s.tenant) && s.deletes > ThresholdOf(s.tenant))
        << s.name;
  }
  EXPECT_EQ(CliCsv({"alerts"}, &header).size(), alerts.size());
  EXPECT_THAT(Cli({"alerts"}), HasSubstr("PendingDeletesOverThreshold"));

  // /metrics: one gauge per server, and promtool accepts the exposition.
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat("syncwatch_server_pending_deletes{server=\"sync10\",tenant=\"",
                                     kTenants[1], "\",role=\"active\"} ",
                                     by_name.at("sync10")->deletes, "\n")));
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("syncwatch_fleet_servers{health=\"critical\"} ",
                                              expected_critical, "\n")));
}

TEST_F(FleetTest, PromtoolAcceptsTheMetrics) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/promtool"))
      << "/usr/bin/promtool is missing: it comes with the Debian package prometheus, listed in "
         "scripts/deps.txt; run scripts/setup to install it";
  const std::vector<ServerPlan> plan = PlanFleet();
  for (int i = 0; i < 5; ++i) Send(plan[i], EventsOf(plan[i], absl::Now()));
  const std::string path = dir_.Sub("metrics.txt");
  testing::WriteFile(path, Metrics());
  auto p = Subprocess::Start({"/bin/sh", "-c", "exec /usr/bin/promtool check metrics < " + path},
                             dir_.Sub("promtool.out"), dir_.Sub("promtool.err"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->Wait(absl::Seconds(60)), 0) << testing::ReadFileOrEmpty(dir_.Sub("promtool.out"))
                                           << testing::ReadFileOrEmpty(dir_.Sub("promtool.err"));
  // Lint findings go to stdout/stderr even with status 0 on some versions.
  EXPECT_EQ(testing::ReadFileOrEmpty(dir_.Sub("promtool.out")), "");
  EXPECT_EQ(testing::ReadFileOrEmpty(dir_.Sub("promtool.err")), "");
}

}  // namespace
}  // namespace syncwatch
