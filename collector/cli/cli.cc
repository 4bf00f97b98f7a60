#include "collector/cli/cli.h"

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/cli/channel.h"
#include "collector/cli/cli_options.h"
#include "collector/cli/config_commands.h"
#include "collector/cli/records.h"
#include "collector/cli/table.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::cli {
namespace {

using v1::Admin;
using v1::Query;

// The filter (and action) flags, as a bit set saying which ones a command
// honours.
enum FilterFlag : unsigned {
  kServerFilter = 1u << 0,
  kTenantFilter = 1u << 1,
  kConnectorFilter = 1u << 2,
  kSinceFilter = 1u << 3,
  kTypeFilter = 1u << 4,
  kStateFilter = 1u << 5,
  kAlertFlag = 1u << 6,
  kCommentFlag = 1u << 7,
  kEndFlags = 1u << 8,     // --for, --until
  kWindowFlags = 1u << 9,  // --runs, --export-errors, --snapshots
  kIdFlag = 1u << 10,
  kExplainFlag = 1u << 11,
};

struct Command {
  absl::string_view name;
  absl::string_view summary;
  unsigned filters;
  // The words after the command, for messages and --help ("ALERT_ID"); empty
  // for none. At least min_arguments and at most max_arguments of them.
  absl::string_view arguments;
  size_t min_arguments;
  size_t max_arguments;
  // Exactly one is set: a Query command or an Admin one. An Admin command
  // returns what it did on that collector ("created", "already there"), or
  // "" for a read.
  absl::Status (*run)(const CliOptions& options, Query::StubInterface& stub, std::ostream& out);
  absl::StatusOr<std::string> (*admin)(const CliOptions& options, Admin::StubInterface& stub,
                                       std::ostream& out);
  // Usage checks beyond the flags' own (nullptr for none); an error is exit 2.
  absl::Status (*check)(const CliOptions& options);
  // Whether the command line changes something (nullptr: never). A change goes
  // to every collector; a read to the first that answers.
  bool (*changes)(const CliOptions& options);
};

bool Always(const CliOptions&) { return true; }

// A synchronous list call of the Query stub, e.g. &Query::StubInterface::ListRuns.
template <typename Request, typename Response>
using ListRpc = grpc::Status (Query::StubInterface::*)(grpc::ClientContext*, const Request&,
                                                       Response*);

// Each call's deadline (--timeout) and token (--token-file).
void PrepareContext(const CliOptions& options, grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
}

// The user-facing line (without "syncwatch: ") for a failed call. Unreachable
// and slow collectors are the common cases and get their own wording.
absl::Status RpcFailure(const CliOptions& options, absl::string_view rpc,
                        const grpc::Status& grpc_status) {
  const absl::Status status = FromGrpcStatus(grpc_status);
  const std::string& detail = grpc_status.error_message();
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(
          absl::StrCat("cannot reach the collector at ", options.collector, ": ", detail));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(absl::StrCat(
          "no answer from the collector at ", options.collector, " to ", rpc, " within ",
          absl::FormatDuration(options.timeout), " (see --timeout): ", detail));
    case absl::StatusCode::kUnauthenticated:
      return absl::UnauthenticatedError(absl::StrCat(
          "the collector at ", options.collector, " refused ", rpc, ": ", detail,
          options.token.empty() ? " (pass --token-file FILE or set SYNCWATCH_TOKEN)"
                                : " (check the token in --token-file or SYNCWATCH_TOKEN)"));
    case absl::StatusCode::kUnimplemented:
      return absl::UnimplementedError(absl::StrCat("the collector at ", options.collector,
                                                   " does not support ", rpc,
                                                   " (older version?): ", detail));
    default:
      return absl::Status(
          status.code(), absl::StrCat("the collector at ", options.collector, " failed ", rpc, ": ",
                                      absl::StatusCodeToString(status.code()), ": ", detail));
  }
}

