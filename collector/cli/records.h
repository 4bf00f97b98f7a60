// What each command prints, built from the collector's (merged) list
// responses without any I/O: JSON records for scripts, tables for people, and
// the CSV flattening of the JSON records.
//
// JSON keys and CSV headers are a contract that scripts and tests rely on
// (see ARCHITECTURE.md "User-facing surface"): times are ISO 8601 in UTC and
// null when unset. The CSV header of each kind is the key list of an empty
// record of that kind, so JSON and CSV cannot drift apart.
#ifndef SYNCWATCH_COLLECTOR_CLI_RECORDS_H_
#define SYNCWATCH_COLLECTOR_CLI_RECORDS_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "collector/cli/table.h"
#include "nlohmann/json.hpp"
#include "syncwatch/v1/admin.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::cli {

// Keeps keys in insertion order, so records print in the documented order.
using Json = nlohmann::ordered_json;

// `runs`: one record per stored run, in the collector's order.
// {"server","tenant","connector","connector_id","run_profile","run_number","result","start",
//  "end","run_history_id","is_run_complete","steps"}
Json RunRecord(const v1::StoredRun& run);
Json RunsToJson(const v1::ListRunsResponse& response);
// SERVER CONNECTOR PROFILE RUN RESULT START END.
Table RunsTable(const v1::ListRunsResponse& response);
Table RunsCsvTable(const v1::ListRunsResponse& response);

// `servers`: {"server","tenant","role","last_seen","last_run_result","last_successful_cycle",
//  "pending_deletes","deletion_threshold","open_alerts","health","open_critical_alerts",
//  "deletion_threshold_enabled","health_reasons","agent_id","agent_version","staging_mode"};
// health is "ok", "warning", "critical" or "unknown", health_reasons an array
// of lines; last_run_result is null before the first complete run.
Json ServerRecord(const v1::ServerInfo& server);
Json ServersToJson(const v1::ListServersResponse& response);
// SERVER TENANT ROLE HEALTH PENDING DELETES (n / threshold) LAST CYCLE LAST RUN
// ALERTS LAST SEEN.
Table ServersTable(const google::protobuf::RepeatedPtrField<v1::ServerInfo>& servers);
Table ServersCsvTable(const v1::ListServersResponse& response);

// `fleet`: {"generated_at","servers","tenants","active_servers","staging_servers","ok",
//  "warning","critical","unknown","pending_deletes","open_alerts","open_critical_alerts",
//  "server_list":[ServerRecord...]} with the server list worst health first.
Json FleetToJson(const v1::FleetSummaryResponse& fleet);
// Two summary lines, then the servers table (worst first).
std::string RenderFleet(const v1::FleetSummaryResponse& fleet);
// The servers' records, one row each (as `servers --output csv`).
Table FleetCsvTable(const v1::FleetSummaryResponse& fleet);

// `deletes`: one record per (server, connector) snapshot,
// {"server","connector","taken_at","pending_adds","pending_updates","pending_deletes",
//  "objects":[{"dn","object_type","user_principal_name","source_anchor","display_name"}]}.
// `objects` holds every object the collector returned.
Json PendingDeletesRecord(const v1::StoredPendingExports& stored);
Json PendingDeletesToJson(const v1::ListPendingExportsResponse& response);
// One line per snapshot: SERVER CONNECTOR TAKEN AT ADDS UPDATES DELETES.
Table PendingDeletesSummaryTable(const v1::ListPendingExportsResponse& response);
// The first `limit` objects to be deleted: DN TYPE UPN SOURCE ANCHOR DISPLAY NAME.
Table DeletedObjectsTable(const v1::PendingExportSnapshot& snapshot, size_t limit);
// The summary table, then for each snapshot with pending deletes a titled,
// indented object table with at most `limit` objects and "… N more" below it,
// where N counts the deletes not shown (including those the agent did not send).
std::string RenderPendingDeletes(const v1::ListPendingExportsResponse& response, size_t limit = 20);
// One CSV row per object to be deleted (`objects` flattened in place).
Table PendingDeletesCsvTable(const v1::ListPendingExportsResponse& response);

// `errors`: {"server","connector","dn","error_type","category","attribute","value",
//  "first_occurred","last_occurred","retry_count"}; category from ExportErrorCategory().
Json ExportErrorRecord(const v1::StoredExportError& stored);
Json ExportErrorsToJson(const v1::ListExportErrorsResponse& response);
Table ExportErrorsTable(const v1::ListExportErrorsResponse& response);
Table ExportErrorsCsvTable(const v1::ListExportErrorsResponse& response);

// `alerts`: {"name","severity","state","server","tenant","connector","summary","labels",
//  "started_at","resolved_at","last_change","last_delivery","fingerprint","description",
//  "acked_by","acked_at","ack_comment","silenced_by"};
// state is "firing" or "resolved", labels an object, description null when the
// alert has none. Empty server/tenant/connector are null; the ack fields are
// null without an ack; silenced_by is an array of silence ids (empty when none).
Json AlertRecord(const v1::Alert& alert);
Json AlertsToJson(const v1::ListAlertsResponse& response);
// ID STATE SEVERITY NAME SCOPE STARTED RESOLVED SUMMARY; ID is the fingerprint
// (what `ack` takes), STATE "firing" or "resolved" followed by "acked" and/or
// "silenced" when they apply, SCOPE the server, or the tenant for a
// tenant-wide alert.
Table AlertsTable(const v1::ListAlertsResponse& response);
// The JSON records flattened; labels is one cell holding the labels as JSON.
Table AlertsCsvTable(const v1::ListAlertsResponse& response);

// `silences`: {"id","server","tenant","alert","starts_at","ends_at","created_by",
//  "comment"}; empty matchers and comment are null.
Json SilenceRecord(const v1::Silence& silence);
Json SilencesToJson(const v1::ListSilencesResponse& response);
// ID SERVER TENANT ALERT ENDS CREATED BY COMMENT.
Table SilencesTable(const v1::ListSilencesResponse& response);
Table SilencesCsvTable(const v1::ListSilencesResponse& response);

// `retention`: one record per kind, {"kind","window","config","overridden","changed_by",
//  "changed_at"}; kind is runs, export_errors or snapshots, window and config
// are "400d", "36h" or "off"; changed_by/changed_at are null for a window
// from the config.
Json RetentionToJson(const v1::GetRetentionResponse& response);
// KIND WINDOW CONFIG SET BY SET AT.
Table RetentionTable(const v1::GetRetentionResponse& response);
Table RetentionCsvTable(const v1::GetRetentionResponse& response);

// Pretty-printed JSON with a final newline. Invalid UTF-8 is replaced by U+FFFD
// rather than failing the whole output.
std::string RenderJson(const Json& value);

// Flattens an array of records into a CSV table whose columns are the keys of
// `empty_record`. When `nested_key` is not empty, `empty_record[nested_key]`
// must be an array holding one empty nested record: its keys replace
// `nested_key` in the header, and each record yields one row per nested
// element (one row with empty nested cells when it has none, so that no
// record disappears). Null is an empty cell, booleans are true/false.
Table RecordsToCsvTable(const Json& records, const Json& empty_record,
                        absl::string_view nested_key = {});

}  // namespace syncwatch::cli

#endif  // SYNCWATCH_COLLECTOR_CLI_RECORDS_H_
