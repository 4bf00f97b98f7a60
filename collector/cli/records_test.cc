#include "collector/cli/records.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Timestamp Ts(const char* iso) { return ToProtoTimestamp(*ParseEngineTime(iso)); }

std::vector<std::string> KeysOf(const Json& record) {
  std::vector<std::string> keys;
  for (auto it = record.begin(); it != record.end(); ++it) keys.push_back(it.key());
  return keys;
}

v1::StoredRun CompletedRun() {
  v1::StoredRun stored;
  stored.set_server("sync01");
  stored.set_tenant("contoso.onmicrosoft.com");
  v1::RunProfileResult& run = *stored.mutable_run();
  run.set_connector_name("contoso.onmicrosoft.com - AAD");
  run.set_connector_id("b891884f-051e-4a83-95af-2544101c9083");
  run.set_run_profile_name("Export");
  run.set_run_number(4711);
  run.set_result("stopped-deletion-threshold-exceeded");
  run.set_is_run_complete(true);
  *run.mutable_start_time() = Ts("2024-05-01T06:00:00Z");
  *run.mutable_end_time() = Ts("2024-05-01T06:00:12.5Z");
  run.set_run_history_id("0f1e2d3c-0000-4000-8000-000000000001");
  run.add_steps();
  run.add_steps();
  return stored;
}

TEST(RunRecord, HasTheDocumentedKeysInOrder) {
  EXPECT_THAT(
      KeysOf(RunRecord(CompletedRun())),
      ElementsAre("server", "tenant", "connector", "connector_id", "run_profile", "run_number",
                  "result", "start", "end", "run_history_id", "is_run_complete", "steps"));
}

TEST(RunRecord, CarriesTheValues) {
  const Json record = RunRecord(CompletedRun());
  EXPECT_EQ(record["server"], "sync01");
  EXPECT_EQ(record["tenant"], "contoso.onmicrosoft.com");
  EXPECT_EQ(record["connector"], "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(record["connector_id"], "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(record["run_profile"], "Export");
  EXPECT_EQ(record["run_number"], 4711);
  EXPECT_EQ(record["result"], "stopped-deletion-threshold-exceeded");
  EXPECT_EQ(record["start"], "2024-05-01T06:00:00.000Z");
  EXPECT_EQ(record["end"], "2024-05-01T06:00:12.500Z");
  EXPECT_EQ(record["run_history_id"], "0f1e2d3c-0000-4000-8000-000000000001");
  EXPECT_EQ(record["is_run_complete"], true);
  EXPECT_EQ(record["steps"], 2);
}

TEST(RunRecord, UnsetValuesAreNull) {
  v1::StoredRun stored = CompletedRun();
  stored.mutable_run()->clear_end_time();
  stored.mutable_run()->clear_run_history_id();
  stored.mutable_run()->set_is_run_complete(false);
  const Json record = RunRecord(stored);
  EXPECT_TRUE(record["end"].is_null());
  EXPECT_TRUE(record["run_history_id"].is_null());
  EXPECT_EQ(record["is_run_complete"], false);
}

TEST(RunRecord, StepCountFallsBackToTotalSteps) {
  v1::StoredRun stored = CompletedRun();
  stored.mutable_run()->clear_steps();
  stored.mutable_run()->set_total_steps(3);
  EXPECT_EQ(RunRecord(stored)["steps"], 3);
}

TEST(RunsToJson, IsAnArrayInResponseOrder) {
  v1::ListRunsResponse response;
  *response.add_runs() = CompletedRun();
  *response.add_runs() = CompletedRun();
  response.mutable_runs(1)->set_server("sync02");
  const Json json = RunsToJson(response);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["server"], "sync01");
  EXPECT_EQ(json[1]["server"], "sync02");
  EXPECT_EQ(RenderJson(RunsToJson(v1::ListRunsResponse())), "[]\n");
}

TEST(RunsTable, ShowsTheColumnsForPeople) {
  v1::ListRunsResponse response;
  *response.add_runs() = CompletedRun();
  response.add_runs()->mutable_run()->set_run_profile_name("Delta Import");  // in progress
  const Table table = RunsTable(response);
  EXPECT_THAT(table.columns,
              ElementsAre("SERVER", "CONNECTOR", "PROFILE", "RUN", "RESULT", "START", "END"));
  EXPECT_THAT(table.rows[0], ElementsAre("sync01", "contoso.onmicrosoft.com - AAD", "Export",
                                         "4711", "stopped-deletion-threshold-exceeded",
                                         "2024-05-01T06:00:00.000Z", "2024-05-01T06:00:12.500Z"));
  EXPECT_EQ(table.rows[1][6], "-");
}

