// Agent -> collector -> a real Prometheus Alertmanager (Debian's
// prometheus-alertmanager), all on 127.0.0.1: a pending-export snapshot over
// the deletion threshold shows up in Alertmanager's /api/v2/alerts with the
// right labels, and resolves there when the pending deletes drop. And one
// agent -> two collectors -> a cluster of two Alertmanagers -> one webhook:
// the notification goes out once, and either collector may be down. And two
// real collector processes notifying one Alertmanager, driven by the real
// `syncwatch` CLI: a silence made once keeps both from notifying, an
// `unsilence` made once lets both notify again, an ack made once shows on each.
#include "tests/testutil/alertmanager.h"

#include <grpcpp/create_channel.h>
#include <httplib.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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
#include "tests/testutil/ingest_client.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::AlertIsActive;
using ::syncwatch::testing::Alertmanager;
using ::syncwatch::testing::FindAlertmanager;
using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kAad[] = "contoso.onmicrosoft.com - AAD";
constexpr char kTenant[] = "contoso.onmicrosoft.com";

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

// A collector on 127.0.0.1:`port` (0: any) notifying `alertmanagers`.
collector::CollectorOptions CollectorOptions(const std::string& data_dir, int port,
                                             std::vector<std::string> alertmanagers) {
  collector::CollectorOptions options;
  options.data_dir = data_dir;
  options.listen = absl::StrCat("127.0.0.1:", port);
  options.http_listen = "127.0.0.1:0";
  options.sync_writes = false;
  options.alerts.notifiers.alertmanager_urls = std::move(alertmanagers);
  options.alerts.notifiers.alertmanager_resend_interval = absl::Seconds(30);
  options.alerts.notifiers.initial_backoff = absl::Milliseconds(100);
  options.alerts.notifiers.external_url = "http://127.0.0.1:9464/";
  return options;
}

// The agent of sync01, delivering to the collectors on `ports`.
agent::AgentOptions AgentFor(const testing::TempDir& dir, const std::vector<int>& ports) {
  agent::AgentOptions options;
  options.server = "sync01";
  options.agent_id = "sync01";
  options.tenant = kTenant;
  options.data_dir = dir.Sub("agent");
  options.collectors.clear();
  for (int port : ports) options.collectors.push_back(absl::StrCat("127.0.0.1:", port));
  return options;
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

  auto collector = collector::CollectorServer::Start(
      CollectorOptions(dir.Sub("collector"), 0, {am.url()}), RealClock::Get());
  ASSERT_TRUE(collector.ok()) << collector.status();

  auto agent = agent::Agent::Create(AgentFor(dir, {(*collector)->port()}), RealClock::Get());
  ASSERT_TRUE(agent.ok()) << agent.status();

  // The threshold the agent read, and 600 objects staged for deletion.
  const absl::Time taken = absl::Now();
  SYNCWATCH_ASSERT_OK(
      (*agent)->spool().Append(Events({Settings(), Snapshot(600, taken)}), std::nullopt));
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(60)));

  std::optional<Json> alerts = am.WaitFor(
      [](const Json& list) {
        const Json* a = FindAlert(list, "PendingDeletesOverThreshold");
        return a != nullptr && AlertIsActive(*a);
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
        return a == nullptr || !AlertIsActive(*a);
      },
      absl::Seconds(90));
  EXPECT_TRUE(alerts.has_value()) << "the alert never resolved in Alertmanager: " << am.Alerts();
  // And nothing else about sync01 fires there.
  for (const Json& a : am.Alerts()) {
    if (a["labels"].value("server", "") == "sync01") {
      EXPECT_FALSE(AlertIsActive(a)) << a;
    }
  }
  (*agent)->Stop();
  agent->reset();
  (*collector)->Shutdown();
}

// Receives Alertmanager's webhook notifications on 127.0.0.1 and keeps them.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      std::lock_guard<std::mutex> lock(mu_);
      notifications_.push_back(std::move(body));
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!server_.is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  }
  ~WebhookReceiver() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }

  // Notifications so far with a firing alert named `name`.
  int FiringNotifications(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const Json& body : notifications_) {
      if (!body.is_object() || !body.contains("alerts")) continue;
      for (const Json& a : body["alerts"]) {
        if (a.value("status", "") == "firing" && a.contains("labels") &&
            a["labels"].value("alertname", "") == name) {
          ++n;
          break;
        }
      }
    }
    return n;
  }

  std::string Dump() {
    std::lock_guard<std::mutex> lock(mu_);
    return Json(notifications_).dump();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Json> notifications_;
};

// Polls `done` every 100 ms until it holds or `timeout` passes.
template <typename Done>
bool Eventually(Done done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return done();
}