// Calls `rpc` page after page until the collector returns an empty
// next_page_token, appending every page's items to *all (protobuf MergeFrom
// concatenates repeated fields). Each page gets its own --timeout deadline.
template <typename Request, typename Response>
absl::Status ListAll(const CliOptions& options, Query::StubInterface& stub,
                     ListRpc<Request, Response> rpc, absl::string_view rpc_name, Request request,
                     Response* all) {
  while (true) {
    grpc::ClientContext context;
    PrepareContext(options, &context);
    Response page;
    const grpc::Status status = (stub.*rpc)(&context, request, &page);
    if (!status.ok()) return RpcFailure(options, rpc_name, status);
    std::string token = std::move(*page.mutable_next_page_token());
    page.clear_next_page_token();
    all->MergeFrom(page);
    if (token.empty()) return absl::OkStatus();
    // A collector bug that hands back the same token would loop forever.
    if (token == request.page_token()) {
      return absl::InternalError(absl::StrCat("the collector at ", options.collector,
                                              " returned the same ", rpc_name,
                                              " page token twice; giving up"));
    }
    request.set_page_token(std::move(token));
  }
}

v1::Filter MakeFilter(const CliOptions& options) {
  v1::Filter filter;
  if (options.server) filter.set_server(*options.server);
  if (options.tenant) filter.set_tenant(*options.tenant);
  if (options.connector) filter.set_connector(*options.connector);
  if (options.since) *filter.mutable_since() = ToProtoTimestamp(*options.since);
  return filter;
}

// The three renderings of one kind of list.
template <typename Response>
struct Renderers {
  std::string (*table)(const Response&);
  Json (*json)(const Response&);
  Table (*csv)(const Response&);
};

template <typename Response>
absl::Status Print(const CliOptions& options, const Response& all,
                   const Renderers<Response>& render, std::ostream& out) {
  switch (options.output) {
    case OutputFormat::kTable:
      out << render.table(all);
      break;
    case OutputFormat::kJson:
      out << RenderJson(render.json(all));
      break;
    case OutputFormat::kCsv:
      out << RenderCsv(render.csv(all));
      break;
  }
  out.flush();
  // A full disk or a closed pipe must not look like success to a script.
  if (!out) return absl::DataLossError("cannot write the output");
  return absl::OkStatus();
}

absl::Status ServersCommand(const CliOptions& options, Query::StubInterface& stub,
                            std::ostream& out) {
  v1::ListServersRequest request;
  *request.mutable_filter() = MakeFilter(options);
  v1::ListServersResponse all;
  SYNCWATCH_RETURN_IF_ERROR(ListAll(options, stub, &Query::StubInterface::ListServers,
                                    "ListServers", std::move(request), &all));
  const Renderers<v1::ListServersResponse> render = {
      [](const v1::ListServersResponse& r) { return RenderTable(ServersTable(r.servers())); },
      ServersToJson, ServersCsvTable};
  return Print(options, all, render, out);
}

absl::Status FleetCommand(const CliOptions& options, Query::StubInterface& stub,
                          std::ostream& out) {
  v1::FleetSummaryRequest request;
  if (options.server) request.mutable_filter()->set_server(*options.server);
  if (options.tenant) request.mutable_filter()->set_tenant(*options.tenant);
  grpc::ClientContext context;
  PrepareContext(options, &context);
  v1::FleetSummaryResponse fleet;
  const grpc::Status status = stub.FleetSummary(&context, request, &fleet);
  if (!status.ok()) return RpcFailure(options, "FleetSummary", status);
  const Renderers<v1::FleetSummaryResponse> render = {RenderFleet, FleetToJson, FleetCsvTable};
  return Print(options, fleet, render, out);
}

absl::Status RunsCommand(const CliOptions& options, Query::StubInterface& stub, std::ostream& out) {
  v1::ListRunsRequest request;
  *request.mutable_filter() = MakeFilter(options);
  if (options.type) request.mutable_filter()->set_result(*options.type);
  v1::ListRunsResponse all;
  SYNCWATCH_RETURN_IF_ERROR(ListAll(options, stub, &Query::StubInterface::ListRuns, "ListRuns",
                                    std::move(request), &all));
  const Renderers<v1::ListRunsResponse> render = {
      [](const v1::ListRunsResponse& r) { return RenderTable(RunsTable(r)); }, RunsToJson,
      RunsCsvTable};
  return Print(options, all, render, out);
}

absl::Status DeletesCommand(const CliOptions& options, Query::StubInterface& stub,
                            std::ostream& out) {
  if (options.explain) return ExplainDeletesCommand(options, stub, out);
  v1::ListPendingExportsRequest request;
  *request.mutable_filter() = MakeFilter(options);
  v1::ListPendingExportsResponse all;
  SYNCWATCH_RETURN_IF_ERROR(ListAll(options, stub, &Query::StubInterface::ListPendingExports,
                                    "ListPendingExports", std::move(request), &all));
  const Renderers<v1::ListPendingExportsResponse> render = {
      [](const v1::ListPendingExportsResponse& r) { return RenderPendingDeletes(r); },
      PendingDeletesToJson, PendingDeletesCsvTable};
  return Print(options, all, render, out);
}

