// The fleet page, the error pages and the JSON rendering; the server page is
// in server_page.cc.
#include "collector/web/pages.h"

#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/web/html.h"
#include "common/names.h"
#include "nlohmann/json.hpp"

namespace syncwatch::collector::web {
namespace {

// A summary card: a big number and its label; `css_class` colours it.
std::string Card(absl::string_view css_class, absl::string_view number, absl::string_view label,
                 absl::string_view sub = {}) {
  return absl::StrCat("<div class=\"card ", css_class, "\"><div class=\"n\">", number,
                      "</div><div class=\"l\">", label, "</div>",
                      sub.empty() ? "" : absl::StrCat("<div class=\"s\">", sub, "</div>"),
                      "</div>");
}

// A health card, grey when nobody is in that state.
std::string HealthCard(v1::Health health, int32_t count) {
  const absl::string_view name = HealthName(health);
  return Card(count == 0 ? absl::StrCat(name, " zero") : std::string(name), absl::StrCat(count),
              name);
}

std::string FleetRow(const v1::ServerInfo& s, absl::Time now) {
  const std::string health(HealthName(s.health()));
  const std::string role(ServerRoleName(s.role()));
  std::string row = absl::StrCat(
      "<tr class=\"h-", health, "\" data-server=\"", HtmlEscape(s.server()), "\" data-health=\"",
      health, "\">", "<td><a class=\"server\" href=\"servers/", UrlPathEscape(s.server()), "\">",
      HtmlEscape(s.server()), "</a></td>", "<td>",
      s.tenant().empty() ? "<span class=\"muted\">&mdash;</span>" : HtmlEscape(s.tenant()), "</td>",
      "<td><span class=\"role ", role, "\">", role, "</span></td>", "<td>", HealthBadge(s));
  // The first reason, cut to three lines; all of them in full in the tooltip
  // and on the server's page.
  if (!s.health_reasons().empty()) {
    absl::StrAppend(&row, "<div class=\"reasons\" title=\"",
                    HtmlEscape(absl::StrJoin(s.health_reasons(), "\n")),
                    "\"><span class=\"clamp\">", HtmlEscape(s.health_reasons(0)), "</span>");
    if (s.health_reasons_size() > 1) {
      absl::StrAppend(&row, "<span class=\"also\">and ", s.health_reasons_size() - 1,
                      s.health_reasons_size() == 2 ? " more reason" : " more reasons", "</span>");
    }
    absl::StrAppend(&row, "</div>");
  }
  absl::StrAppend(&row, "</td><td class=\"num\">", PendingDeletesHtml(s), "</td><td>",
                  TimeWithAgo(s.has_last_successful_cycle(), s.last_successful_cycle(), now),
                  "</td><td>");
  if (s.last_run_result().empty()) {
    absl::StrAppend(&row, "<span class=\"muted\">none yet</span>");
  } else {
    absl::StrAppend(&row, Badge(RunResultClass(s.last_run_result()), s.last_run_result()),
                    "<span class=\"ago\">", Ago(s.has_last_run_time(), s.last_run_time(), now, ""),
                    "</span>");
  }
  absl::StrAppend(&row, "</td><td class=\"num\">", OpenAlertsHtml(s), "</td><td class=\"nowrap\">",
                  Ago(s.has_last_seen(), s.last_seen(), now), "</td></tr>\n");
  return row;
}

// A short page saying what went wrong (`body_html`), linking back to the
// fleet. Links are absolute: such a page may answer any path.
std::string MessagePage(absl::string_view heading, absl::string_view body_html, absl::Time now,
                        bool refresh) {
  Frame frame;
  frame.title = std::string(heading);
  frame.root = "/";
  frame.now = now;
  frame.refresh = refresh;
  return absl::StrCat(PageStart(frame), "<h1>", HtmlEscape(heading), "</h1>\n", body_html,
                      "\n<p><a href=\"/\">Back to the fleet</a></p>\n", PageEnd(frame));
}

}  // namespace

std::string RenderFleetPage(const v1::FleetSummaryResponse& fleet, absl::Time now) {
  Frame frame;
  frame.title = "Fleet";
  frame.crumb = "fleet";
  frame.json_href = "api/v1/fleet";
  frame.now = now;
  std::string out = PageStart(frame);
  absl::StrAppend(&out, "<h1>Sync servers</h1>\n<div class=\"cards\">",
                  Card("", absl::StrCat(fleet.servers()), "servers",
                       absl::StrCat(fleet.active_servers(), " active &middot; ",
                                    fleet.staging_servers(), " staging &middot; ", fleet.tenants(),
                                    fleet.tenants() == 1 ? " tenant" : " tenants")),
                  HealthCard(v1::HEALTH_OK, fleet.ok()),
                  HealthCard(v1::HEALTH_WARNING, fleet.warning()),
                  HealthCard(v1::HEALTH_CRITICAL, fleet.critical()),
                  HealthCard(v1::HEALTH_UNKNOWN, fleet.unknown()));
  absl::StrAppend(&out,
                  Card(fleet.pending_deletes() == 0 ? "zero" : "",
                       FormatCount(fleet.pending_deletes()), "pending deletes"),
                  Card(fleet.open_critical_alerts() > 0 ? "critical"
                       : fleet.open_alerts() > 0        ? "warning"
                                                        : "zero",
                       absl::StrCat(fleet.open_alerts()), "open alerts",
                       absl::StrCat(fleet.open_critical_alerts(), " critical")),
                  "</div>\n");
  if (fleet.server_list().empty()) {
    absl::StrAppend(&out,
                    "<div class=\"empty\">No sync server has reported to this collector yet. "
                    "Start <span class=\"mono\">syncwatch-agent</span> on a sync server with this "
                    "collector in its <span class=\"mono\">collectors:</span> list.</div>\n");
  } else {
    absl::StrAppend(&out,
                    "<div class=\"wrap\"><table id=\"fleet\">\n<thead><tr><th>Server</th>"
                    "<th>Tenant</th><th>Role</th><th>Health</th>"
                    "<th class=\"num\" title=\"pending deletes / export deletion threshold\">"
                    "Pending deletes</th><th>Last successful cycle</th><th>Last run</th>"
                    "<th class=\"num\">Open alerts</th><th>Last seen</th></tr></thead>\n<tbody>\n");
    for (const v1::ServerInfo& s : fleet.server_list()) absl::StrAppend(&out, FleetRow(s, now));
    absl::StrAppend(&out, "</tbody></table></div>\n");
  }
  absl::StrAppend(&out, PageEnd(frame));
  return out;
}

std::string RenderNotFound(absl::string_view what, absl::Time now) {
  return MessagePage("Not found", absl::StrCat("<p>", HtmlEscape(what), "</p>"), now,
                     /*refresh=*/false);
}

std::string RenderErrorPage(const absl::Status& status, absl::Time now) {
  return MessagePage("The collector could not answer",
                     absl::StrCat("<p class=\"mono\">", HtmlEscape(status.ToString()),
                                  "</p>\n<p>The page retries every 30 s.</p>"),
                     now, /*refresh=*/true);
}

absl::StatusOr<std::string> RenderJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot render ", message.GetTypeName(), " as JSON: ", status.ToString()));
  }
  return out;
}

std::string RenderJsonError(const absl::Status& status) {
  nlohmann::json error = {{"code", absl::StatusCodeToString(status.code())},
                          {"message", std::string(status.message())}};
  return error.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace syncwatch::collector::web
