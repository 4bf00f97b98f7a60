// Agent -> collector -> a real Prometheus Alertmanager (Debian's
// prometheus-alertmanager), all on 127.0.0.1: a pending-export snapshot over
// the deletion threshold shows up in Alertmanager's /api/v2/alerts with the
// right labels, and resolves there when the pending deletes drop.
#include <httplib.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "collector/collector_server.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kAad[] = "contoso.onmicrosoft.com - AAD";
constexpr char kTenant[] = "contoso.onmicrosoft.com";

// Where Debian puts it (the upstream name too, for other installs).
std::string FindAlertmanager() {
  for (const char* path : {"/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager",
                           "/usr/bin/alertmanager"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

// An Alertmanager process on 127.0.0.1 with its own storage, no clustering
// and a route to a receiver that notifies nobody.
class Alertmanager {
 public:
  explicit Alertmanager(const testing::TempDir& dir) : dir_(dir) {}

  // Starts it and waits until /-/ready answers; false (with the reason in
  // *why) when it does not come up.
  bool Start(const std::string& binary, std::string* why) {
    port_ = testing::PickFreePort();
    const std::string config = dir_.Sub("alertmanager.yml");
    testing::WriteFile(config,
                       "route:\n"
                       "  receiver: \"null\"\n"
                       "receivers:\n"
                       "  - name: \"null\"\n");
    auto process = testing::Subprocess::Start(
        {binary, "--config.file=" + config, "--storage.path=" + dir_.Sub("am-data"),
         absl::StrCat("--web.listen-address=127.0.0.1:", port_),
         "--cluster.listen-address=", "--log.level=warn"},
        dir_.Sub("am.out"), dir_.Sub("am.err"));
    if (!process.ok()) {
      *why = std::string(process.status().message());
      return false;
    }
    process_ = std::make_unique<testing::Subprocess>(*std::move(process));
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      if (!process_->running()) break;
      httplib::Client client(url());
      client.set_connection_timeout(std::chrono::seconds(2));
      if (auto res = client.Get("/-/ready"); res && res->status == 200) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    *why = absl::StrCat("Alertmanager did not become ready; its stderr:\n",
                        testing::ReadFileOrEmpty(dir_.Sub("am.err")));
    return false;
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  // GET /api/v2/alerts; an empty array when the request fails.
  Json Alerts() const {
    httplib::Client client(url());
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(5));
    auto res = client.Get("/api/v2/alerts");
    if (!res || res->status != 200) return Json::array();
    Json body = Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    return body.is_array() ? body : Json::array();
  }

  // Polls until `match` holds for the alert list; returns the last list.
  template <typename Match>
  std::optional<Json> WaitFor(Match match, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    Json alerts;
    while (absl::Now() < deadline) {
      alerts = Alerts();
      if (match(alerts)) return alerts;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return std::nullopt;
  }

 private:
  const testing::TempDir& dir_;
  int port_ = 0;
  std::unique_ptr<testing::Subprocess> process_;
};

// The alert named `name` for sync01, or null.
const Json* FindAlert(const Json& alerts, const std::string& name) {
  for (const Json& a : alerts) {
    if (a.contains("labels") && a["labels"].value("alertname", "") == name &&
        a["labels"].value("server", "") == "sync01") {
      return &a;
    }
  }
  return nullptr;
}

bool IsActive(const Json& alert) {
  if (alert.contains("status") && alert["status"].value("state", "") != "active") return false;
  absl::Time ends;
  std::string err;
  if (alert.contains("endsAt") &&
      absl::ParseTime(absl::RFC3339_full, alert["endsAt"].get<std::string>(), &ends, &err)) {
    return ends > absl::Now();
  }
  return true;
}

std::vector<v1::Event> Events(std::vector<v1::Event> events) {
  for (v1::Event& e : events) {
    e.set_source("test");
    *e.mutable_observed_at() = ToProtoTimestamp(absl::Now());
  }
  return events;
}

v1::Event Settings() {
  v1::Event e;
  v1::ServerSettings& s = *e.mutable_settings();
  s.set_sync_cycle_enabled(true);
  s.set_deletion_threshold_known(true);
  s.set_deletion_threshold_enabled(true);
  s.set_deletion_threshold(500);
  return e;
}

v1::Event Snapshot(int64_t deletes, absl::Time taken_at) {
  v1::Event e;
  v1::PendingExportSnapshot& s = *e.mutable_pending_exports();
  s.set_snapshot_id(absl::StrCat("csexport-", absl::ToUnixMillis(taken_at)));
  s.set_connector_name(kAad);
  s.set_connector_id("b891884f-051e-4a83-95af-2544101c9083");
  *s.mutable_taken_at() = ToProtoTimestamp(taken_at);
  s.set_pending_deletes(deletes);
  for (int64_t i = 0; i < deletes && i < 20; ++i) {
    v1::PendingObject& o = *s.add_deletes();
    o.set_dn(absl::StrCat("CN={", 4000 + i, "}"));
    o.set_user_principal_name(absl::StrCat("leaver", i, "@contoso.com"));
    o.set_object_type("user");
  }
  s.set_deletes_truncated(deletes > 20);
  return e;
}

TEST(AlertmanagerEndToEnd, DeletionThresholdAlertAppearsAndResolves) {
  const std::string binary = FindAlertmanager();
  ASSERT_FALSE(binary.empty())
      << "prometheus-alertmanager is not installed (looked for /usr/bin/prometheus-alertmanager); "
         "run scripts/setup, which installs the packages in scripts/deps.txt";
  testing::TempDir dir;
  Alertmanager am(dir);
  std::string why;
  ASSERT_TRUE(am.Start(binary, &why)) << why;

  collector::CollectorOptions options;
  options.data_dir = dir.Sub("collector");
  options.listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.sync_writes = false;
  options.alerts.notifiers.alertmanager_urls = {am.url()};
  options.alerts.notifiers.alertmanager_resend_interval = absl::Seconds(30);
  options.alerts.notifiers.initial_backoff = absl::Milliseconds(100);
  options.alerts.notifiers.external_url = "http://127.0.0.1:9464/";
  auto collector = collector::CollectorServer::Start(options, RealClock::Get());
  ASSERT_TRUE(collector.ok()) << collector.status();

  agent::AgentOptions agent_options;
  agent_options.server = "sync01";
  agent_options.agent_id = "sync01";
  agent_options.tenant = kTenant;
  agent_options.data_dir = dir.Sub("agent");
  agent_options.collectors = {absl::StrCat("127.0.0.1:", (*collector)->port())};
  auto agent = agent::Agent::Create(agent_options, RealClock::Get());
  ASSERT_TRUE(agent.ok()) << agent.status();

  // The threshold the agent read, and 600 objects staged for deletion.
  const absl::Time taken = absl::Now();
  SYNCWATCH_ASSERT_OK(
      (*agent)->spool().Append(Events({Settings(), Snapshot(600, taken)}), std::nullopt));
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(60)));

  std::optional<Json> alerts = am.WaitFor(
      [](const Json& list) {
        const Json* a = FindAlert(list, "PendingDeletesOverThreshold");
        return a != nullptr && IsActive(*a);
      },
      absl::Seconds(90));
  ASSERT_TRUE(alerts.has_value()) << "the alert never appeared in Alertmanager: " << am.Alerts();
  const Json& alert = *FindAlert(*alerts, "PendingDeletesOverThreshold");
  const Json& labels = alert["labels"];
  EXPECT_EQ(labels["severity"], "critical");
  EXPECT_EQ(labels["server"], "sync01");
  EXPECT_EQ(labels["tenant"], kTenant);
  EXPECT_EQ(labels["connector"], kAad);
  EXPECT_EQ(labels["role"], "active");
  EXPECT_EQ(labels["deletion_threshold"], "enabled");
  EXPECT_THAT(alert["annotations"]["summary"].get<std::string>(),
              HasSubstr("600 pending deletes on sync01"));
  EXPECT_THAT(alert["annotations"]["description"].get<std::string>(),
              HasSubstr("CN={4000} (leaver0@contoso.com"));
  EXPECT_EQ(alert["generatorURL"], "http://127.0.0.1:9464/");
  EXPECT_EQ(alert["status"]["state"], "active");

  // The deletes were dealt with: the next snapshot has few.
  SYNCWATCH_ASSERT_OK(
      (*agent)->spool().Append(Events({Snapshot(3, taken + absl::Minutes(30))}), std::nullopt));
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(60)));
  alerts = am.WaitFor(
      [](const Json& list) {
        const Json* a = FindAlert(list, "PendingDeletesOverThreshold");
        return a == nullptr || !IsActive(*a);
      },
      absl::Seconds(90));
  EXPECT_TRUE(alerts.has_value()) << "the alert never resolved in Alertmanager: " << am.Alerts();
  // And nothing else about sync01 fires there.
  for (const Json& a : am.Alerts()) {
    if (a["labels"].value("server", "") == "sync01") {
      EXPECT_FALSE(IsActive(a)) << a;
    }
  }
  (*agent)->Stop();
  agent->reset();
  (*collector)->Shutdown();
}

}  // namespace
}  // namespace syncwatch