absl::Status ErrorsCommand(const CliOptions& options, Query::StubInterface& stub,
                           std::ostream& out) {
  v1::ListExportErrorsRequest request;
  *request.mutable_filter() = MakeFilter(options);
  if (options.type) request.mutable_filter()->set_error_type(*options.type);
  v1::ListExportErrorsResponse all;
  SYNCWATCH_RETURN_IF_ERROR(ListAll(options, stub, &Query::StubInterface::ListExportErrors,
                                    "ListExportErrors", std::move(request), &all));
  const Renderers<v1::ListExportErrorsResponse> render = {
      [](const v1::ListExportErrorsResponse& r) { return RenderTable(ExportErrorsTable(r)); },
      ExportErrorsToJson, ExportErrorsCsvTable};
  return Print(options, all, render, out);
}

// Firing before resolved, critical before warning, newest first: what needs
// attention comes first in every output format.
void SortAlerts(v1::ListAlertsResponse* response) {
  auto rank = [](const v1::Alert& a) {
    return std::make_tuple(a.state() == v1::ALERT_STATE_FIRING ? 0 : 1,
                           a.severity() == "critical" ? 0 : 1, -ToUnixMicrosOrZero(a.started_at()));
  };
  std::stable_sort(response->mutable_alerts()->begin(), response->mutable_alerts()->end(),
                   [&rank](const v1::Alert& a, const v1::Alert& b) { return rank(a) < rank(b); });
}

const Renderers<v1::ListAlertsResponse> kAlertRenderers = {
    [](const v1::ListAlertsResponse& r) { return RenderTable(AlertsTable(r)); }, AlertsToJson,
    AlertsCsvTable};

absl::Status AlertsCommand(const CliOptions& options, Query::StubInterface& stub,
                           std::ostream& out) {
  v1::ListAlertsRequest request;
  *request.mutable_filter() = MakeFilter(options);
  switch (options.state.value_or(AlertStateFilter::kFiring)) {
    case AlertStateFilter::kFiring:
      request.set_state(v1::ALERT_STATE_FIRING);
      break;
    case AlertStateFilter::kResolved:
      request.set_state(v1::ALERT_STATE_RESOLVED);
      break;
    case AlertStateFilter::kAll:
      request.set_state(v1::ALERT_STATE_UNSPECIFIED);
      break;
  }
  v1::ListAlertsResponse all;
  SYNCWATCH_RETURN_IF_ERROR(ListAll(options, stub, &Query::StubInterface::ListAlerts, "ListAlerts",
                                    std::move(request), &all));
  SortAlerts(&all);
  return Print(options, all, kAlertRenderers, out);
}

// A single Admin call with the --timeout deadline and the token.
template <typename Request, typename Response>
absl::Status CallAdmin(const CliOptions& options,
                       grpc::Status (Admin::StubInterface::*rpc)(grpc::ClientContext*,
                                                                 const Request&, Response*),
                       Admin::StubInterface& stub, absl::string_view rpc_name,
                       const Request& request, Response* response) {
  grpc::ClientContext context;
  PrepareContext(options, &context);
  const grpc::Status status = (stub.*rpc)(&context, request, response);
  if (status.ok()) return absl::OkStatus();
  const absl::Status failure = RpcFailure(options, rpc_name, status);
  if (!absl::IsPermissionDenied(failure)) return failure;
  return absl::PermissionDeniedError(
      absl::StrCat(failure.message(),
                   " (pass a token with the admin role: --token-file FILE or SYNCWATCH_TOKEN)"));
}

const Renderers<v1::ListSilencesResponse> kSilenceRenderers = {
    [](const v1::ListSilencesResponse& r) { return RenderTable(SilencesTable(r)); }, SilencesToJson,
    SilencesCsvTable};
const Renderers<v1::GetRetentionResponse> kRetentionRenderers = {
    [](const v1::GetRetentionResponse& r) { return RenderTable(RetentionTable(r)); },
    RetentionToJson, RetentionCsvTable};

