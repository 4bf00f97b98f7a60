#include "collector/cli/records.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/cli/config_commands.h"
#include "common/error_category.h"
#include "common/names.h"
#include "common/time_util.h"

namespace syncwatch::cli {
namespace {

constexpr absl::string_view kObjectsKey = "objects";
// What a table shows for an unset value; JSON says null instead.
constexpr absl::string_view kNoValue = "-";

Json TimeOrNull(bool has, const google::protobuf::Timestamp& ts) {
  if (!has) return nullptr;
  return FormatIso8601(FromProtoTimestamp(ts));
}

Json StringOrNull(const std::string& s) {
  if (s.empty()) return nullptr;
  return s;
}

std::string TimeCell(bool has, const google::protobuf::Timestamp& ts) {
  return has ? FormatIso8601(FromProtoTimestamp(ts)) : std::string(kNoValue);
}

std::string TextCell(const std::string& s) { return s.empty() ? std::string(kNoValue) : s; }

// A run source that gives no step list (Get-ADSyncRunProfileResult without
// steps, or a collector that strips them from listings) still knows how many
// steps the run has.
int64_t StepCount(const v1::RunProfileResult& run) {
  return run.steps_size() > 0 ? run.steps_size() : run.total_steps();
}

std::string CsvCell(const Json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Appends the cells of `record` for `columns` (missing keys are empty cells).
void AppendCells(const Json& record, const std::vector<std::string>& columns,
                 std::vector<std::string>* row) {
  for (const std::string& column : columns) {
    auto it = record.find(column);
    row->push_back(it == record.end() ? "" : CsvCell(*it));
  }
}

std::vector<std::string> KeysOf(const Json& record, absl::string_view skip) {
  std::vector<std::string> keys;
  for (auto it = record.begin(); it != record.end(); ++it) {
    if (it.key() != skip) keys.push_back(it.key());
  }
  return keys;
}

}  // namespace

Json RunRecord(const v1::StoredRun& stored) {
  const v1::RunProfileResult& run = stored.run();
  Json record = Json::object();
  record["server"] = stored.server();
  record["tenant"] = stored.tenant();
  record["connector"] = run.connector_name();
  record["connector_id"] = run.connector_id();
  record["run_profile"] = run.run_profile_name();
  record["run_number"] = run.run_number();
  record["result"] = run.result();
  record["start"] = TimeOrNull(run.has_start_time(), run.start_time());
  record["end"] = TimeOrNull(run.has_end_time(), run.end_time());
  record["run_history_id"] = StringOrNull(run.run_history_id());
  record["is_run_complete"] = run.is_run_complete();
  record["steps"] = StepCount(run);
  return record;
}

Json RunsToJson(const v1::ListRunsResponse& response) {
  Json out = Json::array();
  for (const v1::StoredRun& run : response.runs()) out.push_back(RunRecord(run));
  return out;
}

Table RunsTable(const v1::ListRunsResponse& response) {
  Table table{{"SERVER", "CONNECTOR", "PROFILE", "RUN", "RESULT", "START", "END"}, {}};
  for (const v1::StoredRun& stored : response.runs()) {
    const v1::RunProfileResult& run = stored.run();
    table.rows.push_back({stored.server(), run.connector_name(), run.run_profile_name(),
                          absl::StrCat(run.run_number()), TextCell(run.result()),
                          TimeCell(run.has_start_time(), run.start_time()),
                          TimeCell(run.has_end_time(), run.end_time())});
  }
  return table;
}

Table RunsCsvTable(const v1::ListRunsResponse& response) {
  return RecordsToCsvTable(RunsToJson(response), RunRecord(v1::StoredRun()));
}

Json ServerRecord(const v1::ServerInfo& server) {
  const bool has_settings = server.has_settings();
  Json reasons = Json::array();
  for (const std::string& r : server.health_reasons()) reasons.push_back(r);
  Json record = Json::object();
  record["server"] = server.server();
  record["tenant"] = server.tenant();
  record["role"] = std::string(ServerRoleName(server.role()));
  record["last_seen"] = TimeOrNull(server.has_last_seen(), server.last_seen());
  record["last_run_result"] =
      server.last_run_result().empty() ? Json() : Json(server.last_run_result());
  record["last_successful_cycle"] =
      TimeOrNull(server.has_last_successful_cycle(), server.last_successful_cycle());
  record["pending_deletes"] = server.pending_deletes();
  record["deletion_threshold"] = server.deletion_threshold();
  record["open_alerts"] = server.open_alerts();
  record["health"] = std::string(HealthName(server.health()));
  record["open_critical_alerts"] = server.open_critical_alerts();
  record["deletion_threshold_enabled"] = server.deletion_threshold_enabled();
  record["health_reasons"] = std::move(reasons);
  record["agent_id"] = server.agent_id();
  record["agent_version"] = server.agent_version();
  record["staging_mode"] = has_settings ? Json(server.settings().staging_mode_enabled()) : Json();
  return record;
}

Json ServersToJson(const v1::ListServersResponse& response) {
  Json out = Json::array();
  for (const v1::ServerInfo& server : response.servers()) out.push_back(ServerRecord(server));
  return out;
}

Table ServersTable(const google::protobuf::RepeatedPtrField<v1::ServerInfo>& servers) {
  Table table{{"SERVER", "TENANT", "ROLE", "HEALTH", "PENDING DELETES", "LAST CYCLE", "LAST RUN",
               "ALERTS", "LAST SEEN"},
              {}};
  for (const v1::ServerInfo& server : servers) {
    std::string deletes =
        absl::StrCat(server.pending_deletes(), " / ", server.deletion_threshold());
    if (!server.deletion_threshold_enabled()) {
      deletes = absl::StrCat(server.pending_deletes(), " (threshold off)");
    }
    std::string alerts = absl::StrCat(server.open_alerts());
    if (server.open_critical_alerts() > 0) {
      absl::StrAppend(&alerts, " (", server.open_critical_alerts(), " critical)");
    }
    table.rows.push_back(
        {server.server(), TextCell(server.tenant()), std::string(ServerRoleName(server.role())),
         std::string(HealthName(server.health())), deletes,
         TimeCell(server.has_last_successful_cycle(), server.last_successful_cycle()),
         TextCell(server.last_run_result()), alerts,
         TimeCell(server.has_last_seen(), server.last_seen())});
  }
  return table;
}

Table ServersCsvTable(const v1::ListServersResponse& response) {
  return RecordsToCsvTable(ServersToJson(response), ServerRecord(v1::ServerInfo()));
}

Json FleetToJson(const v1::FleetSummaryResponse& fleet) {
  Json servers = Json::array();
  for (const v1::ServerInfo& server : fleet.server_list()) servers.push_back(ServerRecord(server));
  Json out = Json::object();
  out["generated_at"] = TimeOrNull(fleet.has_generated_at(), fleet.generated_at());
  out["servers"] = fleet.servers();
  out["tenants"] = fleet.tenants();
  out["active_servers"] = fleet.active_servers();
  out["staging_servers"] = fleet.staging_servers();
  out["ok"] = fleet.ok();
  out["warning"] = fleet.warning();
  out["critical"] = fleet.critical();
  out["unknown"] = fleet.unknown();
  out["pending_deletes"] = fleet.pending_deletes();
  out["open_alerts"] = fleet.open_alerts();
  out["open_critical_alerts"] = fleet.open_critical_alerts();
  out["server_list"] = std::move(servers);
  return out;
}

std::string RenderFleet(const v1::FleetSummaryResponse& fleet) {
  std::string out = absl::StrCat(fleet.servers(), " servers (", fleet.active_servers(), " active, ",
                                 fleet.staging_servers(), " staging) in ", fleet.tenants(),
                                 " tenants: ", fleet.critical(), " critical, ", fleet.warning(),
                                 " warning, ", fleet.unknown(), " unknown, ", fleet.ok(), " ok\n");
  absl::StrAppend(&out, fleet.pending_deletes(), " pending deletes; ", fleet.open_alerts(),
                  " open alerts (", fleet.open_critical_alerts(), " critical); as of ",
                  TimeCell(fleet.has_generated_at(), fleet.generated_at()), "\n\n");
  absl::StrAppend(&out, RenderTable(ServersTable(fleet.server_list())));
  return out;
}

Table FleetCsvTable(const v1::FleetSummaryResponse& fleet) {
  Json servers = Json::array();
  for (const v1::ServerInfo& server : fleet.server_list()) servers.push_back(ServerRecord(server));
  return RecordsToCsvTable(servers, ServerRecord(v1::ServerInfo()));
}

Json PendingDeletesRecord(const v1::StoredPendingExports& stored) {
  const v1::PendingExportSnapshot& snapshot = stored.snapshot();
  Json objects = Json::array();
  for (const v1::PendingObject& object : snapshot.deletes()) {
    Json o = Json::object();
    o["dn"] = object.dn();
    o["object_type"] = object.object_type();
    o["user_principal_name"] = object.user_principal_name();
    o["source_anchor"] = object.source_anchor();
    o["display_name"] = object.display_name();
    objects.push_back(std::move(o));
  }
  Json record = Json::object();
  record["server"] = stored.server();
  record["connector"] = snapshot.connector_name();
  record["taken_at"] = TimeOrNull(snapshot.has_taken_at(), snapshot.taken_at());
  record["pending_adds"] = snapshot.pending_adds();
  record["pending_updates"] = snapshot.pending_updates();
  record["pending_deletes"] = snapshot.pending_deletes();
  record[std::string(kObjectsKey)] = std::move(objects);
  return record;
}

Json PendingDeletesToJson(const v1::ListPendingExportsResponse& response) {
  Json out = Json::array();
  for (const v1::StoredPendingExports& stored : response.snapshots()) {
    out.push_back(PendingDeletesRecord(stored));
  }
  return out;
}

Table PendingDeletesSummaryTable(const v1::ListPendingExportsResponse& response) {
  Table table{{"SERVER", "CONNECTOR", "TAKEN AT", "ADDS", "UPDATES", "DELETES"}, {}};
  for (const v1::StoredPendingExports& stored : response.snapshots()) {
    const v1::PendingExportSnapshot& snapshot = stored.snapshot();
    table.rows.push_back({stored.server(), snapshot.connector_name(),
                          TimeCell(snapshot.has_taken_at(), snapshot.taken_at()),
                          absl::StrCat(snapshot.pending_adds()),
                          absl::StrCat(snapshot.pending_updates()),
                          absl::StrCat(snapshot.pending_deletes())});
  }
  return table;
}

Table DeletedObjectsTable(const v1::PendingExportSnapshot& snapshot, size_t limit) {
  Table table{{"DN", "TYPE", "UPN", "SOURCE ANCHOR", "DISPLAY NAME"}, {}};
  const size_t shown = std::min(limit, static_cast<size_t>(snapshot.deletes_size()));
  for (size_t i = 0; i < shown; ++i) {
    const v1::PendingObject& object = snapshot.deletes(static_cast<int>(i));
    table.rows.push_back({object.dn(), TextCell(object.object_type()),
                          TextCell(object.user_principal_name()), TextCell(object.source_anchor()),
                          TextCell(object.display_name())});
  }
  return table;
}

std::string RenderPendingDeletes(const v1::ListPendingExportsResponse& response, size_t limit) {
  constexpr absl::string_view kIndent = "  ";
  std::string out = RenderTable(PendingDeletesSummaryTable(response));
  for (const v1::StoredPendingExports& stored : response.snapshots()) {
    const v1::PendingExportSnapshot& snapshot = stored.snapshot();
    const size_t sent = static_cast<size_t>(snapshot.deletes_size());
    // The agent may send fewer objects than pending_deletes (deletes_truncated).
    const size_t total =
        std::max(sent, static_cast<size_t>(std::max<int64_t>(snapshot.pending_deletes(), 0)));
    if (total == 0) continue;
    absl::StrAppend(&out, "\nTo be deleted on ", stored.server(), " by ", snapshot.connector_name(),
                    " (", total, "):\n");
    if (sent == 0) {
      absl::StrAppend(&out, kIndent, "(the agent reported no objects)\n");
      continue;
    }
    const std::string objects =
        RenderTable(DeletedObjectsTable(snapshot, limit), kDefaultTableWidth - kIndent.size());
    for (absl::string_view line : absl::StrSplit(objects, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, kIndent, line, "\n");
    }
    const size_t shown = std::min(limit, sent);
    if (total > shown) absl::StrAppend(&out, kIndent, "… ", total - shown, " more\n");
  }
  return out;
}

Table PendingDeletesCsvTable(const v1::ListPendingExportsResponse& response) {
  v1::StoredPendingExports prototype;
  prototype.mutable_snapshot()->add_deletes();
  return RecordsToCsvTable(PendingDeletesToJson(response), PendingDeletesRecord(prototype),
                           kObjectsKey);
}

Json ExportErrorRecord(const v1::StoredExportError& stored) {
  const v1::ExportError& error = stored.error();
  Json record = Json::object();
  record["server"] = stored.server();
  record["connector"] = error.connector_name();
  record["dn"] = error.dn();
  record["error_type"] = error.error_type();
  record["category"] = std::string(ExportErrorCategory(error.error_type()));
  record["attribute"] = StringOrNull(error.conflict_attribute());
  record["value"] = StringOrNull(error.conflict_value());
  record["first_occurred"] = TimeOrNull(error.has_first_occurred(), error.first_occurred());
  record["last_occurred"] = TimeOrNull(error.has_date_occurred(), error.date_occurred());
  record["retry_count"] = error.retry_count();
  return record;
}

Json ExportErrorsToJson(const v1::ListExportErrorsResponse& response) {
  Json out = Json::array();
  for (const v1::StoredExportError& error : response.errors()) {
    out.push_back(ExportErrorRecord(error));
  }
  return out;
}

Table ExportErrorsTable(const v1::ListExportErrorsResponse& response) {
  Table table{{"SERVER", "CONNECTOR", "CATEGORY", "ERROR", "ATTRIBUTE", "VALUE", "LAST OCCURRED",
               "RETRIES", "DN"},
              {}};
  for (const v1::StoredExportError& stored : response.errors()) {
    const v1::ExportError& error = stored.error();
    table.rows.push_back({stored.server(), error.connector_name(),
                          std::string(ExportErrorCategory(error.error_type())),
                          TextCell(error.error_type()), TextCell(error.conflict_attribute()),
                          TextCell(error.conflict_value()),
                          TimeCell(error.has_date_occurred(), error.date_occurred()),
                          absl::StrCat(error.retry_count()), TextCell(error.dn())});
  }
  return table;
}

Table ExportErrorsCsvTable(const v1::ListExportErrorsResponse& response) {
  return RecordsToCsvTable(ExportErrorsToJson(response),
                           ExportErrorRecord(v1::StoredExportError()));
}

namespace {

absl::string_view AlertStateName(v1::AlertState state) {
  switch (state) {
    case v1::ALERT_STATE_FIRING:
      return "firing";
    case v1::ALERT_STATE_RESOLVED:
      return "resolved";
    default:
      return "unknown";
  }
}

}  // namespace

Json AlertRecord(const v1::Alert& alert) {
  // The proto map has no order; sorted keys keep the output stable.
  const std::map<std::string, std::string> labels(alert.labels().begin(), alert.labels().end());
  Json label_object = Json::object();
  for (const auto& [name, value] : labels) label_object[name] = value;
  auto description = alert.annotations().find("description");
  Json record = Json::object();
  record["name"] = alert.name();
  record["severity"] = alert.severity();
  record["state"] = std::string(AlertStateName(alert.state()));
  record["server"] = StringOrNull(alert.server());
  record["tenant"] = StringOrNull(alert.tenant());
  record["connector"] = StringOrNull(alert.connector());
  record["summary"] = alert.summary();
  record["labels"] = std::move(label_object);
  record["started_at"] = TimeOrNull(alert.has_started_at(), alert.started_at());
  record["resolved_at"] = TimeOrNull(alert.has_resolved_at(), alert.resolved_at());
  record["last_change"] = TimeOrNull(alert.has_last_change(), alert.last_change());
  record["last_delivery"] = TimeOrNull(alert.has_last_delivery(), alert.last_delivery());
  record["fingerprint"] = alert.fingerprint();
  record["description"] =
      description == alert.annotations().end() ? Json() : Json(description->second);
  record["acked_by"] = alert.has_ack() ? Json(alert.ack().by()) : Json();
  record["acked_at"] = TimeOrNull(alert.has_ack(), alert.ack().at());
  record["ack_comment"] = alert.has_ack() ? StringOrNull(alert.ack().comment()) : Json();
  record["silenced_by"] = Json::array();
  for (const std::string& id : alert.silenced_by()) record["silenced_by"].push_back(id);
  // Deletion alerts: the probable causes (issue 18), first cause first.
  if (!alert.causes().empty()) record["causes"] = CausesToJson(alert.causes());
  return record;
}

Json AlertsToJson(const v1::ListAlertsResponse& response) {
  Json out = Json::array();
  for (const v1::Alert& alert : response.alerts()) out.push_back(AlertRecord(alert));
  return out;
}

Table AlertsTable(const v1::ListAlertsResponse& response) {
  // The connector and the tenant are in the summary; the table keeps the
  // columns a person scans by.
  Table table{{"ID", "STATE", "SEVERITY", "NAME", "SCOPE", "STARTED", "RESOLVED", "SUMMARY"}, {}};
  for (const v1::Alert& alert : response.alerts()) {
    // Who acked it and which silences match are in the JSON; the table only
    // flags them, to stay narrow.
    std::string state(AlertStateName(alert.state()));
    if (alert.has_ack()) absl::StrAppend(&state, " acked");
    if (alert.silenced_by_size() > 0) absl::StrAppend(&state, " silenced");
    table.rows.push_back({alert.fingerprint(), std::move(state), alert.severity(), alert.name(),
                          TextCell(alert.server().empty() ? alert.tenant() : alert.server()),
                          TimeCell(alert.has_started_at(), alert.started_at()),
                          TimeCell(alert.has_resolved_at(), alert.resolved_at()), alert.summary()});
  }
  return table;
}

Table AlertsCsvTable(const v1::ListAlertsResponse& response) {
  return RecordsToCsvTable(AlertsToJson(response), AlertRecord(v1::Alert()));
}

Json SilenceRecord(const v1::Silence& silence) {
  Json record = Json::object();
  record["id"] = silence.id();
  record["server"] = StringOrNull(silence.server());
  record["tenant"] = StringOrNull(silence.tenant());
  record["alert"] = StringOrNull(silence.alert_name());
  record["starts_at"] = TimeOrNull(silence.has_starts_at(), silence.starts_at());
  record["ends_at"] = TimeOrNull(silence.has_ends_at(), silence.ends_at());
  record["created_by"] = silence.created_by();
  record["comment"] = StringOrNull(silence.comment());
  return record;
}

Json SilencesToJson(const v1::ListSilencesResponse& response) {
  Json out = Json::array();
  for (const v1::Silence& silence : response.silences()) out.push_back(SilenceRecord(silence));
  return out;
}

Table SilencesTable(const v1::ListSilencesResponse& response) {
  Table table{{"ID", "SERVER", "TENANT", "ALERT", "ENDS", "CREATED BY", "COMMENT"}, {}};
  for (const v1::Silence& s : response.silences()) {
    table.rows.push_back({s.id(), TextCell(s.server()), TextCell(s.tenant()),
                          TextCell(s.alert_name()), TimeCell(s.has_ends_at(), s.ends_at()),
                          s.created_by(), TextCell(s.comment())});
  }
  return table;
}

Table SilencesCsvTable(const v1::ListSilencesResponse& response) {
  return RecordsToCsvTable(SilencesToJson(response), SilenceRecord(v1::Silence()));
}

namespace {

Json RetentionRecord(absl::string_view kind, const google::protobuf::Duration& window,
                     const google::protobuf::Duration& config, bool overridden,
                     const v1::RetentionOverride& by) {
  Json record = Json::object();
  record["kind"] = std::string(kind);
  record["window"] = FormatRetentionWindow(FromProtoDuration(window));
  record["config"] = FormatRetentionWindow(FromProtoDuration(config));
  record["overridden"] = overridden;
  record["changed_by"] = overridden ? Json(by.changed_by()) : Json();
  record["changed_at"] = TimeOrNull(overridden, by.changed_at());
  return record;
}

}  // namespace

Json RetentionToJson(const v1::GetRetentionResponse& r) {
  const v1::RetentionWindows& o = r.admin_override().windows();
  Json out = Json::array();
  out.push_back(RetentionRecord("runs", r.windows().runs(), r.config().runs(), o.has_runs(),
                                r.admin_override()));
  out.push_back(RetentionRecord("export_errors", r.windows().export_errors(),
                                r.config().export_errors(), o.has_export_errors(),
                                r.admin_override()));
  out.push_back(RetentionRecord("snapshots", r.windows().snapshots(), r.config().snapshots(),
                                o.has_snapshots(), r.admin_override()));
  return out;
}

Table RetentionTable(const v1::GetRetentionResponse& response) {
  Table table{{"KIND", "WINDOW", "CONFIG", "SET BY", "SET AT"}, {}};
  for (const Json& record : RetentionToJson(response)) {
    std::vector<std::string> row;
    AppendCells(record, {"kind", "window", "config", "changed_by", "changed_at"}, &row);
    for (std::string& cell : row) {
      if (cell.empty()) cell = std::string(kNoValue);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

Table RetentionCsvTable(const v1::GetRetentionResponse& response) {
  return RecordsToCsvTable(RetentionToJson(response),
                           RetentionRecord("", {}, {}, false, v1::RetentionOverride()));
}

std::string RenderJson(const Json& value) {
  return absl::StrCat(value.dump(2, ' ', false, Json::error_handler_t::replace), "\n");
}

Table RecordsToCsvTable(const Json& records, const Json& empty_record,
                        absl::string_view nested_key) {
  Table table;
  // Column layout: the record's keys, with the nested array's keys spliced in
  // where the array sits.
  std::vector<std::string> before;
  std::vector<std::string> nested;
  std::vector<std::string> after;
  std::vector<std::string>* current = &before;
  for (auto it = empty_record.begin(); it != empty_record.end(); ++it) {
    if (!nested_key.empty() && it.key() == nested_key) {
      if (it->is_array() && !it->empty()) nested = KeysOf(it->front(), {});
      current = &after;
      continue;
    }
    current->push_back(it.key());
  }
  table.columns = before;
  table.columns.insert(table.columns.end(), nested.begin(), nested.end());
  table.columns.insert(table.columns.end(), after.begin(), after.end());

  const Json empty_nested = Json::object();
  for (const Json& record : records) {
    const Json* children = nullptr;
    if (!nested_key.empty()) {
      auto it = record.find(std::string(nested_key));
      if (it != record.end() && it->is_array() && !it->empty()) children = &*it;
    }
    auto emit = [&](const Json& child) {
      std::vector<std::string> row;
      AppendCells(record, before, &row);
      AppendCells(child, nested, &row);
      AppendCells(record, after, &row);
      table.rows.push_back(std::move(row));
    };
    if (children == nullptr) {
      emit(empty_nested);
    } else {
      for (const Json& child : *children) emit(child);
    }
  }
  return table;
}

}  // namespace syncwatch::cli