TEST(RunsCsvTable, HeaderIsTheJsonKeys) {
  v1::ListRunsResponse response;
  *response.add_runs() = CompletedRun();
  response.mutable_runs(0)->mutable_run()->clear_end_time();
  const std::string csv = RenderCsv(RunsCsvTable(response));
  const std::vector<std::string> lines = absl::StrSplit(csv, "\r\n", absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "server,tenant,connector,connector_id,run_profile,run_number,result,start,end,"
            "run_history_id,is_run_complete,steps");
  EXPECT_EQ(lines[1],
            "sync01,contoso.onmicrosoft.com,contoso.onmicrosoft.com - AAD,"
            "b891884f-051e-4a83-95af-2544101c9083,Export,4711,"
            "stopped-deletion-threshold-exceeded,2024-05-01T06:00:00.000Z,,"
            "0f1e2d3c-0000-4000-8000-000000000001,true,2");
  EXPECT_EQ(RenderCsv(RunsCsvTable(v1::ListRunsResponse())), absl::StrCat(lines[0], "\r\n"));
}

v1::ServerInfo JudgedServer() {
  v1::ServerInfo server;
  server.set_server("sync01");
  server.set_tenant("contoso.onmicrosoft.com");
  server.set_role(v1::SERVER_ROLE_STAGING);
  server.set_agent_id("agent-1");
  server.set_agent_version("0.1.0");
  *server.mutable_last_seen() = Ts("2024-05-01T07:59:00Z");
  server.mutable_settings()->set_staging_mode_enabled(true);
  server.set_last_run_result("stopped-server-down");
  *server.mutable_last_successful_cycle() = Ts("2024-05-01T07:00:00Z");
  server.set_pending_deletes(612);
  server.set_deletion_threshold(500);
  server.set_deletion_threshold_enabled(true);
  server.set_open_alerts(2);
  server.set_open_critical_alerts(1);
  server.set_health(v1::HEALTH_CRITICAL);
  server.add_health_reasons("612 pending deletes");
  return server;
}

TEST(ServerRecord, HasTheDocumentedKeysAndValues) {
  const Json record = ServerRecord(JudgedServer());
  EXPECT_THAT(
      KeysOf(record),
      ElementsAre("server", "tenant", "role", "last_seen", "last_run_result",
                  "last_successful_cycle", "pending_deletes", "deletion_threshold", "open_alerts",
                  "health", "open_critical_alerts", "deletion_threshold_enabled", "health_reasons",
                  "agent_id", "agent_version", "staging_mode"));
  EXPECT_EQ(record["role"], "staging");
  EXPECT_EQ(record["last_seen"], "2024-05-01T07:59:00.000Z");
  EXPECT_EQ(record["last_run_result"], "stopped-server-down");
  EXPECT_EQ(record["last_successful_cycle"], "2024-05-01T07:00:00.000Z");
  EXPECT_EQ(record["pending_deletes"], 612);
  EXPECT_EQ(record["deletion_threshold"], 500);
  EXPECT_EQ(record["open_alerts"], 2);
  EXPECT_EQ(record["health"], "critical");
  EXPECT_EQ(record["health_reasons"], Json::array({"612 pending deletes"}));
  EXPECT_EQ(record["staging_mode"], true);
}

TEST(ServerRecord, WhatIsNotKnownYetIsNull) {
  v1::ServerInfo server;
  server.set_server("sync01");
  Json record = ServerRecord(server);
  EXPECT_EQ(record["role"], "unknown");
  EXPECT_EQ(record["health"], "unknown");
  EXPECT_TRUE(record["last_seen"].is_null());
  EXPECT_TRUE(record["last_run_result"].is_null());
  EXPECT_TRUE(record["last_successful_cycle"].is_null());
  EXPECT_TRUE(record["staging_mode"].is_null());
}

TEST(ServersTable, ShowsDeletesAgainstTheThresholdAndCriticalAlerts) {
  google::protobuf::RepeatedPtrField<v1::ServerInfo> servers;
  *servers.Add() = JudgedServer();
  v1::ServerInfo& off = *servers.Add() = JudgedServer();
  off.set_deletion_threshold_enabled(false);
  off.set_open_critical_alerts(0);
  const Table table = ServersTable(servers);
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_THAT(table.rows[0],
              ElementsAre("sync01", "contoso.onmicrosoft.com", "staging", "critical", "612 / 500",
                          "2024-05-01T07:00:00.000Z", "stopped-server-down", "2 (1 critical)",
                          "2024-05-01T07:59:00.000Z"));
  EXPECT_EQ(table.rows[1][4], "612 (threshold off)");
  EXPECT_EQ(table.rows[1][7], "2");
}