absl::StatusOr<std::string> AckCommand(const CliOptions& options, Admin::StubInterface& stub,
                                       std::ostream& out) {
  v1::AckAlertRequest request;
  request.set_fingerprint(options.arguments[0]);
  if (options.comment) request.set_comment(*options.comment);
  v1::AckAlertResponse response;
  SYNCWATCH_RETURN_IF_ERROR(
      CallAdmin(options, &Admin::StubInterface::AckAlert, stub, "AckAlert", request, &response));
  v1::ListAlertsResponse acked;
  *acked.add_alerts() = response.alert();
  SYNCWATCH_RETURN_IF_ERROR(Print(options, acked, kAlertRenderers, out));
  return std::string("acknowledged");
}

absl::Status CheckSilence(const CliOptions& options) {
  if (options.server.value_or("").empty() && options.tenant.value_or("").empty() &&
      options.alert.value_or("").empty()) {
    return absl::InvalidArgumentError(
        "silence needs at least one matcher: --server NAME, --tenant NAME or --alert NAME");
  }
  if (options.for_duration.has_value() == options.until.has_value()) {
    return absl::InvalidArgumentError(
        "silence needs either --for DURATION (e.g. 4h, 2d) or --until TIME, not both");
  }
  return absl::OkStatus();
}

// Sent to every collector with the same id and end (see SameOnEveryCollector), so
// that it is one silence everywhere and repeating it is harmless.
absl::StatusOr<std::string> SilenceCommand(const CliOptions& options, Admin::StubInterface& stub,
                                           std::ostream& out) {
  v1::CreateSilenceRequest request;
  v1::Silence& silence = *request.mutable_silence();
  silence.set_id(options.id.value_or(""));
  silence.set_server(options.server.value_or(""));
  silence.set_tenant(options.tenant.value_or(""));
  silence.set_alert_name(options.alert.value_or(""));
  silence.set_comment(options.comment.value_or(""));
  if (options.for_duration) {
    *request.mutable_duration() = ToProtoDuration(*options.for_duration);
  } else {
    *request.mutable_ends_at() = ToProtoTimestamp(*options.until);
  }
  v1::CreateSilenceResponse response;
  SYNCWATCH_RETURN_IF_ERROR(CallAdmin(options, &Admin::StubInterface::CreateSilence, stub,
                                      "CreateSilence", request, &response));
  v1::ListSilencesResponse created;
  *created.add_silences() = response.silence();
  SYNCWATCH_RETURN_IF_ERROR(Print(options, created, kSilenceRenderers, out));
  return std::string(response.already_existed() ? "already there" : "created");
}

absl::StatusOr<std::string> SilencesCommand(const CliOptions& options, Admin::StubInterface& stub,
                                            std::ostream& out) {
  v1::ListSilencesResponse response;
  SYNCWATCH_RETURN_IF_ERROR(CallAdmin(options, &Admin::StubInterface::ListSilences, stub,
                                      "ListSilences", v1::ListSilencesRequest(), &response));
  SYNCWATCH_RETURN_IF_ERROR(Print(options, response, kSilenceRenderers, out));
  return std::string();
}

absl::StatusOr<std::string> UnsilenceCommand(const CliOptions& options, Admin::StubInterface& stub,
                                             std::ostream& out) {
  v1::DeleteSilenceRequest request;
  request.set_id(options.arguments[0]);
  v1::DeleteSilenceResponse response;
  SYNCWATCH_RETURN_IF_ERROR(CallAdmin(options, &Admin::StubInterface::DeleteSilence, stub,
                                      "DeleteSilence", request, &response));
  v1::ListSilencesResponse ended;
  *ended.add_silences() = response.silence();
  SYNCWATCH_RETURN_IF_ERROR(Print(options, ended, kSilenceRenderers, out));
  return std::string(response.already_ended() ? "already ended" : "ended");
}

absl::Status CheckRetention(const CliOptions& options) {
  const std::string action = options.arguments.empty() ? "" : options.arguments[0];
  const bool windows = options.runs || options.export_errors || options.snapshots;
  if (action == "set") {
    if (!windows) {
      return absl::InvalidArgumentError(
          "retention set needs at least one of --runs, --export-errors, --snapshots "
          "(a duration such as 200d, or off)");
    }
    return absl::OkStatus();
  }
  if (action != "" && action != "reset") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown retention action \"", action, "\"; want set or reset (or nothing to show it)"));
  }
  if (windows) {
    return absl::InvalidArgumentError(
        "--runs, --export-errors and --snapshots only apply to `retention set`");
  }
  return absl::OkStatus();
}

