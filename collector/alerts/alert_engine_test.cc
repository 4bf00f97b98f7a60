#include "collector/alerts/alert_engine.h"

#include <grpcpp/create_channel.h>

#include <cmath>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/alerts/alert.h"
#include "collector/alerts/test_receiver.h"
#include "collector/api/query_service.h"
#include "collector/collector_server.h"
#include "collector/config/test_configuration.h"
#include "collector/config/test_runs.h"
#include "collector/storage/server_cache.h"
#include "collector/storage/storage_writer.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "syncwatch/v1/ingest.grpc.pb.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector::alerts {
namespace {

using ::syncwatch::testing::FakeClock;
using ::syncwatch::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr char kAad[] = "contoso.onmicrosoft.com - AAD";
constexpr char kTenant[] = "contoso.onmicrosoft.com";
const absl::Time kT0 = absl::FromUnixSeconds(1714550400);

v1::Event SettingsEvent(int64_t threshold, bool staging = false, bool enabled = true) {
  v1::Event e;
  v1::ServerSettings& s = *e.mutable_settings();
  s.set_staging_mode_enabled(staging);
  s.set_sync_cycle_enabled(true);
  s.set_deletion_threshold_known(true);
  s.set_deletion_threshold_enabled(enabled);
  s.set_deletion_threshold(threshold);
  *s.mutable_sync_cycle_interval() = ToProtoDuration(absl::Minutes(30));
  return e;
}

v1::Event SnapshotEvent(int64_t deletes, absl::Time taken_at, const std::string& connector = kAad) {
  v1::Event e;
  v1::PendingExportSnapshot& s = *e.mutable_pending_exports();
  s.set_snapshot_id(absl::StrCat("snap-", ToUnixMicrosOrZero(ToProtoTimestamp(taken_at))));
  s.set_connector_name(connector);
  *s.mutable_taken_at() = ToProtoTimestamp(taken_at);
  s.set_pending_deletes(deletes);
  for (int64_t i = 0; i < deletes && i < 5; ++i) {
    v1::PendingObject& o = *s.add_deletes();
    o.set_dn(absl::StrCat("CN={", i, "}"));
    o.set_user_principal_name(absl::StrCat("user", i, "@contoso.com"));
  }
  s.set_deletes_truncated(deletes > 5);
  return e;
}

v1::Event ErrorEvent(const std::string& dn, const std::string& type, absl::Time when,
                     const std::string& attribute = "", const std::string& value = "") {
  v1::Event e;
  v1::ExportError& x = *e.mutable_export_error();
  x.set_connector_name(kAad);
  x.set_dn(dn);
  x.set_error_type(type);
  x.set_conflict_attribute(attribute);
  x.set_conflict_value(value);
  *x.mutable_first_occurred() = ToProtoTimestamp(when);
  *x.mutable_date_occurred() = ToProtoTimestamp(when);
  return e;
}

v1::Event RunEvent(const std::string& id, const std::string& connector, const std::string& profile,
                   const std::string& result, absl::Time start) {
  v1::Event e;
  v1::RunProfileResult& r = *e.mutable_run();
  r.set_run_history_id(id);
  r.set_connector_name(connector);
  r.set_run_profile_name(profile);
  r.set_run_number(1);
  r.set_result(result);
  r.set_is_run_complete(true);
  *r.mutable_start_time() = ToProtoTimestamp(start);
  *r.mutable_end_time() = ToProtoTimestamp(start + absl::Seconds(30));
  return e;
}

v1::Event Heartbeat() {
  v1::Event e;
  e.mutable_heartbeat();
  return e;
}

// The alert engine fed by a real StorageWriter over a real store, driven by
// hand (no threads) with a fake clock.
class AlertEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.notifiers.webhooks = {
        {"http://127.0.0.1:" + std::to_string(testing::PickFreePort()) + "/hook",
         WebhookFormat::kJson}};
    Open();
  }

  void Open(size_t max_pending = 10000) {
    AlertEngine::Options engine_options;
    engine_options.start_threads = false;
    engine_options.max_pending = max_pending;
    Open(engine_options);
  }

  void Open(AlertEngine::Options engine_options) {
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    cache_ = std::make_unique<ServerCache>(*store_);
    engine_options.servers = cache_.get();
    auto engine = AlertEngine::Create(*store_, clock_, options_, engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    StorageWriter::Options writer_options;
    AlertEngine* engine_ptr = engine_.get();
    ServerCache* cache = cache_.get();
    // What CollectorServer wires up.
    writer_options.on_commit = [engine_ptr,
                                cache](const std::vector<CommittedSubmission>& committed) {
      std::vector<ServerChange> changes;
      for (const CommittedSubmission& c : committed) {
        cache->MarkChanged(c.server);
        bool data = false;
        if (c.batch != nullptr) {
          for (const v1::Event& e : c.batch->events()) data = data || !e.has_heartbeat();
        }
        changes.push_back({c.server, c.tenant, data});
      }
      engine_ptr->OnCommit(changes);
    };
    auto writer = StorageWriter::Create(*store_, clock_, writer_options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = *std::move(writer);
  }

  void Close() {
    writer_.reset();
    engine_.reset();
    cache_.reset();
    store_.reset();
  }

  // Stores `events` as sent by `server`'s agent and evaluates what changed.
  void Send(const std::string& server, std::vector<v1::Event> events,
            const std::string& tenant = kTenant) {
    Commit(server, std::move(events), tenant);
    SYNCWATCH_ASSERT_OK(engine_->EvaluatePending());
  }

  // Stores `events` as sent by `server`'s agent; the engine's queue holds the
  // change.
  void Commit(const std::string& server, std::vector<v1::Event> events,
              const std::string& tenant = kTenant) {
    auto agent = std::make_shared<AgentContext>();
    agent->hello.set_agent_id(server);
    agent->hello.set_server(server);
    agent->hello.set_tenant(tenant);
    agent->hello.set_role(v1::SERVER_ROLE_ACTIVE);
    agent->hello.set_spool_epoch("epoch");
    std::unique_ptr<v1::EventBatch> batch;
    if (!events.empty()) {
      batch = std::make_unique<v1::EventBatch>();
      batch->set_seq(++seq_[server]);
      for (v1::Event& e : events) {
        *e.mutable_observed_at() = ToProtoTimestamp(clock_.Now());
        *batch->add_events() = std::move(e);
      }
    }
    std::promise<absl::Status> done;
    writer_->Submit(agent, std::move(batch),
                    [&done](absl::Status s, bool) { done.set_value(std::move(s)); });
    SYNCWATCH_ASSERT_OK(done.get_future().get());
  }

  std::vector<v1::Alert> Firing() {
    auto firing = engine_->alert_store().List("", v1::ALERT_STATE_FIRING);
    EXPECT_TRUE(firing.ok()) << firing.status();
    return firing.ok() ? *firing : std::vector<v1::Alert>();
  }

  std::vector<std::string> FiringNames() {
    std::vector<std::string> names;
    for (const v1::Alert& a : Firing()) names.push_back(a.name());
    return names;
  }

  size_t Outbox() {
    size_t n = 0;
    for (const auto& [receiver, size] : engine_->alert_store().OutboxSizes()) n += size;
    return n;
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  AlertsOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ServerCache> cache_;
  std::unique_ptr<AlertEngine> engine_;
  std::unique_ptr<StorageWriter> writer_;
  std::map<std::string, uint64_t> seq_;
};

TEST_F(AlertEngineTest, DeletesOverTheThresholdFireAfterTheCommitAndResolveWhenTheyDrop) {
  Send("sync01", {SettingsEvent(500), SnapshotEvent(600, kT0)});
  auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].name(), "PendingDeletesOverThreshold");
  EXPECT_THAT(firing[0].labels(), Contains(Pair("connector", kAad)));
  EXPECT_THAT(firing[0].labels(), Contains(Pair("role", "active")));
  EXPECT_EQ(Outbox(), 1u);

  clock_.Advance(absl::Minutes(30));
  Send("sync01", {SnapshotEvent(3, kT0 + absl::Minutes(30))});
  EXPECT_THAT(Firing(), IsEmpty());
  EXPECT_EQ(Outbox(), 2u);  // firing, then resolved
  auto all = engine_->alert_store().List("", std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(1));
  EXPECT_EQ((*all)[0].state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(FromProtoTimestamp((*all)[0].resolved_at()), kT0 + absl::Minutes(30));
}

TEST_F(AlertEngineTest, ARestartNeitherLosesDuplicatesNorRefires) {
  Send("sync01", {SettingsEvent(500), SnapshotEvent(600, kT0)});
  ASSERT_THAT(Firing(), SizeIs(1));
  const std::string fingerprint = Firing()[0].fingerprint();
  Close();
  clock_.Advance(absl::Minutes(5));
  Open();
  SYNCWATCH_ASSERT_OK(engine_->EvaluateAll());
  EXPECT_EQ(engine_->stats().fired.load(), 0u);
  const auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].fingerprint(), fingerprint);
  EXPECT_EQ(FromProtoTimestamp(firing[0].started_at()), kT0);
  EXPECT_EQ(Outbox(), 1u);  // the one undelivered notification, kept, not doubled
}

