// The fleet view through the real writer and store: what ingest keeps in the
// server records, and what FleetSummary, GetServer and ListServers make of it.
#include "collector/api/query_service.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>

#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collector/alerts/alert_store.h"
#include "collector/storage/record_keys.h"
#include "collector/storage/server_cache.h"
#include "collector/storage/storage_writer.h"
#include "collector/storage/store.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/grpc_server.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::FakeClock;
using ::syncwatch::testing::StatusIs;
using ::syncwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1760000000);

class FleetQueryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto writer = StorageWriter::Create(*store_, clock_, StorageWriter::Options());
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = *std::move(writer);
    auto alerts = alerts::AlertStore::Open(*store_, {});
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    alerts_ = *std::move(alerts);
    QueryService::Options options;
    options.alerts = alerts_.get();
    query_ = std::make_unique<QueryService>(*store_, clock_, std::move(options));
  }

  void Reopen() {
    query_.reset();
    alerts_.reset();
    writer_.reset();
    store_.reset();
    Open();
  }

  // Sends `events` as the next batch of `server`'s agent and waits until stored.
  void Send(const std::string& server, const std::string& tenant, std::vector<v1::Event> events,
            v1::ServerRole role = v1::SERVER_ROLE_ACTIVE) {
    auto agent = std::make_shared<AgentContext>();
    agent->hello.set_agent_id("agent-" + server);
    agent->hello.set_server(server);
    agent->hello.set_tenant(tenant);
    agent->hello.set_role(role);
    agent->hello.set_spool_epoch("e1");
    auto batch = std::make_unique<v1::EventBatch>();
    batch->set_seq(++seq_[server]);
    for (auto& e : events) *batch->add_events() = std::move(e);
    std::promise<absl::Status> done;
    writer_->Submit(std::move(agent), std::move(batch),
                    [&done](absl::Status s, bool) { done.set_value(std::move(s)); });
    SYNCWATCH_ASSERT_OK(done.get_future().get());
  }

  static v1::Event RunEvent(const std::string& connector, const std::string& profile,
                            int64_t number, absl::Duration start, const std::string& result) {
    v1::Event e;
    v1::RunProfileResult* r = e.mutable_run();
    r->set_run_history_id(absl::StrCat(connector, "-", number));
    r->set_connector_name(connector);
    r->set_run_profile_name(profile);
    r->set_run_number(number);
    r->set_result(result);
    r->set_is_run_complete(true);
    *r->mutable_start_time() = ToProtoTimestamp(kT0 + start);
    *r->mutable_end_time() = ToProtoTimestamp(kT0 + start + absl::Minutes(1));
    return e;
  }

  static v1::Event SnapshotEvent(const std::string& connector, absl::Duration taken,
                                 int64_t deletes) {
    v1::Event e;
    v1::PendingExportSnapshot* s = e.mutable_pending_exports();
    s->set_connector_name(connector);
    *s->mutable_taken_at() = ToProtoTimestamp(kT0 + taken);
    s->set_pending_deletes(deletes);
    for (int64_t i = 0; i < deletes && i < 3; ++i) {
      s->add_deletes()->set_dn(absl::StrCat("CN=user", i, ",OU=Staff,DC=contoso,DC=com"));
    }
    return e;
  }

  static v1::Event ThresholdEvent(int64_t value) {
    v1::Event e;
    e.mutable_settings()->set_deletion_threshold_known(true);
    e.mutable_settings()->set_deletion_threshold_enabled(true);
    e.mutable_settings()->set_deletion_threshold(value);
    return e;
  }

  static v1::Event ErrorEvent(const std::string& dn) {
    v1::Event e;
    v1::ExportError* x = e.mutable_export_error();
    x->set_connector_name("aad");
    x->set_dn(dn);
    x->set_error_type("AttributeValueMustBeUnique");
    *x->mutable_date_occurred() = ToProtoTimestamp(kT0);
    return e;
  }

  void Fire(const std::string& server, const std::string& name, const std::string& severity) {
    v1::Alert a;
    a.set_fingerprint(absl::StrCat(server, name));
    a.set_name(name);
    a.set_severity(severity);
    a.set_server(server);
    a.set_tenant("contoso.onmicrosoft.com");
    a.set_summary(absl::StrCat(name, " on ", server));
    auto changes = alerts_->Reconcile("server/" + server, {name}, {a}, clock_.Now());
    ASSERT_TRUE(changes.ok()) << changes.status();
  }

  v1::FleetSummaryResponse Fleet(const std::string& tenant = "") {
    v1::FleetSummaryRequest request;
    request.mutable_filter()->set_tenant(tenant);
    auto fleet = query_->FleetSummary(request);
    EXPECT_TRUE(fleet.ok()) << fleet.status();
    return fleet.ok() ? *fleet : v1::FleetSummaryResponse();
  }

  TempDir dir_;
  FakeClock clock_{kT0 + absl::Hours(1)};
  std::unique_ptr<Store> store_;
  std::unique_ptr<StorageWriter> writer_;
  std::unique_ptr<alerts::AlertStore> alerts_;
  std::unique_ptr<QueryService> query_;
  std::map<std::string, uint64_t> seq_;
};