bool RetentionChanges(const CliOptions& options) { return !options.arguments.empty(); }

absl::StatusOr<std::string> RetentionCommand(const CliOptions& options, Admin::StubInterface& stub,
                                             std::ostream& out) {
  v1::GetRetentionResponse response;
  if (options.arguments.empty()) {
    SYNCWATCH_RETURN_IF_ERROR(CallAdmin(options, &Admin::StubInterface::GetRetention, stub,
                                        "GetRetention", v1::GetRetentionRequest(), &response));
  } else {
    v1::SetRetentionRequest request;
    if (options.arguments[0] == "reset") request.set_reset_to_config(true);
    v1::RetentionWindows& w = *request.mutable_windows();
    if (options.runs) *w.mutable_runs() = ToProtoDuration(*options.runs);
    if (options.export_errors) *w.mutable_export_errors() = ToProtoDuration(*options.export_errors);
    if (options.snapshots) *w.mutable_snapshots() = ToProtoDuration(*options.snapshots);
    SYNCWATCH_RETURN_IF_ERROR(CallAdmin(options, &Admin::StubInterface::SetRetention, stub,
                                        "SetRetention", request, &response));
  }
  SYNCWATCH_RETURN_IF_ERROR(Print(options, response, kRetentionRenderers, out));
  return std::string(RetentionChanges(options) ? "changed" : "");
}

constexpr unsigned kAlertFilters =
    kServerFilter | kTenantFilter | kConnectorFilter | kSinceFilter | kStateFilter;

constexpr Command kCommands[] = {
    {"fleet", "every server's health, worst first, with fleet-wide counts",
     kServerFilter | kTenantFilter, "", 0, 0, FleetCommand, nullptr, nullptr, nullptr},
    {"servers", "sync servers by name: health, pending deletes, last cycle, alerts, last seen",
     kServerFilter | kTenantFilter, "", 0, 0, ServersCommand, nullptr, nullptr, nullptr},
    {"runs", "run-profile results, oldest first per connector",
     kServerFilter | kTenantFilter | kConnectorFilter | kSinceFilter | kTypeFilter, "", 0, 0,
     RunsCommand, nullptr, nullptr, nullptr},
    {"deletes", "pending export deletes per connector (latest snapshot) and the objects",
     kServerFilter | kTenantFilter | kConnectorFilter | kSinceFilter | kExplainFlag, "", 0, 0,
     DeletesCommand, nullptr, CheckDeletes, nullptr},
    {"errors", "export errors with their Connect Health category",
     kServerFilter | kTenantFilter | kConnectorFilter | kSinceFilter | kTypeFilter, "", 0, 0,
     ErrorsCommand, nullptr, nullptr, nullptr},
    {"alerts", "alerts (deletion threshold, uniqueness, failed or stale sync, silent agent)",
     kAlertFilters, "", 0, 0, AlertsCommand, nullptr, nullptr, nullptr},
    {"ack", "acknowledge a firing alert by its ID (admin)", kCommentFlag, "ALERT_ID", 1, 1, nullptr,
     AckCommand, nullptr, Always},
    {"silence", "hold back the notifications of matching alerts for a while (admin)",
     kServerFilter | kTenantFilter | kAlertFlag | kEndFlags | kCommentFlag | kIdFlag, "", 0, 0,
     nullptr, SilenceCommand, CheckSilence, Always},
    {"silences", "the silences in force", 0, "", 0, 0, nullptr, SilencesCommand, nullptr, nullptr},
    {"unsilence", "end a silence now (admin)", 0, "SILENCE_ID", 1, 1, nullptr, UnsilenceCommand,
     nullptr, Always},
    {"retention", "the retention windows; `retention set|reset` changes them (admin)", kWindowFlags,
     "[set|reset]", 0, 1, nullptr, RetentionCommand, CheckRetention, RetentionChanges},
    {"changes", "configuration changes of each server, oldest first",
     kServerFilter | kTenantFilter | kConnectorFilter | kSinceFilter, "", 0, 0, ChangesCommand,
     nullptr, nullptr, nullptr},
    {"drift", "how each staging server's configuration differs from its active server's",
     kServerFilter | kTenantFilter, "", 0, 0, DriftCommand, nullptr, nullptr, nullptr},
};