TEST_F(AlertEngineTest, AgentSilenceFiresOnTheTimerAndResolvesOnASignOfLife) {
  Send("sync01", {Heartbeat()});
  clock_.Advance(absl::Minutes(15));
  SYNCWATCH_ASSERT_OK(engine_->EvaluateAll());
  EXPECT_THAT(Firing(), IsEmpty());
  clock_.Advance(absl::Minutes(1));
  SYNCWATCH_ASSERT_OK(engine_->EvaluateAll());
  EXPECT_THAT(FiringNames(), ElementsAre("AgentSilent"));
  Send("sync01", {});  // a reconnect: Hello only
  EXPECT_THAT(Firing(), IsEmpty());
}

TEST_F(AlertEngineTest, TheThresholdOfAPeerInTheTenantApplies) {
  Send("sync02", {SettingsEvent(100, /*staging=*/true)});
  Send("sync01", {SnapshotEvent(150, kT0)});
  const auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].name(), "PendingDeletesOverThreshold");
  EXPECT_EQ(firing[0].server(), "sync01");
  EXPECT_THAT(firing[0].annotations().at("threshold_source"), HasSubstr("sync02"));
}

TEST_F(AlertEngineTest, StagingServersAreLabelledAsSuch) {
  Send("sync02", {SettingsEvent(500, /*staging=*/true), SnapshotEvent(450, kT0)});
  const auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].name(), "PendingDeletesNearThreshold");
  EXPECT_EQ(firing[0].labels().at("role"), "staging");
}

