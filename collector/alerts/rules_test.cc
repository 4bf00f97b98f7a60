#include "collector/alerts/rules.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/alerts/alert.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::collector::alerts {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;

constexpr char kAad[] = "contoso.onmicrosoft.com - AAD";
constexpr char kTenant[] = "contoso.onmicrosoft.com";

const absl::Time kNow = absl::FromUnixSeconds(1714550400);  // 2024-05-01T08:00:00Z

google::protobuf::Timestamp Ts(absl::Time t) { return ToProtoTimestamp(t); }

ServerFacts Server(const std::string& name = "sync01",
                   v1::ServerRole role = v1::SERVER_ROLE_ACTIVE) {
  ServerFacts f;
  f.info.set_server(name);
  f.info.set_tenant(kTenant);
  f.info.set_role(role);
  *f.info.mutable_last_seen() = Ts(kNow - absl::Minutes(1));
  f.tenant_group = kTenant;
  return f;
}

void SetThreshold(ServerFacts& f, int64_t value, bool enabled = true) {
  f.threshold.known = true;
  f.threshold.enabled = enabled;
  f.threshold.value = value;
  f.threshold.reported_by = f.info.server();
}

v1::PendingObject Object(int i) {
  v1::PendingObject o;
  o.set_dn(absl::StrCat("CN={", 1000 + i, "}"));
  o.set_user_principal_name(absl::StrCat("user", i, "@contoso.com"));
  o.set_object_type("user");
  return o;
}

ConnectorSnapshot& AddSnapshot(ServerFacts& f, int64_t deletes, const std::string& connector = kAad,
                               int listed = 3) {
  ConnectorSnapshot& c = f.snapshots.emplace_back();
  c.snapshot.set_snapshot_id(absl::StrCat("snap-", deletes));
  c.snapshot.set_connector_name(connector);
  *c.snapshot.mutable_taken_at() = Ts(kNow - absl::Minutes(5));
  c.snapshot.set_pending_deletes(deletes);
  for (int i = 0; i < listed && i < deletes; ++i) *c.snapshot.add_deletes() = Object(i);
  c.snapshot.set_deletes_truncated(deletes > listed);
  return c;
}

std::vector<v1::Alert> Data(const ServerFacts& f, const RuleSettings& s = RuleSettings()) {
  return ServerDataAlerts(f, s, kNow);
}

std::vector<std::string> Names(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> names;
  for (const v1::Alert& a : alerts) names.push_back(a.name());
  return names;
}

const v1::Alert* Find(const std::vector<v1::Alert>& alerts, absl::string_view name) {
  for (const v1::Alert& a : alerts) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

std::string Label(const v1::Alert& a, const std::string& name) {
  auto it = a.labels().find(name);
  return it == a.labels().end() ? "<none>" : it->second;
}

std::string Annotation(const v1::Alert& a, const std::string& name) {
  auto it = a.annotations().find(name);
  return it == a.annotations().end() ? "<none>" : it->second;
}

// ---- deletion threshold ----

TEST(DeletionThreshold, BelowTheWarningShareIsQuiet) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 399);  // 79.8% of 500
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(DeletionThreshold, WarnsAtTheShare) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 400);  // exactly 80%
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesNearThreshold"));
  const v1::Alert& a = alerts[0];
  EXPECT_EQ(a.severity(), "warning");
  EXPECT_THAT(a.summary(), HasSubstr("400 pending deletes"));
  EXPECT_THAT(a.summary(), HasSubstr("80% of the deletion threshold of 500"));
  EXPECT_EQ(Label(a, "deletion_threshold"), "enabled");
}

TEST(DeletionThreshold, ExactlyAtTheThresholdIsNotExceeded) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 500);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesNearThreshold"));
  EXPECT_EQ(alerts[0].severity(), "warning");
}