const Command* FindCommand(absl::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string CommandNames() {
  std::vector<absl::string_view> names;
  for (const Command& command : kCommands) names.push_back(command.name);
  return absl::StrJoin(names, ", ");
}

std::string CommandsWithFilter(FilterFlag flag) {
  std::vector<absl::string_view> names;
  for (const Command& command : kCommands) {
    if (command.filters & flag) names.push_back(command.name);
  }
  return absl::StrJoin(names, ", ");
}

// A filter the collector would not apply must not be dropped silently: the
// user would read an unfiltered list as a filtered one.
absl::Status CheckFiltersApply(const Command& command, const CliOptions& options) {
  const struct {
    bool given;
    FilterFlag flag;
    absl::string_view name;
  } filters[] = {
      {options.server.has_value(), kServerFilter, "server"},
      {options.tenant.has_value(), kTenantFilter, "tenant"},
      {options.connector.has_value(), kConnectorFilter, "connector"},
      {options.since.has_value(), kSinceFilter, "since"},
      {options.type.has_value(), kTypeFilter, "type"},
      {options.explain, kExplainFlag, "explain"},
      {options.state.has_value(), kStateFilter, "state"},
      {options.alert.has_value(), kAlertFlag, "alert"},
      {options.comment.has_value(), kCommentFlag, "comment"},
      {options.id.has_value(), kIdFlag, "id"},
      {options.for_duration.has_value(), kEndFlags, "for"},
      {options.until.has_value(), kEndFlags, "until"},
      {options.runs.has_value(), kWindowFlags, "runs"},
      {options.export_errors.has_value(), kWindowFlags, "export-errors"},
      {options.snapshots.has_value(), kWindowFlags, "snapshots"},
  };
  for (const auto& filter : filters) {
    if (filter.given && !(command.filters & filter.flag)) {
      return absl::InvalidArgumentError(absl::StrCat("--", filter.name, " does not apply to ",
                                                     command.name, " (only to ",
                                                     CommandsWithFilter(filter.flag), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckArguments(const Command& command, const CliOptions& options) {
  const size_t n = options.arguments.size();
  if (n > command.max_arguments) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"",
                                                   options.arguments[command.max_arguments],
                                                   "\" after the command \"", command.name, "\""));
  }
  if (n < command.min_arguments) {
    return absl::InvalidArgumentError(absl::StrCat(command.name, " needs ", command.arguments,
                                                   " (syncwatch ", command.name, " ",
                                                   command.arguments, ")"));
  }
  return absl::OkStatus();
}

// Everything that can end the run before a call to the collector: --help, a
// bad command line, an unknown command, a misplaced filter. Returns the command
// to run, or nullptr with *exit_code set when there is nothing to run.
const Command* Prepare(const absl::StatusOr<CliOptions>& options, std::ostream& out,
                       std::ostream& err, int* exit_code) {
  const std::string hint = " (see syncwatch --help)\n";
  if (!options.ok()) {
    err << "syncwatch: " << options.status().message() << hint;
    *exit_code = kExitUsage;
    return nullptr;
  }
  if (options->help) {
    out << UsageText();
    *exit_code = kExitOk;
    return nullptr;
  }
  if (options->command.empty()) {
    // A script that lost its command word must not see success.
    err << "syncwatch: no command given\n\n" << UsageText();
    *exit_code = kExitUsage;
    return nullptr;
  }
  const Command* command = FindCommand(options->command);
  if (command == nullptr) {
    err << "syncwatch: unknown command \"" << options->command << "\"; commands are "
        << CommandNames() << hint;
    *exit_code = kExitUsage;
    return nullptr;
  }
  absl::Status applies = CheckFiltersApply(*command, *options);
  if (applies.ok()) applies = CheckArguments(*command, *options);
  if (applies.ok() && command->check != nullptr) applies = command->check(*options);
  if (!applies.ok()) {
    err << "syncwatch: " << applies.message() << hint;
    *exit_code = kExitUsage;
    return nullptr;
  }
  return command;
}

// The stubs of one collector, borrowed for the run.
struct Stubs {
  Query::StubInterface* query;
  Admin::StubInterface* admin;
};
using Connect = std::function<absl::StatusOr<Stubs>(const std::string& address)>;

// A silence made up by this command line: 16 hex digits, like the collector's.
std::string NewSilenceId() {
  std::random_device random;
  return absl::StrFormat("%08x%08x", random(), random());
}

// What must be the same on every collector for one change to be one change
// there: a silence's id (chosen here) and its end (--for made absolute now).
void SameOnEveryCollector(const Command& command, CliOptions* options) {
  if (!(command.filters & kIdFlag)) return;
  if (!options->id) options->id = NewSilenceId();
  if (options->for_duration) {
    // Whole seconds: the end printed in the hint for a re-run is exact.
    options->until =
        absl::FromUnixSeconds(absl::ToUnixSeconds(RealClock::Get().Now() + *options->for_duration));
    options->for_duration.reset();
  }
}

absl::StatusOr<std::string> RunOn(const Command& command, const CliOptions& options,
                                  const Stubs& stubs, std::ostream& out) {
  if (command.run != nullptr) {
    SYNCWATCH_RETURN_IF_ERROR(command.run(options, *stubs.query, out));
    return std::string();
  }
  return command.admin(options, *stubs.admin, out);
}

// A read: the collectors hold the same data (every agent delivers to each), so
// the first that answers does; an unreachable or hung one is passed over.
int ReadFromFirstAnswering(const Command& command, CliOptions options, const Connect& connect,
                           std::ostream& out, std::ostream& err) {
  const std::vector<std::string> collectors = options.collectors;
  for (size_t i = 0; i < collectors.size(); ++i) {
    options.collector = collectors[i];
    absl::StatusOr<Stubs> stubs = connect(collectors[i]);
    absl::Status status = stubs.status();
    if (stubs.ok()) status = RunOn(command, options, *stubs, out).status();
    if (status.ok()) return kExitOk;
    const bool next = i + 1 < collectors.size() &&
                      (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status));
    err << "syncwatch: " << status.message();
    if (!next) {
      err << "\n";
      return kExitFailure;
    }
    err << "; asking " << collectors[i + 1] << "\n";
  }
  return kExitFailure;
}

// A change: made on every collector, each told apart in the report, so that
// all of them act on it (each notifies on its own). The result is printed
// once, from the first collector that made the change; with several
// collectors one line per collector on `err` says what happened there.
int ApplyToEvery(const Command& command, CliOptions options, const Connect& connect,
                 std::ostream& out, std::ostream& err) {
  SameOnEveryCollector(command, &options);
  const std::vector<std::string> collectors = options.collectors;
  const bool several = collectors.size() > 1;
  std::vector<std::string> failed;
  bool printed = false;
  for (const std::string& address : collectors) {
    options.collector = address;
    std::ostringstream again;  // the same result from the next collectors
    absl::StatusOr<Stubs> stubs = connect(address);
    const absl::StatusOr<std::string> done =
        stubs.ok() ? RunOn(command, options, *stubs, printed ? again : out)
                   : absl::StatusOr<std::string>(stubs.status());
    if (!done.ok()) {
      err << "syncwatch: " << done.status().message() << "\n";
      failed.push_back(address);
      continue;
    }
    printed = true;
    if (several) err << "syncwatch: " << address << ": " << *done << "\n";
  }
  if (failed.empty()) return kExitOk;
  if (several) {
    std::string again = "the same command";
    if (options.id && options.until) {
      again =
          absl::StrCat("it with --id ", *options.id, " --until ",
                       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *options.until, absl::UTCTimeZone()));
    }
    err << "syncwatch: not done on " << absl::StrJoin(failed, ", ") << " (done on "
        << collectors.size() - failed.size() << " of " << collectors.size() << " collectors); run "
        << again << " again to finish (where it is done, repeating it changes nothing)\n";
  }
  return kExitFailure;
}

int Execute(const Command& command, const CliOptions& options, const Connect& connect,
            std::ostream& out, std::ostream& err) {
  if (command.changes != nullptr && command.changes(options)) {
    return ApplyToEvery(command, options, connect, out, err);
  }
  return ReadFromFirstAnswering(command, options, connect, out, err);
}

}  // namespace