// The pending deletes of sync01's latest snapshot stored by the collector on
// `port`; -1 when there is none or the query fails.
int64_t StoredPendingDeletes(int port) {
  auto stub = v1::Query::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListPendingExportsResponse resp;
  if (!stub->ListPendingExports(&ctx, v1::ListPendingExportsRequest(), &resp).ok()) return -1;
  for (const v1::StoredPendingExports& s : resp.snapshots()) {
    if (s.server() == "sync01") return s.snapshot().pending_deletes();
  }
  return -1;
}

TEST(AlertmanagerEndToEnd, TwoCollectorsAndAnAlertmanagerClusterNotifyOnce) {
  const std::string binary = FindAlertmanager();
  ASSERT_FALSE(binary.empty()) << "prometheus-alertmanager is not installed";
  testing::TempDir dir;
  WebhookReceiver webhook;
  // Short waits so that the test is quick; a day between repeats so that a
  // second notification can only be a duplicate.
  const std::string config = absl::StrCat(
      "route:\n"
      "  receiver: hook\n"
      "  group_by: [alertname, server, connector]\n"
      "  group_wait: 1s\n"
      "  group_interval: 2s\n"
      "  repeat_interval: 24h\n"
      "receivers:\n"
      "  - name: hook\n"
      "    webhook_configs:\n"
      "      - url: ",
      webhook.url(),
      "\n"
      "        send_resolved: false\n");
  const int gossip[2] = {testing::PickFreePort(), testing::PickFreePort()};
  Alertmanager am1(dir, "am1");
  Alertmanager am2(dir, "am2");
  std::string why;
  for (int i = 0; i < 2; ++i) {
    Alertmanager& am = i == 0 ? am1 : am2;
    ASSERT_TRUE(am.Start(binary, &why, config,
                         {absl::StrCat("--cluster.listen-address=127.0.0.1:", gossip[i]),
                          absl::StrCat("--cluster.peer=127.0.0.1:", gossip[1 - i]),
                          "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
                          "--cluster.peer-timeout=2s", "--cluster.settle-timeout=10s"}))
        << why;
  }

  const std::vector<std::string> ams = {am1.url(), am2.url()};
  const int ports[2] = {testing::PickFreePort(), testing::PickFreePort()};
  std::unique_ptr<collector::CollectorServer> collectors[2];
  for (int i = 0; i < 2; ++i) {
    auto c = collector::CollectorServer::Start(
        CollectorOptions(dir.Sub(absl::StrCat("collector", i)), ports[i], ams), RealClock::Get());
    ASSERT_TRUE(c.ok()) << c.status();
    collectors[i] = *std::move(c);
  }

  auto agent = agent::Agent::Create(AgentFor(dir, {ports[0], ports[1]}), RealClock::Get());
  ASSERT_TRUE(agent.ok()) << agent.status();

  const absl::Time taken = absl::Now();
  SYNCWATCH_ASSERT_OK(
      (*agent)->spool().Append(Events({Settings(), Snapshot(600, taken)}), std::nullopt));
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  EXPECT_EQ(StoredPendingDeletes(ports[0]), 600);
  EXPECT_EQ(StoredPendingDeletes(ports[1]), 600);

  // Both collectors fire the alert to both Alertmanagers...
  for (const Alertmanager* am : {&am1, &am2}) {
    EXPECT_TRUE(am->WaitFor(
        [](const Json& list) {
          const Json* a = FindAlert(list, "PendingDeletesOverThreshold");
          return a != nullptr && AlertIsActive(*a);
        },
        absl::Seconds(30)))
        << "the alert never reached " << am->url() << ": " << am->Alerts();
  }
  // ...and the webhook hears of it once: after the first notification, the
  // second Alertmanager waits its peer timeout (2s), sees the first one's
  // notification log and stays silent; group_interval (2s) passes too.
  ASSERT_TRUE(
      Eventually([&] { return webhook.FiringNotifications("PendingDeletesOverThreshold") >= 1; },
                 absl::Seconds(30)))
      << "no notification reached the webhook: " << webhook.Dump();
  absl::SleepFor(absl::Seconds(6));
  EXPECT_EQ(webhook.FiringNotifications("PendingDeletesOverThreshold"), 1) << webhook.Dump();

  // One collector goes away; the other still gets what the agent sends.
  collectors[0]->Shutdown();
  collectors[0].reset();
  SYNCWATCH_ASSERT_OK(
      (*agent)->spool().Append(Events({Snapshot(700, taken + absl::Minutes(10))}), std::nullopt));
  EXPECT_TRUE(Eventually([&] { return StoredPendingDeletes(ports[1]) == 700; }, absl::Seconds(20)))
      << "the collector that stayed up did not store the new snapshot";
  EXPECT_THAT((*agent)->WaitDelivered(absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr(absl::StrCat("127.0.0.1:", ports[0]))));

  // Back on its data dir, it gets what it missed.
  auto restarted = collector::CollectorServer::Start(
      CollectorOptions(dir.Sub("collector0"), ports[0], ams), RealClock::Get());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  collectors[0] = *std::move(restarted);
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  EXPECT_EQ(StoredPendingDeletes(ports[0]), 700);
  EXPECT_EQ(StoredPendingDeletes(ports[1]), 700);
  // Still one notification: the alert kept firing throughout.
  EXPECT_EQ(webhook.FiringNotifications("PendingDeletesOverThreshold"), 1) << webhook.Dump();

  (*agent)->Stop();
  agent->reset();
  for (auto& c : collectors) c->Shutdown();
}