TEST(DeletionThreshold, OneAboveIsCriticalAndNamesCountThresholdAndObjects) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 501);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesOverThreshold"));
  const v1::Alert& a = alerts[0];
  EXPECT_EQ(a.severity(), "critical");
  EXPECT_THAT(a.summary(), AllOf(HasSubstr("501 pending deletes on sync01"),
                                 HasSubstr("exceed the deletion threshold of 500"),
                                 HasSubstr("will be stopped")));
  EXPECT_EQ(Annotation(a, "pending_deletes"), "501");
  EXPECT_EQ(Annotation(a, "deletion_threshold"), "500");
  const std::string description = Annotation(a, "description");
  EXPECT_THAT(description, HasSubstr("CN={1000} (user0@contoso.com"));
  EXPECT_THAT(description, HasSubstr("CN={1002} (user2@contoso.com"));
  EXPECT_THAT(description, HasSubstr("first 3 of 501"));
  EXPECT_THAT(description, HasSubstr("… and 498 more"));
  // The stable labels Alertmanager routes on.
  EXPECT_THAT(a.labels(),
              AllOf(Contains(Pair("alertname", "PendingDeletesOverThreshold")),
                    Contains(Pair("severity", "critical")), Contains(Pair("server", "sync01")),
                    Contains(Pair("tenant", kTenant)), Contains(Pair("connector", kAad)),
                    Contains(Pair("role", "active"))));
}

TEST(DeletionThreshold, SampleSizeLimitsTheListedObjects) {
  ServerFacts f = Server();
  SetThreshold(f, 5);
  AddSnapshot(f, 20, kAad, 20);
  RuleSettings s;
  s.sample_size = 2;
  const auto alerts = Data(f, s);
  const v1::Alert* a = Find(alerts, kPendingDeletesOverThreshold);
  ASSERT_NE(a, nullptr);
  EXPECT_THAT(Annotation(*a, "objects"), Not(HasSubstr("CN={1002}")));
  EXPECT_THAT(Annotation(*a, "description"), HasSubstr("… and 18 more"));
}

TEST(DeletionThreshold, UsesTheReportedThreshold) {
  ServerFacts f = Server();
  SetThreshold(f, 50);
  AddSnapshot(f, 51);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesOverThreshold"));
  EXPECT_THAT(alerts[0].summary(), HasSubstr("threshold of 50"));
}

TEST(DeletionThreshold, UnknownThresholdIsTheEnginesDefault500) {
  ServerFacts f = Server();
  AddSnapshot(f, 500);
  auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesNearThreshold"));
  EXPECT_THAT(Annotation(alerts[0], "threshold_source"), HasSubstr("default"));
  f.snapshots.clear();
  AddSnapshot(f, 501);
  EXPECT_THAT(Names(Data(f)), ElementsAre("PendingDeletesOverThreshold"));
}

TEST(DeletionThreshold, WarnShareIsConfigurable) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 300);
  RuleSettings s;
  EXPECT_THAT(Data(f, s), IsEmpty());
  s.warn_at_percent = 60;
  EXPECT_THAT(Names(Data(f, s)), ElementsAre("PendingDeletesNearThreshold"));
}

TEST(DeletionThreshold, DisabledThresholdSaysSoAndStillWarnsOnLargeDeletes) {
  ServerFacts f = Server();
  SetThreshold(f, 500, /*enabled=*/false);
  AddSnapshot(f, 2000);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesNearThreshold"));
  const v1::Alert& a = alerts[0];
  EXPECT_EQ(a.severity(), "warning");
  EXPECT_EQ(Label(a, "deletion_threshold"), "disabled");
  EXPECT_THAT(a.summary(), HasSubstr("deletion threshold is disabled"));
  EXPECT_THAT(Annotation(a, "deletion_threshold"), HasSubstr("disabled"));

  // Small deletes stay quiet even with the threshold off.
  f.snapshots.clear();
  AddSnapshot(f, 10);
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(DeletionThreshold, StagingServersAreEvaluatedAndLabelled) {
  ServerFacts f = Server("sync02", v1::SERVER_ROLE_STAGING);
  SetThreshold(f, 500);
  AddSnapshot(f, 700);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesOverThreshold"));
  EXPECT_EQ(Label(alerts[0], "role"), "staging");
  EXPECT_THAT(alerts[0].summary(), HasSubstr("staging server"));
}

TEST(DeletionThreshold, OnlyTheEntraConnectorIsComparedWithTheThreshold) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 900, "contoso.com");  // an AD connector
  EXPECT_THAT(Names(Data(f)), Not(Contains(HasSubstr("Threshold"))));

  // The Entra connector is also known by its fixed id, whatever its name.
  f.snapshots.clear();
  ConnectorSnapshot& c = AddSnapshot(f, 900, "Azure AD");
  c.snapshot.set_connector_id("{B891884F-051E-4A83-95AF-2544101C9083}");
  EXPECT_THAT(Names(Data(f)), Contains("PendingDeletesOverThreshold"));
}