TEST(Fleet, JsonHasTheCountsThenTheServersInTheCollectorsOrder) {
  v1::FleetSummaryResponse fleet;
  *fleet.mutable_generated_at() = Ts("2024-05-01T08:00:00Z");
  fleet.set_servers(2);
  fleet.set_critical(1);
  fleet.set_ok(1);
  fleet.set_pending_deletes(612);
  *fleet.add_server_list() = JudgedServer();
  fleet.add_server_list()->set_server("sync00");
  const Json json = FleetToJson(fleet);
  EXPECT_EQ(json["generated_at"], "2024-05-01T08:00:00.000Z");
  EXPECT_EQ(json["servers"], 2);
  EXPECT_EQ(json["critical"], 1);
  EXPECT_EQ(json["pending_deletes"], 612);
  ASSERT_EQ(json["server_list"].size(), 2u);
  EXPECT_EQ(json["server_list"][0]["server"], "sync01");
  EXPECT_EQ(json["server_list"][1]["server"], "sync00");

  const std::string text = RenderFleet(fleet);
  EXPECT_THAT(text, HasSubstr("2 servers (0 active, 0 staging) in 0 tenants: 1 critical, "
                              "0 warning, 0 unknown, 1 ok\n"));
  EXPECT_LT(text.find("sync01"), text.find("sync00"));

  const std::vector<std::string> lines = absl::StrSplit(RenderCsv(FleetCsvTable(fleet)), "\r\n");
  ASSERT_GE(lines.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "server,tenant,role,last_seen,last_run_result,"));
  EXPECT_TRUE(absl::StartsWith(lines[1], "sync01,"));
}

v1::StoredPendingExports Snapshot(int objects, int64_t pending_deletes) {
  v1::StoredPendingExports stored;
  stored.set_server("sync01");
  stored.set_tenant("contoso.onmicrosoft.com");
  v1::PendingExportSnapshot& snapshot = *stored.mutable_snapshot();
  snapshot.set_connector_name("contoso.onmicrosoft.com - AAD");
  *snapshot.mutable_taken_at() = Ts("2024-05-01T07:30:00Z");
  snapshot.set_pending_adds(3);
  snapshot.set_pending_updates(10);
  snapshot.set_pending_deletes(pending_deletes);
  for (int i = 0; i < objects; ++i) {
    v1::PendingObject& object = *snapshot.add_deletes();
    object.set_dn(absl::StrCat("CN={", i, "}"));
    object.set_object_type("user");
    object.set_user_principal_name(absl::StrCat("user", i, "@contoso.com"));
    object.set_source_anchor(absl::StrCat("anchor", i));
    object.set_display_name(absl::StrCat("Doe, John ", i));
  }
  return stored;
}