TEST_F(AlertEngineTest, ExportErrorsClearAfterACleanExportRun) {
  std::vector<v1::Event> errors;
  for (int i = 0; i < 51; ++i) {
    errors.push_back(
        ErrorEvent(absl::StrCat("CN={", i, "}"), "LargeObject", kT0 - absl::Minutes(10)));
  }
  Send("sync01", errors);
  EXPECT_THAT(FiringNames(), ElementsAre("ExportErrorsHigh"));
  Send("sync01", {RunEvent("run-1", kAad, "Export", "success", kT0)});
  EXPECT_THAT(Firing(), IsEmpty());
}

TEST_F(AlertEngineTest, StoppedRunsFireUntilALaterRunOfTheKindSucceeds) {
  Send("sync01", {RunEvent("run-1", "contoso.com", "Delta Import", "stopped-connectivity", kT0),
                  RunEvent("run-2", "contoso.com", "Delta Synchronization", "success",
                           kT0 + absl::Minutes(1))});
  auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].name(), "SyncRunStopped");
  EXPECT_EQ(firing[0].labels().at("result"), "stopped-connectivity");
  Send("sync01",
       {RunEvent("run-3", "contoso.com", "Full Import", "success", kT0 + absl::Minutes(30))});
  EXPECT_THAT(Firing(), IsEmpty());

  Send("sync01", {RunEvent("run-4", kAad, "Export", "stopped-deletion-threshold-exceeded",
                           kT0 + absl::Minutes(31))});
  EXPECT_THAT(FiringNames(), ElementsAre("DeletionThresholdStoppedExport"));
}

TEST_F(AlertEngineTest, SyncCycleOverdueFiresOnTheTimer) {
  Send("sync01", {RunEvent("run-1", "contoso.com", "Delta Import", "success", kT0)});
  clock_.Advance(absl::Minutes(90));
  Send("sync01", {Heartbeat()});  // the agent is alive, the scheduler is not
  SYNCWATCH_ASSERT_OK(engine_->EvaluateAll());
  EXPECT_THAT(Firing(), IsEmpty());
  clock_.Advance(absl::Minutes(1));
  Send("sync01", {Heartbeat()});
  SYNCWATCH_ASSERT_OK(engine_->EvaluateAll());
  EXPECT_THAT(FiringNames(), ElementsAre("SyncCycleOverdue"));
}