TEST(DeletionThreshold, HugeCountsFromAnAgentDoNotOverflow) {
  ServerFacts f = Server();
  SetThreshold(f, std::numeric_limits<int64_t>::max());
  ConnectorSnapshot& c = AddSnapshot(f, std::numeric_limits<int64_t>::max(), kAad, 0);
  c.snapshot.set_connector_objects(std::numeric_limits<int64_t>::max());
  EXPECT_THAT(Names(Data(f)), ::testing::UnorderedElementsAre("PendingDeletesNearThreshold",
                                                              "PendingDeletesShareHigh"));
}

TEST(DeletionThreshold, DisabledRuleRaisesNothing) {
  ServerFacts f = Server();
  AddSnapshot(f, 900);
  RuleSettings s;
  s.deletion_threshold_enabled = false;
  EXPECT_THAT(Data(f, s), IsEmpty());
}

TEST(DeletionThreshold, RunStoppedByTheThresholdIsCritical) {
  ServerFacts f = Server();
  v1::RunProfileResult run;
  run.set_connector_name(kAad);
  run.set_run_profile_name("Export");
  run.set_run_number(4711);
  run.set_result("stopped-deletion-threshold-exceeded");
  run.set_is_run_complete(true);
  *run.mutable_start_time() = Ts(kNow - absl::Minutes(10));
  *run.mutable_end_time() = Ts(kNow - absl::Minutes(9));
  f.latest_runs[{kAad, "export"}] = run;
  f.activity[kAad].oldest_seen = kNow - absl::Minutes(10);
  f.activity[kAad].last_success = kNow - absl::Minutes(20);
  const auto alerts = Data(f);
  // Its own alert, not also the generic "run stopped" one.
  ASSERT_THAT(Names(alerts), ElementsAre("DeletionThresholdStoppedExport"));
  EXPECT_EQ(alerts[0].severity(), "critical");
  EXPECT_EQ(alerts[0].connector(), kAad);
  EXPECT_THAT(alerts[0].summary(), HasSubstr("stopped by the deletion threshold"));
}

// ---- share of objects, surge ----

TEST(PendingDeletesShare, FiresAtTheShareOfTheConnectorsObjects) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 10, "contoso.com");
  c.snapshot.set_connector_objects(100);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesShareHigh"));
  EXPECT_THAT(alerts[0].summary(), HasSubstr("10% of the connector's 100 objects"));
  c.snapshot.set_pending_deletes(9);
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(PendingDeletesShare, SmallCountsAndUnknownObjectCountsStayQuiet) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 5, "contoso.com");
  c.snapshot.set_connector_objects(20);  // 25%, but below min_deletes
  EXPECT_THAT(Data(f), IsEmpty());
  c.snapshot.set_pending_deletes(50);
  c.snapshot.set_connector_objects(0);  // not reported
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(PendingDeletesSurge, FiresAgainstTheUsualLevel) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 60, "contoso.com");
  c.previous_deletes = {2, 3, 2, 4, 3, 2};  // median 2.5
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("PendingDeletesSurge"));
  EXPECT_THAT(alerts[0].summary(), HasSubstr("against a usual 2.5"));
}