// Two collector processes (the real binary) on 127.0.0.1 notifying one
// Alertmanager, and the real `syncwatch` CLI to drive them.
class TwoCollectorProcesses {
 public:
  TwoCollectorProcesses(const testing::TempDir& dir, const std::string& alertmanager) : dir_(dir) {
    for (int i = 0; i < 2; ++i) {
      ports_[i] = testing::PickFreePort();
      const std::string name = absl::StrCat("collector", i);
      // Firing alerts re-sent every 2 s: a silence must hold those back too.
      testing::WriteFile(
          dir_.Sub(name + ".yaml"),
          absl::StrCat("data_dir: ", dir_.Sub(name), "\nlisten: ", address(i),
                       "\nhttp_listen: 127.0.0.1:0\nsync_writes: false\n"
                       "notifiers:\n  alertmanager: {urls: [\"",
                       alertmanager, "\"], resend_interval: 2s}\n  initial_backoff: 100ms\n"));
      auto p = testing::Subprocess::Start(
          {SYNCWATCH_COLLECTOR_BIN, "--config", dir_.Sub(name + ".yaml")}, dir_.Sub(name + ".out"),
          dir_.Sub(name + ".err"));
      if (!p.ok()) {
        why_ = std::string(p.status().message());
        return;
      }
      processes_.push_back(*std::move(p));
      if (!testing::WaitForFileContaining(dir_.Sub(name + ".out"), "http on port",
                                          absl::Seconds(30))) {
        why_ = absl::StrCat(name,
                            " did not start: ", testing::ReadFileOrEmpty(dir_.Sub(name + ".err")));
        return;
      }
    }
  }

  // Empty when both run.
  const std::string& why() const { return why_; }
  std::string address(int i) const { return absl::StrCat("127.0.0.1:", ports_[i]); }
  std::string both() const { return absl::StrCat(address(0), ",", address(1)); }

  struct Result {
    int code = -1;
    std::string out;
    std::string err;
  };
  // Runs `syncwatch --collector collectors args... --output json`.
  Result Cli(const std::string& collectors, std::vector<std::string> args) {
    args.insert(args.begin(), {SYNCWATCH_CLI_BIN, "--collector", collectors});
    args.insert(args.end(), {"--output", "json"});
    const std::string out = dir_.Sub(absl::StrCat("cli-", ++runs_, ".out"));
    const std::string err = dir_.Sub(absl::StrCat("cli-", runs_, ".err"));
    Result r;
    auto p = testing::Subprocess::Start(args, out, err);
    if (!p.ok()) {
      r.err = std::string(p.status().message());
      return r;
    }
    r.code = p->Wait(absl::Seconds(60)).value_or(-1);
    r.out = testing::ReadFileOrEmpty(out);
    r.err = testing::ReadFileOrEmpty(err);
    return r;
  }

  // The alert of `server` on collector `i` as the CLI shows it (null when none
  // fires or the CLI fails).
  Json FiringAlertOf(int i, const std::string& server) {
    const Result r = Cli(address(i), {"alerts", "--server", server});
    Json alerts = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (r.code != 0 || !alerts.is_array() || alerts.empty()) return Json();
    return alerts[0];
  }

 private:
  const testing::TempDir& dir_;
  int ports_[2] = {0, 0};
  std::vector<testing::Subprocess> processes_;
  std::string why_;
  int runs_ = 0;
};

// A batch making `server` go over the default deletion threshold (500).
absl::Status SendMassDelete(const std::string& address, const std::string& server) {
  v1::Hello hello;
  hello.set_agent_id(absl::StrCat("agent-", server));
  hello.set_server(server);
  hello.set_tenant(kTenant);
  hello.set_role(v1::SERVER_ROLE_ACTIVE);
  hello.set_spool_epoch("epoch-1");
  return testing::SendBatch(address, hello,
                            Events({Settings(), Snapshot(700, absl::Now() - absl::Minutes(1))}));
}

// Whether Alertmanager holds an active alert of `server`.
bool ActiveFor(const Json& alerts, const std::string& server) {
  for (const Json& a : alerts) {
    if (a.contains("labels") && a["labels"].value("server", "") == server && AlertIsActive(a)) {
      return true;
    }
  }
  return false;
}