TEST_F(AlertEngineTest, SurgeComparesWithTheStoredHistory) {
  for (int i = 0; i < 6; ++i) {
    Send("sync01", {SnapshotEvent(2, kT0 + absl::Minutes(30 * i), "contoso.com")});
    clock_.Advance(absl::Minutes(30));
  }
  EXPECT_THAT(Firing(), IsEmpty());
  Send("sync01", {SnapshotEvent(80, kT0 + absl::Minutes(180), "contoso.com")});
  const auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].name(), "PendingDeletesSurge");
  EXPECT_THAT(firing[0].summary(), HasSubstr("usual 2 (median of the last 6 snapshots)"));
}

TEST_F(AlertEngineTest, UniquenessIsJudgedAcrossTheServersOfATenant) {
  Send("sync01", {ErrorEvent("CN=A", "AttributeValueMustBeUnique", kT0, "UserPrincipalName",
                             "jane@contoso.com")});
  auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].scope(), "tenant/contoso.onmicrosoft.com");
  Send("sync02", {ErrorEvent("CN=B", "AttributeValueMustBeUnique", kT0, "userPrincipalName",
                             "Jane@Contoso.com")});
  firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_THAT(firing[0].summary(), HasSubstr("claimed by 2 objects in contoso.onmicrosoft.com"));
  // Another tenant's identical value is not a conflict.
  Send("sync09",
       {ErrorEvent("CN=C", "AttributeValueMustBeUnique", kT0, "UserPrincipalName",
                   "jane@contoso.com")},
       "fabrikam.onmicrosoft.com");
  EXPECT_THAT(Firing(), SizeIs(2));
}

TEST_F(AlertEngineTest, AFullQueueFallsBackToEvaluatingEverything) {
  Close();
  Open(/*max_pending=*/1);
  Send("sync01", {SettingsEvent(10)});
  Send("sync02", {SettingsEvent(10)});
  // Both servers have deletes over their threshold; the queue overflows.
  auto agent = [](const std::string& server) {
    auto a = std::make_shared<AgentContext>();
    a->hello.set_agent_id(server);
    a->hello.set_server(server);
    a->hello.set_tenant(kTenant);
    a->hello.set_role(v1::SERVER_ROLE_ACTIVE);
    a->hello.set_spool_epoch("epoch");
    return a;
  };
  for (const char* server : {"sync01", "sync02"}) {
    auto batch = std::make_unique<v1::EventBatch>();
    batch->set_seq(++seq_[server]);
    v1::Event e = SnapshotEvent(20, kT0);
    *e.mutable_observed_at() = ToProtoTimestamp(kT0);
    *batch->add_events() = e;
    std::promise<absl::Status> done;
    writer_->Submit(agent(server), std::move(batch),
                    [&done](absl::Status s, bool) { done.set_value(s); });
    SYNCWATCH_ASSERT_OK(done.get_future().get());
  }
  SYNCWATCH_ASSERT_OK(engine_->EvaluatePending());
  EXPECT_THAT(FiringNames(),
              ElementsAre("PendingDeletesOverThreshold", "PendingDeletesOverThreshold"));
}

TEST_F(AlertEngineTest, AFullPassEvaluatesChangesQueuedMeanwhileFirst) {
  for (const char* tenant : {"alpha.example", "beta.example", "gamma.example"}) {
    Send(absl::StrCat("sync-", tenant), {SettingsEvent(500), SnapshotEvent(0, kT0)}, tenant);
  }
  ASSERT_THAT(Firing(), IsEmpty());
  // Committed while a full pass is due (here: before it starts); the pass
  // takes the queued change up before its first tenant.
  Commit("sync-beta.example", {SnapshotEvent(900, kT0 + absl::Minutes(1))}, "beta.example");
  const uint64_t before = engine_->stats().evaluations.load();
  SYNCWATCH_ASSERT_OK(engine_->EvaluateAll());
  EXPECT_EQ(engine_->stats().evaluations.load(), before + 2);  // the pass and the change
  EXPECT_THAT(FiringNames(), ElementsAre("PendingDeletesOverThreshold"));
  EXPECT_EQ(engine_->stats().fired.load(), 1u);
  // Nothing is left queued for after the pass.
  SYNCWATCH_ASSERT_OK(engine_->EvaluatePending());
  EXPECT_EQ(engine_->stats().evaluations.load(), before + 2);
}