TEST(PendingDeletesSurge, NeedsHistoryMinimumAndAJump) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 60, "contoso.com");
  c.previous_deletes = {2, 3, 2};  // fewer than min_history
  EXPECT_THAT(Data(f), IsEmpty());
  c.previous_deletes = {20, 20, 20, 20, 20, 20};
  EXPECT_THAT(Data(f), IsEmpty());  // 60 is exactly 3x the usual: not above it
  c.snapshot.set_pending_deletes(61);
  EXPECT_THAT(Names(Data(f)), ElementsAre("PendingDeletesSurge"));
  c.previous_deletes = {0, 0, 0, 0, 0, 0};
  c.snapshot.set_pending_deletes(49);  // below min_deletes
  EXPECT_THAT(Data(f), IsEmpty());
}

// ---- sync health ----

v1::RunProfileResult MakeRun(const std::string& connector, const std::string& profile,
                             const std::string& result, absl::Time start) {
  v1::RunProfileResult run;
  run.set_connector_name(connector);
  run.set_run_profile_name(profile);
  run.set_run_number(7);
  run.set_result(result);
  run.set_is_run_complete(true);
  *run.mutable_start_time() = Ts(start);
  *run.mutable_end_time() = Ts(start + absl::Minutes(1));
  return run;
}

TEST(SyncRunStopped, TheLatestRunOfAKindEndedStopped) {
  ServerFacts f = Server();
  f.latest_runs[{"contoso.com", "import"}] =
      MakeRun("contoso.com", "Delta Import", "stopped-connectivity", kNow - absl::Minutes(5));
  f.latest_runs[{"contoso.com", "sync"}] =
      MakeRun("contoso.com", "Delta Synchronization", "success", kNow - absl::Minutes(4));
  f.activity["contoso.com"].last_success = kNow - absl::Minutes(3);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("SyncRunStopped"));
  EXPECT_EQ(alerts[0].severity(), "critical");
  EXPECT_EQ(Label(alerts[0], "result"), "stopped-connectivity");
  EXPECT_EQ(Label(alerts[0], "operation"), "import");
  EXPECT_EQ(alerts[0].connector(), "contoso.com");

  f.latest_runs[{"contoso.com", "import"}] =
      MakeRun("contoso.com", "Delta Import", "completed-warnings", kNow - absl::Minutes(2));
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(SyncRunStopped, NoStartIsNotStopped) {
  ServerFacts f = Server();
  f.latest_runs[{"contoso.com", "export"}] =
      MakeRun("contoso.com", "Export", "no-start-connection", kNow - absl::Minutes(5));
  f.activity["contoso.com"].last_success = kNow - absl::Minutes(6);
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(SyncCycleOverdue, FiresAfterTheMultipleOfTheInterval) {
  ServerFacts f = Server();
  f.activity["contoso.com"].last_success = kNow - absl::Minutes(90);  // exactly 3 x 30m
  f.activity["contoso.com"].oldest_seen = kNow - absl::Hours(5);
  EXPECT_THAT(Data(f), IsEmpty());
  f.activity["contoso.com"].last_success = kNow - absl::Minutes(91);
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("SyncCycleOverdue"));
  EXPECT_EQ(alerts[0].severity(), "warning");
  EXPECT_THAT(alerts[0].summary(), HasSubstr("since 2024-05-01T06:29:00.000Z"));
}

TEST(SyncCycleOverdue, UsesTheSchedulersIntervalAndTheConfiguredMultiple) {
  ServerFacts f = Server();
  *f.info.mutable_settings()->mutable_sync_cycle_interval() = ToProtoDuration(absl::Hours(1));
  f.activity["contoso.com"].last_success = kNow - absl::Minutes(150);
  EXPECT_THAT(Data(f), IsEmpty());  // 3 x 1h
  RuleSettings s;
  s.sync_overdue_multiple = 2;
  EXPECT_THAT(Names(Data(f, s)), ElementsAre("SyncCycleOverdue"));
}

TEST(SyncCycleOverdue, NoSuccessAtAllCountsFromTheOldestRun) {
  ServerFacts f = Server();
  f.activity["contoso.com"].oldest_seen = kNow - absl::Hours(4);
  EXPECT_THAT(Names(Data(f)), ElementsAre("SyncCycleOverdue"));
  // A server that reports no runs at all is not judged.
  f.activity.clear();
  EXPECT_THAT(Data(f), IsEmpty());
}