TEST(AlertmanagerEndToEnd, ASilenceMadeOnceKeepsBothCollectorsFromNotifyingUntilUnsilenced) {
  const std::string binary = FindAlertmanager();
  ASSERT_FALSE(binary.empty()) << "prometheus-alertmanager is not installed";
  testing::TempDir dir;
  Alertmanager am(dir);
  std::string why;
  ASSERT_TRUE(am.Start(binary, &why)) << why;
  TwoCollectorProcesses collectors(dir, am.url());
  ASSERT_EQ(collectors.why(), "");

  // One silence, made once, on both.
  TwoCollectorProcesses::Result r = collectors.Cli(
      collectors.both(), {"silence", "--server", "sync01", "--for", "1h", "--comment", "cleanup"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Json made = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(made.is_array() && made.size() == 1u) << r.out;
  const std::string id = made[0]["id"];
  EXPECT_EQ(r.err, absl::StrCat("syncwatch: ", collectors.address(0),
                                ": created\nsyncwatch: ", collectors.address(1), ": created\n"));
  for (int i = 0; i < 2; ++i) {
    r = collectors.Cli(collectors.address(i), {"silences"});
    const Json silences = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(silences.is_array() && silences.size() == 1u) << i << ": " << r.out << r.err;
    EXPECT_EQ(silences[0]["id"], id);
    EXPECT_EQ(silences[0]["comment"], "cleanup");
    EXPECT_EQ(silences[0]["ends_at"], made[0]["ends_at"]);
  }

  // sync01 fires on both; sync02 only on the first collector, sync03 only on
  // the second: those two show that each collector does notify.
  SYNCWATCH_ASSERT_OK(SendMassDelete(collectors.address(0), "sync01"));
  SYNCWATCH_ASSERT_OK(SendMassDelete(collectors.address(1), "sync01"));
  SYNCWATCH_ASSERT_OK(SendMassDelete(collectors.address(0), "sync02"));
  SYNCWATCH_ASSERT_OK(SendMassDelete(collectors.address(1), "sync03"));
  ASSERT_TRUE(am.WaitFor(
      [](const Json& list) { return ActiveFor(list, "sync02") && ActiveFor(list, "sync03"); },
      absl::Seconds(60)))
      << "the unsilenced alerts never reached Alertmanager: " << am.Alerts();
  Json alert[2];
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        Eventually([&] { return !(alert[i] = collectors.FiringAlertOf(i, "sync01")).is_null(); },
                   absl::Seconds(30)))
        << "sync01's alert does not fire on collector " << i;
    EXPECT_EQ(alert[i]["silenced_by"], Json::array({id})) << alert[i];
  }
  // One alert, one id, on both: an ack by that id reaches it everywhere.
  EXPECT_EQ(alert[0]["fingerprint"], alert[1]["fingerprint"]);
  // Longer than the re-send interval: still nothing of sync01 anywhere.
  absl::SleepFor(absl::Seconds(4));
  EXPECT_FALSE(ActiveFor(am.Alerts(), "sync01")) << am.Alerts();
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(collectors.FiringAlertOf(i, "sync01")["last_delivery"].is_null()) << i;
  }

  // An ack made once shows in `alerts` on each.
  const std::string fingerprint = alert[0]["fingerprint"];
  r = collectors.Cli(collectors.both(), {"ack", fingerprint, "--comment", "on it"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 2; ++i) {
    const Json acked = collectors.FiringAlertOf(i, "sync01");
    EXPECT_EQ(acked["ack_comment"], "on it") << i << ": " << acked;
    EXPECT_FALSE(acked["acked_at"].is_null()) << i;
  }

  // One unsilence ends it on both: each notifies sync01 now.
  r = collectors.Cli(collectors.both(), {"unsilence", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(collectors.address(1), ": ended\n")));
  EXPECT_TRUE(
      am.WaitFor([](const Json& list) { return ActiveFor(list, "sync01"); }, absl::Seconds(30)))
      << "sync01 never reached Alertmanager after the silence ended: " << am.Alerts();
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(Eventually(
        [&] { return !collectors.FiringAlertOf(i, "sync01")["last_delivery"].is_null(); },
        absl::Seconds(30)))
        << "collector " << i << " did not notify sync01 after the silence ended";
    r = collectors.Cli(collectors.address(i), {"silences"});
    EXPECT_EQ(r.out, "[]\n") << i << ": " << r.err;
  }
  // Repeated, it changes nothing and says so.
  r = collectors.Cli(collectors.both(), {"unsilence", id});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(collectors.address(0), ": already ended\n")));
}

}  // namespace
}  // namespace syncwatch