const char kContoso[] = "contoso.onmicrosoft.com";

TEST_F(FleetQueryTest, SummaryCountsServersByHealthWorstFirst) {
  // sync01: healthy; its agent reports the tenant's threshold (300).
  Send("sync01", kContoso,
       {ThresholdEvent(300), RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "success"),
        SnapshotEvent("contoso.com", absl::Minutes(2), 20)});
  // sync02 (staging, same tenant): 301 deletes exceed the peer's threshold.
  Send("sync02", kContoso,
       {RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "success"),
        SnapshotEvent("contoso.com", absl::Minutes(2), 301)},
       v1::SERVER_ROLE_STAGING);
  // sync03: a warning alert is open.
  Send("sync03", kContoso, {RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "success")});
  Fire("sync03", "SyncCycleOverdue", "warning");
  // sync04: only a Hello so far.
  Send("sync04", "fabrikam.onmicrosoft.com", {});

  const v1::FleetSummaryResponse fleet = Fleet();
  EXPECT_EQ(fleet.servers(), 4);
  EXPECT_EQ(fleet.tenants(), 2);
  EXPECT_EQ(fleet.active_servers(), 3);
  EXPECT_EQ(fleet.staging_servers(), 1);
  EXPECT_EQ(fleet.ok(), 1);
  EXPECT_EQ(fleet.warning(), 1);
  EXPECT_EQ(fleet.critical(), 1);
  EXPECT_EQ(fleet.unknown(), 1);
  EXPECT_EQ(fleet.pending_deletes(), 321);
  EXPECT_EQ(fleet.open_alerts(), 1);
  EXPECT_EQ(fleet.open_critical_alerts(), 0);
  EXPECT_EQ(ToUnixMicrosOrZero(fleet.generated_at()), absl::ToUnixMicros(clock_.Now()));
  std::vector<std::string> order;
  for (const auto& s : fleet.server_list()) order.push_back(s.server());
  EXPECT_THAT(order, ElementsAre("sync02", "sync03", "sync04", "sync01"));
  const v1::ServerInfo& sync02 = fleet.server_list(0);
  EXPECT_EQ(sync02.health(), v1::HEALTH_CRITICAL);
  EXPECT_EQ(sync02.deletion_threshold(), 300) << "the tenant peer's report applies";
  EXPECT_EQ(sync02.pending_deletes(), 301);
  EXPECT_EQ(sync02.role(), v1::SERVER_ROLE_STAGING);
  EXPECT_EQ(fleet.server_list(1).open_alerts(), 1);
  EXPECT_THAT(fleet.server_list(1).health_reasons(), ElementsAre("SyncCycleOverdue on sync03"));
  EXPECT_EQ(fleet.server_list(3).last_run_result(), "success");
  EXPECT_EQ(ToUnixMicrosOrZero(fleet.server_list(3).last_successful_cycle()),
            absl::ToUnixMicros(kT0 + absl::Minutes(1)));

  const v1::FleetSummaryResponse fabrikam = Fleet("fabrikam.onmicrosoft.com");
  EXPECT_EQ(fabrikam.servers(), 1);
  EXPECT_EQ(fabrikam.open_alerts(), 0);
  EXPECT_EQ(fabrikam.server_list(0).health(), v1::HEALTH_UNKNOWN);
}

TEST_F(FleetQueryTest, ResolvedAlertsNoLongerCount) {
  Send("sync01", kContoso, {RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "success")});
  Fire("sync01", "SyncRunStopped", "critical");
  EXPECT_EQ(Fleet().critical(), 1);
  ASSERT_TRUE(alerts_->Reconcile("server/sync01", {"SyncRunStopped"}, {}, clock_.Now()).ok());
  EXPECT_EQ(Fleet().ok(), 1);
  EXPECT_EQ(Fleet().open_alerts(), 0);
  // The firing set is rebuilt from the store on restart.
  Fire("sync01", "SyncRunStopped", "critical");
  Reopen();
  EXPECT_EQ(Fleet().open_critical_alerts(), 1);
}