std::string UsageText() {
  std::string text =
      "Usage: syncwatch [--collector ADDR[,ADDR...]] <command> [flags]\n"
      "\n"
      "Shows what the syncwatch collector knows about the Entra Connect sync servers.\n"
      "\n"
      "Commands:\n";
  for (const Command& command : kCommands) {
    constexpr size_t kNameWidth = 22;
    const std::string usage = command.arguments.empty()
                                  ? std::string(command.name)
                                  : absl::StrCat(command.name, " ", command.arguments);
    const size_t pad = usage.size() < kNameWidth ? kNameWidth - usage.size() : 1;
    absl::StrAppend(&text, "  ", usage, std::string(pad, ' '), command.summary, "\n");
  }
  absl::StrAppend(
      &text,
      "\n"
      "Flags (before or after the command):\n"
      "  --collector ADDR[,ADDR...]  the collectors' addresses, comma-separated or the flag\n"
      "                      repeated (default: $SYNCWATCH_COLLECTOR, else 127.0.0.1:7443)\n"
      "  --output FORMAT     table, json or csv (default table)\n"
      "  --server NAME       only this sync server\n"
      "  --tenant NAME       only this tenant\n"
      "  --connector NAME    only this connector (",
      CommandsWithFilter(kConnectorFilter),
      ")\n"
      "  --since WHEN        only records since WHEN: a duration back from now (30m, 24h, 7d)\n"
      "                      or an ISO-8601 time (2024-05-01T06:00:00Z) (",
      CommandsWithFilter(kSinceFilter),
      ")\n"
      "  --type VALUE        runs: result prefix, e.g. stopped- or completed-;\n"
      "                      errors: error type, e.g. AttributeValueMustBeUnique\n"
      "  --state STATE       alerts: firing (default), resolved or all\n"
      "  --explain           deletes: the probable causes, with their evidence\n"
      "  --comment TEXT      ack, silence: why\n"
      "  --alert NAME        silence: the alert name to match (with --server, --tenant:\n"
      "                      at least one of the three)\n"
      "  --for DURATION      silence: how long (4h, 2d, 1w), or --until TIME (ISO 8601)\n"
      "  --id ID             silence: its id (default: a new one), to finish one that\n"
      "                      reached only some collectors\n"
      "  --runs, --export-errors, --snapshots DURATION\n"
      "                      retention set: the new window (200d, 36h) or off\n"
      "  --timeout DURATION  deadline of each call to the collector (default 10s)\n"
      "  --tls-ca FILE       CA of the collector's certificate (TLS; plain text without it)\n"
      "  --tls-cert FILE, --tls-key FILE  client certificate for mutual TLS\n"
      "  --tls-server-name NAME  name expected in the collector's certificate\n"
      "  --token-file FILE   bearer token for a collector with access control\n"
      "                      (default: the SYNCWATCH_TOKEN environment variable)\n"
      "  --help              show this text\n"
      "\n"
      "Admin commands need a token with the admin role on a collector with access\n"
      "control. With several collectors, a change (ack, silence, unsilence, retention\n"
      "set|reset) is made on each, one line per collector on stderr; repeating it is\n"
      "harmless. Other commands ask the first collector that answers.\n"
      "\n"
      "Exit status: 0 done, 1 a collector could not answer or refused, 2 bad usage.\n");
  return text;
}