TEST(PendingDeletesRecord, HasTheDocumentedKeysAndObjects) {
  const Json record = PendingDeletesRecord(Snapshot(2, 2));
  EXPECT_THAT(KeysOf(record), ElementsAre("server", "connector", "taken_at", "pending_adds",
                                          "pending_updates", "pending_deletes", "objects"));
  EXPECT_EQ(record["connector"], "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(record["taken_at"], "2024-05-01T07:30:00.000Z");
  EXPECT_EQ(record["pending_adds"], 3);
  EXPECT_EQ(record["pending_updates"], 10);
  EXPECT_EQ(record["pending_deletes"], 2);
  ASSERT_EQ(record["objects"].size(), 2u);
  EXPECT_THAT(KeysOf(record["objects"][0]), ElementsAre("dn", "object_type", "user_principal_name",
                                                        "source_anchor", "display_name"));
  EXPECT_EQ(record["objects"][1]["dn"], "CN={1}");
  EXPECT_EQ(record["objects"][1]["user_principal_name"], "user1@contoso.com");
}

TEST(PendingDeletesCsvTable, FlattensOneRowPerObject) {
  v1::ListPendingExportsResponse response;
  *response.add_snapshots() = Snapshot(2, 2);
  *response.add_snapshots() = Snapshot(0, 0);
  response.mutable_snapshots(1)->mutable_snapshot()->set_connector_name("contoso.com");
  const Table table = PendingDeletesCsvTable(response);
  EXPECT_THAT(table.columns, ElementsAre("server", "connector", "taken_at", "pending_adds",
                                         "pending_updates", "pending_deletes", "dn", "object_type",
                                         "user_principal_name", "source_anchor", "display_name"));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_THAT(table.rows[1], ElementsAre("sync01", "contoso.onmicrosoft.com - AAD",
                                         "2024-05-01T07:30:00.000Z", "3", "10", "2", "CN={1}",
                                         "user", "user1@contoso.com", "anchor1", "Doe, John 1"));
  // A connector without deletes keeps its counts on a row of its own.
  EXPECT_THAT(table.rows[2], ElementsAre("sync01", "contoso.com", "2024-05-01T07:30:00.000Z", "3",
                                         "10", "0", "", "", "", "", ""));
  EXPECT_THAT(RenderCsv(table), HasSubstr(",\"Doe, John 1\"\r\n"));
}

TEST(RenderPendingDeletes, ShowsTwentyObjectsAndHowManyMore) {
  v1::ListPendingExportsResponse response;
  *response.add_snapshots() = Snapshot(25, 612);  // the agent sent 25 of 612
  const std::string text = RenderPendingDeletes(response);
  EXPECT_THAT(text, HasSubstr("SERVER  CONNECTOR"));
  EXPECT_THAT(text, HasSubstr("To be deleted on sync01 by contoso.onmicrosoft.com - AAD (612):"));
  EXPECT_THAT(text, HasSubstr("  CN={19}"));
  EXPECT_THAT(text, Not(HasSubstr("CN={20}")));
  EXPECT_THAT(text, HasSubstr("  … 592 more\n"));
}

TEST(RenderPendingDeletes, NoObjectSectionWithoutDeletes) {
  v1::ListPendingExportsResponse response;
  *response.add_snapshots() = Snapshot(0, 0);
  const std::string text = RenderPendingDeletes(response);
  EXPECT_THAT(text, Not(HasSubstr("To be deleted")));
  EXPECT_EQ(RenderPendingDeletes(v1::ListPendingExportsResponse()),
            "SERVER  CONNECTOR  TAKEN AT  ADDS  UPDATES  DELETES\n(none)\n");
}

v1::StoredExportError UniquenessError() {
  v1::StoredExportError stored;
  stored.set_server("sync01");
  v1::ExportError& error = *stored.mutable_error();
  error.set_connector_name("contoso.onmicrosoft.com - AAD");
  error.set_dn("CN={5A2C}");
  error.set_error_type("AttributeValueMustBeUnique");
  error.set_conflict_attribute("ProxyAddresses");
  error.set_conflict_value("SMTP:john@contoso.com");
  *error.mutable_first_occurred() = Ts("2024-04-01T00:00:00Z");
  *error.mutable_date_occurred() = Ts("2024-05-01T06:00:00Z");
  error.set_retry_count(42);
  return stored;
}

TEST(ExportErrorRecord, HasTheDocumentedKeysAndValues) {
  const Json record = ExportErrorRecord(UniquenessError());
  EXPECT_THAT(KeysOf(record),
              ElementsAre("server", "connector", "dn", "error_type", "category", "attribute",
                          "value", "first_occurred", "last_occurred", "retry_count"));
  EXPECT_EQ(record["category"], "duplicate-attribute");
  EXPECT_EQ(record["attribute"], "ProxyAddresses");
  EXPECT_EQ(record["value"], "SMTP:john@contoso.com");
  EXPECT_EQ(record["first_occurred"], "2024-04-01T00:00:00.000Z");
  EXPECT_EQ(record["last_occurred"], "2024-05-01T06:00:00.000Z");
  EXPECT_EQ(record["retry_count"], 42);
}

TEST(ExportErrorRecord, MissingConflictIsNull) {
  v1::StoredExportError stored = UniquenessError();
  stored.mutable_error()->set_error_type("permission-issue");
  stored.mutable_error()->clear_conflict_attribute();
  stored.mutable_error()->clear_conflict_value();
  stored.mutable_error()->clear_first_occurred();
  const Json record = ExportErrorRecord(stored);
  EXPECT_EQ(record["category"], "other");
  EXPECT_TRUE(record["attribute"].is_null());
  EXPECT_TRUE(record["value"].is_null());
  EXPECT_TRUE(record["first_occurred"].is_null());
}

TEST(ExportErrorsCsvTable, QuotesValuesThatNeedIt) {
  v1::ListExportErrorsResponse response;
  *response.add_errors() = UniquenessError();
  response.mutable_errors(0)->mutable_error()->set_dn("CN=Doe\\, John,OU=\"Sales\"");
  const std::string csv = RenderCsv(ExportErrorsCsvTable(response));
  EXPECT_THAT(csv, HasSubstr("server,connector,dn,error_type,category,attribute,value,"
                             "first_occurred,last_occurred,retry_count\r\n"));
  EXPECT_THAT(csv, HasSubstr(",\"CN=Doe\\, John,OU=\"\"Sales\"\"\",AttributeValueMustBeUnique,"
                             "duplicate-attribute,ProxyAddresses,"));
}

TEST(RenderJson, ReplacesInvalidUtf8InsteadOfFailing) {
  Json value = Json::array();
  value.push_back(std::string("bad \xff byte"));
  EXPECT_EQ(RenderJson(value), "[\n  \"bad \xEF\xBF\xBD byte\"\n]\n");
}

TEST(AlertRecord, HasTheDocumentedKeysAndValues) {
  v1::Alert alert;
  alert.set_name("PendingDeletesOverThreshold");
  alert.set_severity("critical");
  alert.set_state(v1::ALERT_STATE_RESOLVED);
  alert.set_server("sync01");
  alert.set_tenant("contoso.onmicrosoft.com");
  alert.set_connector("contoso.onmicrosoft.com - AAD");
  alert.set_summary("600 pending deletes");
  alert.set_fingerprint("0123456789abcdef");
  (*alert.mutable_labels())["severity"] = "critical";
  (*alert.mutable_labels())["alertname"] = "PendingDeletesOverThreshold";
  (*alert.mutable_annotations())["description"] = "600 pending deletes.\n- CN={1}";
  *alert.mutable_started_at() = Ts("2024-05-01T06:00:00Z");
  *alert.mutable_resolved_at() = Ts("2024-05-01T07:00:00Z");
  const Json record = AlertRecord(alert);
  EXPECT_THAT(
      KeysOf(record),
      ElementsAre("name", "severity", "state", "server", "tenant", "connector", "summary", "labels",
                  "started_at", "resolved_at", "last_change", "last_delivery", "fingerprint",
                  "description", "acked_by", "acked_at", "ack_comment", "silenced_by"));
  EXPECT_EQ(record["state"], "resolved");
  EXPECT_EQ(record["started_at"], "2024-05-01T06:00:00.000Z");
  EXPECT_EQ(record["resolved_at"], "2024-05-01T07:00:00.000Z");
  EXPECT_TRUE(record["last_delivery"].is_null());
  // Labels print sorted, whatever order the map had.
  EXPECT_THAT(KeysOf(record["labels"]), ElementsAre("alertname", "severity"));
  EXPECT_EQ(record["description"], "600 pending deletes.\n- CN={1}");

  v1::Alert tenant_wide;
  tenant_wide.set_state(v1::ALERT_STATE_FIRING);
  const Json r = AlertRecord(tenant_wide);
  EXPECT_EQ(r["state"], "firing");
  EXPECT_TRUE(r["server"].is_null());
  EXPECT_TRUE(r["description"].is_null());
  EXPECT_TRUE(r["acked_by"].is_null());
  EXPECT_EQ(r["silenced_by"], Json::array());

  v1::Alert handled = tenant_wide;
  handled.mutable_ack()->set_by("ops-oncall");
  *handled.mutable_ack()->mutable_at() = Ts("2024-05-01T06:30:00Z");
  handled.add_silenced_by("00000000000000aa");
  const Json h = AlertRecord(handled);
  EXPECT_EQ(h["acked_by"], "ops-oncall");
  EXPECT_EQ(h["acked_at"], "2024-05-01T06:30:00.000Z");
  EXPECT_TRUE(h["ack_comment"].is_null());
  EXPECT_EQ(h["silenced_by"], Json::array({"00000000000000aa"}));
  v1::ListAlertsResponse one;
  *one.add_alerts() = handled;
  EXPECT_EQ(AlertsTable(one).rows[0][1], "firing acked silenced");
}

TEST(AlertsCsvTable, FlattensLabelsIntoOneCell) {
  v1::ListAlertsResponse response;
  v1::Alert& alert = *response.add_alerts();
  alert.set_name("AgentSilent");
  (*alert.mutable_labels())["alertname"] = "AgentSilent";
  const Table table = AlertsCsvTable(response);
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_EQ(table.columns[7], "labels");
  EXPECT_EQ(table.rows[0][7], "{\"alertname\":\"AgentSilent\"}");
}

}  // namespace
}  // namespace syncwatch::cli