TEST(ChangesWaitTest, WaitsCoalesceAfterQuickEvaluationsAndLongerAfterSlowOnes) {
  const absl::Duration coalesce = absl::Milliseconds(100);
  const absl::Duration max_wait = absl::Milliseconds(500);
  // Quick: the coalescing wait.
  EXPECT_EQ(ChangesWait(coalesce, max_wait, absl::Milliseconds(1), 0.05), coalesce);
  // Slow: evaluating takes 5 % of the time (10 ms, then 190 ms of waiting).
  EXPECT_EQ(ChangesWait(coalesce, max_wait, absl::Milliseconds(10), 0.05), absl::Milliseconds(190));
  EXPECT_EQ(ChangesWait(coalesce, max_wait, absl::Milliseconds(40), 0.2), absl::Milliseconds(160));
  // Very slow: no longer than max_wait.
  EXPECT_EQ(ChangesWait(coalesce, max_wait, absl::Milliseconds(200), 0.05), max_wait);
  // A share of 1, or a max_wait below coalesce: the coalescing wait.
  EXPECT_EQ(ChangesWait(coalesce, max_wait, absl::Seconds(3), 1.0), coalesce);
  EXPECT_EQ(ChangesWait(coalesce, absl::Milliseconds(50), absl::Seconds(3), 0.05), coalesce);
}

TEST_F(AlertEngineTest, RefusesAChangesShareOutsideZeroToOne) {
  for (double share : {0.0, -0.5, 1.5, std::nan("")}) {
    AlertEngine::Options engine_options;
    engine_options.start_threads = false;
    engine_options.changes_share = share;
    auto engine = AlertEngine::Create(*store_, clock_, options_, engine_options);
    EXPECT_THAT(engine.status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("changes_share")))
        << share;
  }
}