int RunCommand(const std::vector<std::string>& args, Query::StubInterface& query,
               Admin::StubInterface& admin, std::ostream& out, std::ostream& err) {
  const absl::StatusOr<CliOptions> options = ParseArgs(args, RealClock::Get().Now());
  int exit_code = kExitOk;
  const Command* command = Prepare(options, out, err, &exit_code);
  if (command == nullptr) return exit_code;
  const Connect same = [&query, &admin](const std::string&) -> absl::StatusOr<Stubs> {
    return Stubs{&query, &admin};
  };
  return Execute(*command, *options, same, out, err);
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const absl::StatusOr<CliOptions> options = ParseArgs(args, RealClock::Get().Now());
  int exit_code = kExitOk;
  const Command* command = Prepare(options, out, err, &exit_code);
  if (command == nullptr) return exit_code;
  std::vector<std::unique_ptr<Query::StubInterface>> queries;
  std::vector<std::unique_ptr<Admin::StubInterface>> admins;
  const Connect connect = [&](const std::string& address) -> absl::StatusOr<Stubs> {
    CliOptions one = *options;
    one.collector = address;
    SYNCWATCH_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, NewCollectorChannel(one));
    queries.push_back(Query::NewStub(channel));
    admins.push_back(Admin::NewStub(channel));
    return Stubs{queries.back().get(), admins.back().get()};
  };
  return Execute(*command, *options, connect, out, err);
}

void PrepareCall(const CliOptions& options, grpc::ClientContext* context) {
  PrepareContext(options, context);
}

absl::Status CallFailure(const CliOptions& options, absl::string_view rpc,
                         const grpc::Status& status) {
  return RpcFailure(options, rpc, status);
}

v1::Filter FilterOf(const CliOptions& options) { return MakeFilter(options); }

}  // namespace syncwatch::cli