TEST(AgentSilent, FiresAfterTheConfiguredSilence) {
  ServerFacts f = Server();
  *f.info.mutable_last_seen() = Ts(kNow - absl::Minutes(15));
  RuleSettings s;
  EXPECT_THAT(ServerLivenessAlerts(f, s, kNow), IsEmpty());
  *f.info.mutable_last_seen() = Ts(kNow - absl::Minutes(16));
  const auto alerts = ServerLivenessAlerts(f, s, kNow);
  ASSERT_THAT(Names(alerts), ElementsAre("AgentSilent"));
  EXPECT_EQ(alerts[0].severity(), "critical");
  s.agent_silent_after = absl::Hours(1);
  EXPECT_THAT(ServerLivenessAlerts(f, s, kNow), IsEmpty());
}

TEST(AgentSilent, TimeTheCollectorWasAwayDoesNotCount) {
  ServerFacts f = Server();
  *f.info.mutable_last_seen() = Ts(kNow - absl::Hours(3));
  f.watching_since = kNow - absl::Minutes(2);  // the collector just restarted
  EXPECT_THAT(ServerLivenessAlerts(f, RuleSettings(), kNow), IsEmpty());
  // An alert that was already firing before the restart goes on.
  f.firing.insert("AgentSilent");
  EXPECT_THAT(Names(ServerLivenessAlerts(f, RuleSettings(), kNow)), ElementsAre("AgentSilent"));
}

v1::StoredExportError Error(const std::string& server, const std::string& dn,
                            const std::string& type, const std::string& attribute = "",
                            const std::string& value = "", absl::Time since = kNow) {
  v1::StoredExportError stored;
  stored.set_server(server);
  stored.set_tenant(kTenant);
  v1::ExportError& e = *stored.mutable_error();
  e.set_connector_name(kAad);
  e.set_dn(dn);
  e.set_cs_guid(absl::StrCat("guid-", dn));
  e.set_error_type(type);
  e.set_conflict_attribute(attribute);
  e.set_conflict_value(value);
  *e.mutable_first_occurred() = Ts(since);
  *e.mutable_date_occurred() = Ts(kNow - absl::Minutes(1));
  return stored;
}

TEST(ExportErrorsHigh, FiresAboveTheCount) {
  ServerFacts f = Server();
  for (int i = 0; i < 50; ++i) {
    f.active_errors.push_back(Error("sync01", absl::StrCat("CN=", i), "LargeObject"));
  }
  EXPECT_THAT(Data(f), IsEmpty());  // 50 is not above 50
  f.active_errors.push_back(Error("sync01", "CN=50", "InvalidSoftMatch"));
  const auto alerts = Data(f);
  ASSERT_THAT(Names(alerts), ElementsAre("ExportErrorsHigh"));
  EXPECT_THAT(Annotation(alerts[0], "description"),
              AllOf(HasSubstr("LargeObject: 50"), HasSubstr("InvalidSoftMatch: 1")));
  RuleSettings s;
  s.export_errors_max = 100;
  EXPECT_THAT(Data(f, s), IsEmpty());
}

// ---- uniqueness ----

TenantFacts Tenant(const std::vector<const ServerFacts*>& servers) {
  TenantFacts t;
  t.tenant = kTenant;
  t.group = kTenant;
  t.servers = servers;
  return t;
}

TEST(DuplicateAttributeValue, GroupsCaseFoldedDuplicates) {
  ServerFacts f = Server();
  f.active_errors.push_back(Error("sync01", "CN=John", "AttributeValueMustBeUnique",
                                  "ProxyAddresses", "SMTP:John@Contoso.com"));
  f.active_errors.push_back(Error("sync01", "CN=Johnny", "AttributeValueMustBeUnique",
                                  "proxyAddresses", "smtp:john@contoso.com"));
  const auto alerts = TenantAlerts(Tenant({&f}), RuleSettings());
  ASSERT_THAT(Names(alerts), ElementsAre("DuplicateAttributeValue"));
  const v1::Alert& a = alerts[0];
  EXPECT_EQ(Label(a, "attribute"), "proxyAddresses");
  EXPECT_EQ(Label(a, "value"), "smtp:john@contoso.com");
  EXPECT_EQ(Label(a, "tenant"), kTenant);
  EXPECT_THAT(a.summary(), HasSubstr("claimed by 2 objects"));
  EXPECT_THAT(Annotation(a, "objects"), AllOf(HasSubstr("CN=John on"), HasSubstr("CN=Johnny on")));
}