TEST_F(AlertEngineTest, TheEvaluatorThreadEvaluatesManyCommitsTogether) {
  Close();
  AlertEngine::Options engine_options;
  engine_options.idle_poll = absl::Milliseconds(10);
  engine_options.coalesce = absl::Milliseconds(500);
  Open(engine_options);
  // The thread's first full pass (the fake clock never moves, so its last).
  for (int i = 0; i < 500 && engine_->stats().evaluations.load() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(engine_->stats().evaluations.load(), 1u);

  // 20 commits 10 ms apart, each a change to evaluate; the last crosses the
  // threshold. One evaluation each would be 20.
  Commit("sync01", {SettingsEvent(500)});
  for (int i = 1; i < 20; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    Commit("sync01", {SnapshotEvent(i == 19 ? 600 : i, kT0 + absl::Minutes(i))});
  }
  for (int i = 0; i < 1000 && Firing().empty(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_THAT(FiringNames(), Contains("PendingDeletesOverThreshold"));
  const uint64_t change_evaluations = engine_->stats().evaluations.load() - 1;
  EXPECT_GE(change_evaluations, 1u);
  EXPECT_LE(change_evaluations, 5u);
}

TEST_F(AlertEngineTest, ListAlertsFiltersAndPages) {
  Send("sync01", {SettingsEvent(10), SnapshotEvent(20, kT0)});
  Send("sync02", {SettingsEvent(10), SnapshotEvent(20, kT0)});
  clock_.Advance(absl::Minutes(1));
  Send("sync02", {SnapshotEvent(0, kT0 + absl::Minutes(1))});  // resolves sync02's
  QueryService query(*store_, clock_, {});
  auto list = [&](v1::AlertState state, const std::string& server, int page_size) {
    std::vector<v1::Alert> out;
    v1::ListAlertsRequest request;
    request.set_state(state);
    request.mutable_filter()->set_server(server);
    request.set_page_size(page_size);
    do {
      grpc::ServerContext context;
      v1::ListAlertsResponse response;
      grpc::Status s = query.ListAlerts(&context, &request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      out.insert(out.end(), response.alerts().begin(), response.alerts().end());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return out;
  };
  EXPECT_THAT(list(v1::ALERT_STATE_UNSPECIFIED, "", 1), SizeIs(2));
  const auto firing = list(v1::ALERT_STATE_FIRING, "", 1);
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].server(), "sync01");
  const auto resolved = list(v1::ALERT_STATE_RESOLVED, "", 10);
  ASSERT_THAT(resolved, SizeIs(1));
  EXPECT_EQ(resolved[0].server(), "sync02");
  EXPECT_THAT(list(v1::ALERT_STATE_UNSPECIFIED, "sync02", 10), SizeIs(1));
  EXPECT_THAT(list(v1::ALERT_STATE_UNSPECIFIED, "sync03", 10), IsEmpty());
}

// ---- the collector as a whole, with its threads ----

// Sends `events` as one batch over the Ingest API, as an agent does.
void Ingest(int port, const std::string& server, uint64_t seq, std::vector<v1::Event> events) {
  auto stub = v1::Ingest::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto stream = stub->StreamEvents(&context);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_agent_id(server);
  hello.mutable_hello()->set_server(server);
  hello.mutable_hello()->set_tenant(kTenant);
  hello.mutable_hello()->set_role(v1::SERVER_ROLE_ACTIVE);
  hello.mutable_hello()->set_spool_epoch("epoch-1");
  ASSERT_TRUE(stream->Write(hello));
  v1::CollectorMessage reply;
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(reply.has_welcome());
  v1::AgentMessage batch;
  batch.mutable_batch()->set_seq(seq);
  for (v1::Event& e : events) {
    *e.mutable_observed_at() = ToProtoTimestamp(absl::Now());
    *batch.mutable_batch()->add_events() = std::move(e);
  }
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(reply.has_ack()) << reply.DebugString();
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(CollectorAlerts, AWebhookThatIsDownForAWhileGetsEveryNotification) {
  testing::TempDir dir;
  const int hook_port = testing::PickFreePort();
  CollectorOptions options;
  options.data_dir = dir.Sub("collector");
  options.listen = "127.0.0.1:0";
  options.http_listen = "";
  options.sync_writes = false;
  options.alerts.notifiers.webhooks = {
      {absl::StrCat("http://127.0.0.1:", hook_port, "/hook"), WebhookFormat::kSlack}};
  options.alerts.notifiers.initial_backoff = absl::Milliseconds(50);
  options.alerts.notifiers.max_backoff = absl::Milliseconds(200);
  auto collector = CollectorServer::Start(options, RealClock::Get());
  ASSERT_TRUE(collector.ok()) << collector.status();
  const int port = (*collector)->port();

  const absl::Time now = absl::Now();
  auto& engine = (*collector)->alert_engine();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  Ingest(port, "sync01", 1, {SettingsEvent(500), SnapshotEvent(501, now)});
  while (engine.stats().fired.load() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(engine.stats().fired.load(), 1u);
  Ingest(port, "sync01", 2, {SnapshotEvent(10, now + absl::Seconds(1))});
  // Fired and resolved while the webhook is down: both wait in the outbox.
  while (engine.stats().resolved.load() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(engine.stats().resolved.load(), 1u);
  const auto& deliverer = *engine.deliverers().at(0);
  while (deliverer.stats().failed_sends.load() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(deliverer.stats().failed_sends.load(), 2u);

  TestReceiver hook(hook_port);
  ASSERT_TRUE(hook.Start());
  ASSERT_TRUE(hook.WaitForRequests(2, absl::Seconds(60)));
  const auto requests = hook.requests();
  ASSERT_THAT(requests, SizeIs(2));
  const std::string first = nlohmann::json::parse(requests[0].body)["text"];
  const std::string second = nlohmann::json::parse(requests[1].body)["text"];
  EXPECT_THAT(first, HasSubstr("[FIRING] critical *PendingDeletesOverThreshold*"));
  EXPECT_THAT(first, HasSubstr("501 pending deletes on sync01"));
  EXPECT_THAT(second, HasSubstr("[RESOLVED] *PendingDeletesOverThreshold*"));
  while (deliverer.stats().delivered.load() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string metrics = (*collector)->RenderMetrics();
  const std::string receiver = absl::StrCat("{receiver=\"", deliverer.receiver().id(), "\"}");
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("\nsyncwatch_alert_notifications_delivered_total",
                                              receiver, " 2\n")));
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat("\nsyncwatch_alert_outbox_notifications", receiver, " 0\n")));
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat("\nsyncwatch_alert_delivery_failures_total", receiver, " ")));
  EXPECT_THAT(metrics, HasSubstr("\nsyncwatch_alerts_fired_total 1\n"));
  (*collector)->Shutdown();
  EXPECT_THAT(hook.requests(), SizeIs(2));  // nothing twice
}

// Issue 18: the causes of pending deletes, from configurations and run
// history stored by the real writer, named by the deletion alert.
namespace sample = ::syncwatch::collector::config::testing;

constexpr int64_t kT0Seconds = 1714550400;

v1::Event ConfigurationEvent(v1::ServerConfiguration config, int64_t taken_at,
                             const std::string& digest) {
  v1::Event e;
  config.mutable_taken_at()->set_seconds(taken_at);
  config.set_digest(digest);
  *e.mutable_configuration() = std::move(config);
  return e;
}

v1::Event RunOf(v1::RunProfileResult run) {
  v1::Event e;
  *e.mutable_run() = std::move(run);
  return e;
}

class DeleteCauseAlertTest : public AlertEngineTest {
 protected:
  // sync01 with the sample configuration and a successful export to Entra ID
  // at 06:30; then `edited` (at 07:00, when set), `runs` and 700 pending
  // deletes at 08:00. Returns the causes' kinds of the one deletion alert.
  std::vector<std::string> CausesAfter(const std::optional<v1::ServerConfiguration>& edited,
                                       std::vector<v1::RunProfileResult> runs) {
    v1::RunProfileResult export_run =
        sample::OneStepRun(sample::kAad, kT0Seconds - 5400, "Export", "export");
    Send("sync01",
         {SettingsEvent(500),
          ConfigurationEvent(sample::SampleConfiguration("sync01"), kT0Seconds - 7200, "original"),
          RunOf(export_run)});
    std::vector<v1::Event> events;
    if (edited) events.push_back(ConfigurationEvent(*edited, kT0Seconds - 3600, "edited"));
    for (auto& run : runs) events.push_back(RunOf(std::move(run)));
    v1::Event snapshot = SnapshotEvent(700, kT0);
    for (auto& o : *snapshot.mutable_pending_exports()->mutable_deletes()) {
      o.set_dn(absl::StrCat(o.dn(), ",OU=Sales,OU=CORP,DC=contoso,DC=com"));
    }
    events.push_back(std::move(snapshot));
    Send("sync01", std::move(events));
    const auto firing = Firing();
    EXPECT_THAT(firing, SizeIs(1));
    if (firing.size() != 1) return {};
    const v1::Alert& alert = firing[0];
    EXPECT_EQ(alert.name(), "PendingDeletesOverThreshold");
    std::vector<std::string> kinds;
    for (const v1::DeleteCause& c : alert.causes()) kinds.push_back(c.kind());
    if (!alert.causes().empty()) {
      EXPECT_THAT(alert.summary(),
                  HasSubstr(absl::StrCat("; probable cause: ", alert.causes(0).summary())));
      EXPECT_THAT(alert.annotations().at("description"), HasSubstr("Probable causes:"));
    }
    return kinds;
  }

  static v1::ServerConfiguration Sample() { return sample::SampleConfiguration("sync01"); }
};

TEST_F(DeleteCauseAlertTest, OuUnselectedInFiltering) {
  v1::ServerConfiguration edited = Sample();
  edited.mutable_connectors(1)->mutable_partitions(0)->add_exclusions(
      "OU=Sales,OU=CORP,DC=contoso,DC=com");
  // The full import after the change reads the OU's objects, filters them
  // out and stages their deletion; the sync deprovisions them.
  const auto kinds = CausesAfter(
      edited, {sample::ImportRun(sample::kAd, kT0Seconds - 2400, "full-import", 700, 700),
               sample::SyncRun(sample::kAd, kT0Seconds - 2100, sample::kAad, {0, 0, 700, 700})});
  EXPECT_THAT(kinds, ElementsAre("ou-unselected", "ou-renamed"));
  const v1::Alert alert = Firing().at(0);
  EXPECT_THAT(alert.summary(),
              HasSubstr("probable cause: OU=Sales,OU=CORP,DC=contoso,DC=com excluded from "
                        "contoso.com's OU filtering at 2024-05-01 07:00 UTC"));
  EXPECT_THAT(alert.causes(0).evidence(),
              Contains("pending deletes under OU=Sales,OU=CORP,DC=contoso,DC=com: 5"));
}

TEST_F(DeleteCauseAlertTest, AllObjectsOfAnOuDeleted) {
  EXPECT_THAT(
      CausesAfter(
          std::nullopt,
          {sample::ImportRun(sample::kAd, kT0Seconds - 2400, "delta-import", 700, 0),
           sample::SyncRun(sample::kAd, kT0Seconds - 2100, sample::kAad, {0, 0, 700, 700})}),
      ElementsAre("ou-objects-deleted"));
}

TEST_F(DeleteCauseAlertTest, OuRenamedOutOfScope) {
  EXPECT_THAT(
      CausesAfter(
          std::nullopt,
          {sample::ImportRun(sample::kAd, kT0Seconds - 2400, "delta-import", 700, 700),
           sample::SyncRun(sample::kAd, kT0Seconds - 2100, sample::kAad, {0, 0, 700, 700})}),
      ElementsAre("ou-renamed"));
}

TEST_F(DeleteCauseAlertTest, ScopingFilterChanged) {
  v1::ServerConfiguration edited = Sample();
  sample::FindRule(&edited, sample::kUserJoin)
      ->set_scoping_filter("(isCriticalSystemObject NOTEQUAL 'TRUE' AND department EQUAL 'IT')");
  EXPECT_THAT(
      CausesAfter(edited, {sample::ImportRun(sample::kAd, kT0Seconds - 2400, "delta-import", 0, 0),
                           sample::SyncRun(sample::kAd, kT0Seconds - 2100, sample::kAad,
                                           {700, 0, 0, 700})}),
      ElementsAre("scoping-filter-changed", "rule-scope-left"));
}

TEST_F(DeleteCauseAlertTest, ProvisioningRuleDisabled) {
  v1::ServerConfiguration edited = Sample();
  sample::FindRule(&edited, sample::kUserJoin)->set_disabled(true);
  EXPECT_THAT(CausesAfter(edited, {sample::SyncRun(sample::kAd, kT0Seconds - 2100, sample::kAad,
                                                   {700, 0, 0, 700})}),
              ElementsAre("provisioning-rule-disabled", "rule-scope-left"));
}

TEST_F(DeleteCauseAlertTest, LinkTypeChangedFromProvisionToJoin) {
  v1::ServerConfiguration edited = Sample();
  sample::FindRule(&edited, sample::kOutUserJoin)->set_link_type("Join");
  // An outbound rule: the sync deprovisions the Entra ID objects, nothing
  // leaves the metaverse.
  EXPECT_THAT(CausesAfter(edited, {sample::SyncRun(sample::kAd, kT0Seconds - 2100, sample::kAad,
                                                   {0, 0, 0, 700})}),
              ElementsAre("link-type-join"));
}

TEST_F(DeleteCauseAlertTest, ChangesBeforeTheLastExportAreNotCauses) {
  v1::ServerConfiguration edited = Sample();
  sample::FindRule(&edited, sample::kUserJoin)->set_disabled(true);
  Send("sync01", {SettingsEvent(500), ConfigurationEvent(Sample(), kT0Seconds - 9000, "original"),
                  ConfigurationEvent(edited, kT0Seconds - 8000, "edited")});
  // Exported after the change: what the change did is gone already.
  EXPECT_THAT(CausesAfter(std::nullopt, {sample::SyncRun(sample::kAd, kT0Seconds - 2100,
                                                         sample::kAad, {700, 0, 0, 700})}),
              ElementsAre("rule-scope-left"));
}

TEST_F(DeleteCauseAlertTest, StagingDriftFiresAndResolves) {
  Send("sync01", {SettingsEvent(500), ConfigurationEvent(Sample(), kT0Seconds, "a")});
  v1::ServerConfiguration staging = sample::SampleConfiguration("sync02");
  sample::FindRule(&staging, sample::kOutUserJoin)->set_disabled(true);
  Send("sync02",
       {SettingsEvent(500, /*staging=*/true), ConfigurationEvent(staging, kT0Seconds, "b")});
  auto firing = Firing();
  ASSERT_THAT(firing, SizeIs(1));
  EXPECT_EQ(firing[0].name(), "StagingConfigurationDrift");
  EXPECT_EQ(firing[0].server(), "sync02");
  EXPECT_EQ(firing[0].severity(), "warning");
  EXPECT_THAT(firing[0].summary(),
              HasSubstr("differs from active server sync01's in 1 place: sync02 differs from "
                        "sync01: sync rule 'Out to AAD - User Join'"));
  // Same rules under sync02's own GUIDs: they match again.
  Send("sync02", {ConfigurationEvent(sample::SampleConfiguration("sync02"), kT0Seconds + 60, "c")});
  EXPECT_THAT(Firing(), IsEmpty());
}

}  // namespace
}  // namespace syncwatch::collector::alerts