TEST_F(FleetQueryTest, StateIsKeptAcrossRestartsAndLaterEvents) {
  Send("sync01", kContoso,
       {RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "success"),
        SnapshotEvent("aad", absl::Minutes(1), 7)});
  Reopen();
  Send("sync01", kContoso, {RunEvent("aad", "Export", 1, absl::Minutes(10), "success")});
  EXPECT_EQ(Fleet().server_list(0).connectors_size(), 0) << "the fleet list leaves them out";
  v1::GetServerRequest request;
  request.set_server("sync01");
  auto detail = query_->GetServer(request);
  ASSERT_TRUE(detail.ok()) << detail.status();
  const v1::ServerInfo s = detail->server();
  ASSERT_EQ(s.connectors_size(), 2);
  EXPECT_EQ(s.connectors(0).connector(), "aad");
  EXPECT_EQ(s.connectors(0).pending_deletes(), 7);
  EXPECT_EQ(s.pending_deletes(), 7);
  EXPECT_EQ(ToUnixMicrosOrZero(s.last_successful_cycle()),
            absl::ToUnixMicros(kT0 + absl::Minutes(1)));
}

TEST_F(FleetQueryTest, TheServerCacheRereadsWhatACommitMarkedChanged) {
  ServerCache cache(*store_);
  QueryService::Options options;
  options.cache = &cache;
  QueryService cached(*store_, clock_, std::move(options));
  auto pending = [&cached]() -> int64_t {
    auto fleet = cached.FleetSummary(v1::FleetSummaryRequest());
    EXPECT_TRUE(fleet.ok()) << fleet.status();
    return fleet.ok() ? fleet->pending_deletes() : -1;
  };
  Send("sync01", kContoso, {SnapshotEvent("aad", absl::Minutes(1), 7)});
  EXPECT_EQ(pending(), 7);  // loaded from the store on first use
  Send("sync01", kContoso, {SnapshotEvent("aad", absl::Minutes(2), 9)});
  Send("sync02", kContoso, {SnapshotEvent("aad", absl::Minutes(2), 1)});
  EXPECT_EQ(pending(), 7) << "nothing marked: the cache answers from memory";
  cache.MarkChanged("sync01");
  cache.MarkChanged("sync02");
  EXPECT_EQ(pending(), 10);
}

TEST_F(FleetQueryTest, TheServerCacheReportsADamagedRecordAndForgetsADeletedOne) {
  ServerCache cache(*store_);
  Send("sync01", kContoso, {SnapshotEvent("aad", absl::Minutes(1), 7)});
  Send("sync02", kContoso, {SnapshotEvent("aad", absl::Minutes(1), 1)});
  auto all = cache.All();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);

  rocksdb::WriteBatch damage;
  damage.Put(store_->cf(Family::kServers), ServerKey("sync01"), "\xff\xff not a record");
  SYNCWATCH_ASSERT_OK(store_->Write(&damage));
  cache.MarkChanged("sync01");
  EXPECT_THAT(cache.All().status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ServerInfo does not parse")));

  rocksdb::WriteBatch removal;
  removal.Delete(store_->cf(Family::kServers), ServerKey("sync01"));
  SYNCWATCH_ASSERT_OK(store_->Write(&removal));
  cache.MarkChanged("sync01");
  all = cache.All();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0]->record.server(), "sync02");
}

TEST_F(FleetQueryTest, FleetSummaryRefusesFiltersThatDoNotApply) {
  v1::FleetSummaryRequest request;
  request.mutable_filter()->set_connector("aad");
  EXPECT_THAT(query_->FleetSummary(request).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The call's answer is assembled from bytes kept per server: each listed
// server must equal its judged record (GetServer's) without the connectors.
TEST_F(FleetQueryTest, FleetSummaryOverGrpcListsEachServerAsItsJudgedRecordWithoutConnectors) {
  Send("sync01", kContoso,
       {ThresholdEvent(300), RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "success"),
        SnapshotEvent("contoso.com", absl::Minutes(2), 20)});
  Send("sync02", kContoso,
       {RunEvent("contoso.com", "Export", 1, absl::Minutes(0), "stopped-server-down"),
        SnapshotEvent("contoso.com", absl::Minutes(2), 301)},
       v1::SERVER_ROLE_STAGING);
  Send("sync03", "fabrikam.onmicrosoft.com", {});
  Fire("sync02", "SyncRunStopped", "critical");
  Fire("sync02", "SyncCycleOverdue", "warning");

  auto server = testing::StartLocalGrpcServer({query_.get()});
  ASSERT_NE(server, nullptr);
  auto stub = v1::Query::NewStub(server->channel);
  grpc::ClientContext context;
  v1::FleetSummaryResponse fleet;
  const grpc::Status status = stub->FleetSummary(&context, v1::FleetSummaryRequest(), &fleet);
  ASSERT_TRUE(status.ok()) << status.error_message();

  auto direct = query_->FleetSummary(v1::FleetSummaryRequest());
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fleet, *direct));
  EXPECT_EQ(fleet.servers(), 3);
  EXPECT_EQ(fleet.open_alerts(), 2);
  ASSERT_EQ(fleet.server_list_size(), 3);
  for (const v1::ServerInfo& listed : fleet.server_list()) {
    v1::GetServerRequest request;
    request.set_server(listed.server());
    auto detail = query_->GetServer(request);
    ASSERT_TRUE(detail.ok()) << detail.status();
    v1::ServerInfo expected = detail->server();
    expected.clear_connectors();
    std::string diff;
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differ.Compare(listed, expected)) << listed.server() << ": " << diff;
  }
  EXPECT_EQ(fleet.server_list(0).server(), "sync02");
  EXPECT_EQ(fleet.server_list(0).health_reasons_size(), 3) << "two alerts, the threshold";

  grpc::ClientContext refused;
  v1::FleetSummaryRequest by_connector;
  by_connector.mutable_filter()->set_connector("aad");
  const grpc::Status bad_filter = stub->FleetSummary(&refused, by_connector, &fleet);
  EXPECT_EQ(bad_filter.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad_filter.error_message(), HasSubstr("only filter.server and filter.tenant"));

  // Bytes that are not a FleetSummaryRequest at all.
  grpc::GenericStub generic(server->channel);
  grpc::ClientContext raw_context;
  const std::string garbage = "\xff\xff\xff";
  grpc::Slice slice(garbage);
  const grpc::ByteBuffer garbage_request(&slice, 1);
  grpc::ByteBuffer raw_response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&raw_context, "/syncwatch.v1.Query/FleetSummary", grpc::StubOptions(),
                    &garbage_request, &raw_response,
                    [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status unparsable = done.get_future().get();
  EXPECT_EQ(unparsable.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unparsable.error_message(), HasSubstr("not a FleetSummaryRequest"));
}