TEST(DuplicateAttributeValue, OneValueClaimedByThreeObjectsNamesAllAndSinceWhen) {
  ServerFacts f = Server();
  const absl::Time t1 = kNow - absl::Hours(30);
  const absl::Time t2 = kNow - absl::Hours(20);
  const absl::Time t3 = kNow - absl::Hours(10);
  f.active_errors.push_back(Error("sync01", "CN=C", "AttributeValueMustBeUnique",
                                  "UserPrincipalName", "j@contoso.com", t3));
  f.active_errors.push_back(Error("sync01", "CN=A", "AttributeValueMustBeUnique",
                                  "UserPrincipalName", "J@contoso.com", t1));
  f.active_errors.push_back(Error("sync01", "CN=B", "AttributeValueMustBeUnique",
                                  "userPrincipalName", "j@CONTOSO.com", t2));
  const auto alerts = TenantAlerts(Tenant({&f}), RuleSettings());
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_THAT(alerts[0].summary(), HasSubstr("claimed by 3 objects"));
  const std::string objects = Annotation(alerts[0], "objects");
  // Oldest claim first, each with its date.
  EXPECT_EQ(objects,
            "- CN=A on sync01 (contoso.onmicrosoft.com - AAD): AttributeValueMustBeUnique since "
            "2024-04-30T02:00:00.000Z\n"
            "- CN=B on sync01 (contoso.onmicrosoft.com - AAD): AttributeValueMustBeUnique since "
            "2024-04-30T12:00:00.000Z\n"
            "- CN=C on sync01 (contoso.onmicrosoft.com - AAD): AttributeValueMustBeUnique since "
            "2024-04-30T22:00:00.000Z");
  EXPECT_EQ(Annotation(alerts[0], "claimants"), "3");
}

TEST(DuplicateAttributeValue, CaseSensitiveAttributesAreNotFolded) {
  ServerFacts f = Server();
  f.active_errors.push_back(Error("sync01", "CN=A", "AttributeValueMustBeUnique",
                                  "OnPremiseSecurityIdentifier", "S-1-5-21-AbC"));
  f.active_errors.push_back(Error("sync01", "CN=B", "AttributeValueMustBeUnique",
                                  "OnPremiseSecurityIdentifier", "S-1-5-21-abc"));
  EXPECT_THAT(TenantAlerts(Tenant({&f}), RuleSettings()), SizeIs(2));
}

TEST(DuplicateAttributeValue, ReadsTheValueFromTheErrorLiteralAndNamesTheCloudObject) {
  ServerFacts f = Server();
  v1::StoredExportError e = Error("sync01", "CN={ABC}", "AttributeValueMustBeUnique");
  e.mutable_error()->mutable_cd_error()->set_error_literal(
      "Unable to update this object because the following attributes associated with this "
      "object have values that may already be associated with another object in your local "
      "directory services: [ProxyAddresses SMTP:john@contoso.com;]. Correct or remove the "
      "duplicate values in your local directory.");
  e.mutable_error()->set_object_id_in_conflict("7D3B0000-0000-0000-0000-000000000001");
  f.active_errors.push_back(e);
  const auto alerts = TenantAlerts(Tenant({&f}), RuleSettings());
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(Label(alerts[0], "value"), "smtp:john@contoso.com");
  EXPECT_THAT(alerts[0].summary(), HasSubstr("claimed by 2 objects"));
  EXPECT_THAT(Annotation(alerts[0], "objects"),
              HasSubstr("Entra ID object 7d3b0000-0000-0000-0000-000000000001"));
}

