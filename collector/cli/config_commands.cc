#include "collector/cli/config_commands.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace syncwatch::cli {
namespace {

using v1::Query;

Json OrNull(const std::string& s) { return s.empty() ? Json() : Json(s); }

// Prints `json` (JSON), `table` (table) or the CSV of `json`'s records with
// the columns of `empty`.
absl::Status Emit(const CliOptions& options, const Json& json, const Json& empty,
                  const std::string& table, std::ostream& out) {
  switch (options.output) {
    case OutputFormat::kTable:
      out << table;
      break;
    case OutputFormat::kJson:
      out << RenderJson(json);
      break;
    case OutputFormat::kCsv:
      out << RenderCsv(RecordsToCsvTable(json, empty));
      break;
  }
  out.flush();
  if (!out) return absl::DataLossError("cannot write the output");
  return absl::OkStatus();
}

Json ChangeRecord(const v1::ConfigurationChange& c) {
  Json r = Json::object();
  r["server"] = c.server();
  r["tenant"] = OrNull(c.tenant());
  r["detected_at"] =
      c.has_detected_at() ? Json(FormatIso8601(FromProtoTimestamp(c.detected_at()))) : Json();
  r["kind"] = c.kind();
  r["connector"] = OrNull(c.connector());
  r["partition"] = OrNull(c.partition());
  r["rule"] = OrNull(c.rule());
  r["before"] = OrNull(c.before());
  r["after"] = OrNull(c.after());
  r["summary"] = c.summary();
  return r;
}

Json DriftRecord(const v1::ConfigurationDrift& d) {
  Json r = Json::object();
  r["tenant"] = d.tenant();
  r["server"] = d.server();
  r["reference_server"] = d.reference_server();
  r["kind"] = d.kind();
  r["connector"] = OrNull(d.connector());
  r["partition"] = OrNull(d.partition());
  r["rule"] = OrNull(d.rule());
  r["reference_value"] = OrNull(d.reference_value());
  r["value"] = OrNull(d.value());
  r["summary"] = d.summary();
  return r;
}

Json ExplanationRecord(const v1::DeleteExplanation& e) {
  Json r = Json::object();
  r["server"] = e.server();
  r["tenant"] = OrNull(e.tenant());
  r["connector"] = e.connector();
  r["pending_deletes"] = e.pending_deletes();
  r["causes"] = CausesToJson(e.causes());
  return r;
}

std::string Cell(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

Json ChangesToJson(const v1::ListConfigurationChangesResponse& response) {
  Json all = Json::array();
  for (const auto& c : response.changes()) all.push_back(ChangeRecord(c));
  return all;
}

Table ChangesTable(const v1::ListConfigurationChangesResponse& response) {
  Table t;
  t.columns = {"SERVER", "DETECTED", "KIND", "CONNECTOR", "RULE", "BEFORE", "AFTER"};
  for (const auto& c : response.changes()) {
    t.rows.push_back({c.server(), FormatIso8601(FromProtoTimestamp(c.detected_at())), c.kind(),
                      Cell(c.connector()), Cell(c.rule()), Cell(c.before()), Cell(c.after())});
  }
  return t;
}

Json DriftToJson(const v1::ListConfigurationDriftResponse& response) {
  Json all = Json::array();
  for (const auto& d : response.drift()) all.push_back(DriftRecord(d));
  return all;
}

Table DriftTable(const v1::ListConfigurationDriftResponse& response) {
  Table t;
  t.columns = {"TENANT",    "SERVER", "REFERENCE",       "KIND",
               "CONNECTOR", "RULE",   "REFERENCE VALUE", "VALUE"};
  for (const auto& d : response.drift()) {
    t.rows.push_back({d.tenant(), d.server(), d.reference_server(), d.kind(), Cell(d.connector()),
                      Cell(d.rule()), Cell(d.reference_value()), Cell(d.value())});
  }
  return t;
}

Json CausesToJson(const google::protobuf::RepeatedPtrField<v1::DeleteCause>& causes) {
  Json all = Json::array();
  for (const v1::DeleteCause& c : causes) {
    Json r = Json::object();
    r["kind"] = c.kind();
    r["summary"] = c.summary();
    r["evidence"] = Json::array();
    for (const std::string& e : c.evidence()) r["evidence"].push_back(e);
    all.push_back(std::move(r));
  }
  return all;
}

Json ExplanationsToJson(const v1::ExplainDeletesResponse& response) {
  Json all = Json::array();
  for (const auto& e : response.explanations()) all.push_back(ExplanationRecord(e));
  return all;
}

std::string RenderExplanations(const v1::ExplainDeletesResponse& response) {
  if (response.explanations().empty()) return "No pending deletes.\n";
  std::string text;
  for (const v1::DeleteExplanation& e : response.explanations()) {
    absl::StrAppend(&text, e.server(), " / ", e.connector(), ": ", e.pending_deletes(),
                    " pending deletes\n");
    if (e.causes().empty()) absl::StrAppend(&text, "  no probable cause found\n");
    for (const v1::DeleteCause& c : e.causes()) {
      absl::StrAppend(&text, "  ", c.kind(), ": ", c.summary(), "\n");
      for (const std::string& line : c.evidence()) absl::StrAppend(&text, "    - ", line, "\n");
    }
  }
  return text;
}

Table ExplanationsCsvTable(const v1::ExplainDeletesResponse& response) {
  Table t;
  t.columns = {"server", "tenant", "connector", "pending_deletes", "cause", "summary", "evidence"};
  for (const v1::DeleteExplanation& e : response.explanations()) {
    for (const v1::DeleteCause& c : e.causes()) {
      std::string evidence;
      for (const std::string& line : c.evidence()) {
        absl::StrAppend(&evidence, evidence.empty() ? "" : "; ", line);
      }
      t.rows.push_back({e.server(), e.tenant(), e.connector(), absl::StrCat(e.pending_deletes()),
                        c.kind(), c.summary(), evidence});
    }
  }
  return t;
}

absl::Status ChangesCommand(const CliOptions& options, Query::StubInterface& stub,
                            std::ostream& out) {
  v1::ListConfigurationChangesRequest request;
  *request.mutable_filter() = FilterOf(options);
  v1::ListConfigurationChangesResponse all;
  while (true) {
    grpc::ClientContext context;
    PrepareCall(options, &context);
    v1::ListConfigurationChangesResponse page;
    const grpc::Status status = stub.ListConfigurationChanges(&context, request, &page);
    if (!status.ok()) return CallFailure(options, "ListConfigurationChanges", status);
    for (auto& c : *page.mutable_changes()) *all.add_changes() = std::move(c);
    if (page.next_page_token().empty() || page.next_page_token() == request.page_token()) break;
    request.set_page_token(page.next_page_token());
  }
  return Emit(options, ChangesToJson(all), ChangeRecord(v1::ConfigurationChange()),
              RenderTable(ChangesTable(all)), out);
}

absl::Status DriftCommand(const CliOptions& options, Query::StubInterface& stub,
                          std::ostream& out) {
  v1::ListConfigurationDriftRequest request;
  *request.mutable_filter() = FilterOf(options);
  grpc::ClientContext context;
  PrepareCall(options, &context);
  v1::ListConfigurationDriftResponse drift;
  const grpc::Status status = stub.ListConfigurationDrift(&context, request, &drift);
  if (!status.ok()) return CallFailure(options, "ListConfigurationDrift", status);
  return Emit(options, DriftToJson(drift), DriftRecord(v1::ConfigurationDrift()),
              RenderTable(DriftTable(drift)), out);
}

absl::Status ExplainDeletesCommand(const CliOptions& options, Query::StubInterface& stub,
                                   std::ostream& out) {
  v1::ExplainDeletesRequest request;
  *request.mutable_filter() = FilterOf(options);
  grpc::ClientContext context;
  PrepareCall(options, &context);
  v1::ExplainDeletesResponse response;
  const grpc::Status status = stub.ExplainDeletes(&context, request, &response);
  if (!status.ok()) return CallFailure(options, "ExplainDeletes", status);
  if (options.output == OutputFormat::kCsv) {
    out << RenderCsv(ExplanationsCsvTable(response));
    out.flush();
    if (!out) return absl::DataLossError("cannot write the output");
    return absl::OkStatus();
  }
  return Emit(options, ExplanationsToJson(response), Json::object(), RenderExplanations(response),
              out);
}

absl::Status CheckDeletes(const CliOptions& options) {
  if (options.explain && options.since) {
    return absl::InvalidArgumentError(
        "--since does not apply to deletes --explain (the causes are worked out since each "
        "connector's last successful export)");
  }
  return absl::OkStatus();
}

}  // namespace syncwatch::cli