TEST_F(FleetQueryTest, GetServerHasRecentRunsNewestFirstSnapshotsErrorsAndAlerts) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 10; ++i) {
    events.push_back(RunEvent(i % 2 ? "aad" : "contoso.com", "Export", i,
                              absl::Minutes(30 * i) - absl::Hours(24 * 10), "success"));
  }
  events.push_back(SnapshotEvent("contoso.com", absl::Minutes(0), 2));
  events.push_back(ErrorEvent("CN=a"));
  events.push_back(ErrorEvent("CN=b"));
  Send("sync01", kContoso, std::move(events));
  Fire("sync01", "ExportErrors", "warning");

  v1::GetServerRequest request;
  request.set_server("sync01");
  request.set_max_runs(3);
  request.set_max_errors(1);
  *request.mutable_runs_since() = ToProtoTimestamp(kT0 - absl::Hours(24 * 10));
  auto detail = query_->GetServer(request);
  ASSERT_TRUE(detail.ok()) << detail.status();
  EXPECT_EQ(detail->server().server(), "sync01");
  EXPECT_EQ(detail->server().health(), v1::HEALTH_WARNING);
  std::vector<int64_t> numbers;
  for (const auto& r : detail->runs()) numbers.push_back(r.run().run_number());
  EXPECT_THAT(numbers, ElementsAre(9, 8, 7));
  ASSERT_EQ(detail->pending_exports_size(), 1);
  EXPECT_EQ(detail->pending_exports(0).snapshot().deletes_size(), 2) << "objects are included";
  EXPECT_EQ(detail->export_errors_size(), 1);
  EXPECT_TRUE(detail->export_errors_truncated());
  ASSERT_EQ(detail->alerts_size(), 1);
  EXPECT_EQ(detail->alerts(0).name(), "ExportErrors");

  // By default only the last 7 days of runs: these are 10 days old.
  v1::GetServerRequest recent;
  recent.set_server("sync01");
  auto defaults = query_->GetServer(recent);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->runs_size(), 0);

  v1::GetServerRequest unknown;
  unknown.set_server("nosuch");
  EXPECT_THAT(query_->GetServer(unknown).status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FleetQueryTest, ListServersPagesByNameWithHealthFilledIn) {
  for (const char* s : {"sync03", "sync01", "sync02"}) {
    Send(s, kContoso, {SnapshotEvent("contoso.com", absl::Minutes(0), 600)});
  }
  std::vector<std::string> names;
  std::string token;
  do {
    v1::ListServersRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListServersResponse response;
    ASSERT_TRUE(query_->ListServers(nullptr, &request, &response).ok());
    for (const auto& s : response.servers()) {
      names.push_back(s.server());
      EXPECT_EQ(s.health(), v1::HEALTH_CRITICAL) << "600 exceed the default 500";
      EXPECT_EQ(s.deletion_threshold(), 500);
    }
    token = response.next_page_token();
  } while (!token.empty());
  EXPECT_THAT(names, ElementsAre("sync01", "sync02", "sync03"));
}

}  // namespace
}  // namespace syncwatch::collector