TEST(DuplicateAttributeValue, OtherErrorsAndOtherTenantsDoNotMix) {
  ServerFacts f = Server();
  f.active_errors.push_back(Error("sync01", "CN=A", "LargeObject", "proxyAddresses", "x"));
  EXPECT_THAT(TenantAlerts(Tenant({&f}), RuleSettings()), IsEmpty());

  ServerFacts other = Server("sync09");
  other.info.set_tenant("fabrikam.onmicrosoft.com");
  f.active_errors.push_back(
      Error("sync01", "CN=A", "AttributeValueMustBeUnique", "mail", "a@x.com"));
  other.active_errors.push_back(
      Error("sync09", "CN=B", "AttributeValueMustBeUnique", "mail", "a@x.com"));
  // Evaluated per tenant: each sees one claimant only.
  auto mine = TenantAlerts(Tenant({&f}), RuleSettings());
  ASSERT_THAT(mine, SizeIs(1));
  EXPECT_THAT(mine[0].summary(), Not(HasSubstr("claimed by")));
}

TEST(DuplicateAttributeValue, DisabledRuleRaisesNothing) {
  ServerFacts f = Server();
  f.active_errors.push_back(Error("sync01", "CN=A", "AttributeValueMustBeUnique", "mail", "a"));
  RuleSettings s;
  s.uniqueness_enabled = false;
  EXPECT_THAT(TenantAlerts(Tenant({&f}), s), IsEmpty());
}

v1::PendingObject Pending(const std::string& dn, const std::string& anchor,
                          const std::string& upn) {
  v1::PendingObject o;
  o.set_dn(dn);
  o.set_source_anchor(anchor);
  o.set_user_principal_name(upn);
  return o;
}

TEST(DuplicateAttributeValuePredicted, TwoPendingChangesWithOneValueCollide) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 0);
  *c.snapshot.add_adds_and_updates() = Pending("CN={1}", "anchor1", "Jane@Contoso.com");
  *c.snapshot.add_adds_and_updates() = Pending("CN={2}", "anchor2", "jane@contoso.com");
  *c.snapshot.add_adds_and_updates() = Pending("CN={3}", "anchor3", "someone@contoso.com");
  const auto alerts = TenantAlerts(Tenant({&f}), RuleSettings());
  ASSERT_THAT(Names(alerts), ElementsAre("DuplicateAttributeValuePredicted"));
  EXPECT_EQ(Label(alerts[0], "attribute"), "userPrincipalName");
  EXPECT_EQ(Label(alerts[0], "value"), "jane@contoso.com");
  EXPECT_THAT(Annotation(alerts[0], "objects"), AllOf(HasSubstr("CN={1}"), HasSubstr("CN={2}")));
}

TEST(DuplicateAttributeValuePredicted, ProxyAddressesAndMailCollideToo) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 0);
  v1::PendingObject a = Pending("CN={1}", "a1", "a@contoso.com");
  a.add_proxy_addresses("SMTP:shared@contoso.com");
  a.set_mail("a@contoso.com");
  v1::PendingObject b = Pending("CN={2}", "a2", "b@contoso.com");
  b.add_proxy_addresses("smtp:Shared@contoso.com");
  b.set_mail("A@contoso.com");
  *c.snapshot.add_adds_and_updates() = a;
  *c.snapshot.add_adds_and_updates() = b;
  const auto alerts = TenantAlerts(Tenant({&f}), RuleSettings());
  ASSERT_THAT(alerts, SizeIs(2));
  std::vector<std::string> attributes;
  for (const v1::Alert& alert : alerts) attributes.push_back(Label(alert, "attribute"));
  EXPECT_THAT(attributes, ::testing::UnorderedElementsAre("mail", "proxyAddresses"));
}

TEST(DuplicateAttributeValuePredicted, TheSameObjectOnActiveAndStagingIsNoCollision) {
  ServerFacts active = Server("sync01");
  ServerFacts staging = Server("sync02", v1::SERVER_ROLE_STAGING);
  *AddSnapshot(active, 0).snapshot.add_adds_and_updates() =
      Pending("CN={1}", "anchor1", "jane@contoso.com");
  *AddSnapshot(staging, 0).snapshot.add_adds_and_updates() =
      Pending("CN={1}", "anchor1", "jane@contoso.com");
  // The same value listed twice on one object is no collision either.
  v1::PendingObject twice = Pending("CN={5}", "anchor5", "x@contoso.com");
  twice.add_proxy_addresses("SMTP:x@contoso.com");
  twice.add_proxy_addresses("smtp:X@contoso.com");
  *active.snapshots[0].snapshot.add_adds_and_updates() = twice;
  EXPECT_THAT(TenantAlerts(Tenant({&active, &staging}), RuleSettings()), IsEmpty());
}

TEST(DuplicateAttributeValuePredicted, APendingChangeCollidesWithAnObjectThatFailsExport) {
  ServerFacts f = Server();
  f.active_errors.push_back(Error("sync01", "CN={9}", "AttributeValueMustBeUnique",
                                  "UserPrincipalName", "jane@contoso.com"));
  *AddSnapshot(f, 0).snapshot.add_adds_and_updates() =
      Pending("CN={1}", "anchor1", "JANE@contoso.com");
  const auto alerts = TenantAlerts(Tenant({&f}), RuleSettings());
  EXPECT_THAT(Names(alerts), ::testing::UnorderedElementsAre("DuplicateAttributeValue",
                                                             "DuplicateAttributeValuePredicted"));
  // ...but an erroring object that is itself pending again is one object.
  f.snapshots[0].snapshot.clear_adds_and_updates();
  *f.snapshots[0].snapshot.add_adds_and_updates() =
      Pending("CN={9}", "anchor9", "jane@contoso.com");
  EXPECT_THAT(Names(TenantAlerts(Tenant({&f}), RuleSettings())),
              ElementsAre("DuplicateAttributeValue"));
}

TEST(DuplicateAttributeValuePredicted, OnlyTheEntraConnectorsExportsCount) {
  ServerFacts f = Server();
  ConnectorSnapshot& c = AddSnapshot(f, 0, "contoso.com");
  *c.snapshot.add_adds_and_updates() = Pending("CN=a", "a1", "jane@contoso.com");
  *c.snapshot.add_adds_and_updates() = Pending("CN=b", "a2", "jane@contoso.com");
  EXPECT_THAT(TenantAlerts(Tenant({&f}), RuleSettings()), IsEmpty());
  RuleSettings s;
  s.uniqueness_predict = false;
  f.snapshots[0].snapshot.set_connector_name(kAad);
  EXPECT_THAT(TenantAlerts(Tenant({&f}), s), IsEmpty());
  EXPECT_THAT(TenantAlerts(Tenant({&f}), RuleSettings()), SizeIs(1));
}

TEST(Fingerprint, IsStableAndDependsOnLabelsOnly) {
  ServerFacts f = Server();
  SetThreshold(f, 500);
  AddSnapshot(f, 600);
  const auto first = Data(f);
  f.snapshots[0].snapshot.set_pending_deletes(700);
  const auto second = Data(f);
  ASSERT_THAT(first, SizeIs(1));
  ASSERT_THAT(second, SizeIs(1));
  EXPECT_EQ(first[0].fingerprint(), second[0].fingerprint());
  EXPECT_NE(first[0].summary(), second[0].summary());
  EXPECT_THAT(first[0].fingerprint(), ::testing::MatchesRegex("[0-9a-f]{16}"));
}

TEST(EntraConnector, IsRecognisedByNameOrId) {
  EXPECT_TRUE(IsEntraConnector("contoso.onmicrosoft.com - AAD", ""));
  EXPECT_TRUE(IsEntraConnector("x - aad", ""));
  EXPECT_TRUE(IsEntraConnector("anything", "b891884f-051e-4a83-95af-2544101c9083"));
  EXPECT_FALSE(IsEntraConnector("contoso.com", "85098734-66bc-4938-8122-c5f585f463d0"));
}

}  // namespace
}  // namespace syncwatch::collector::alerts
