// The server page (RenderServerPage in pages.h).
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/alerts/alert.h"
#include "collector/web/error_groups.h"
#include "collector/web/html.h"
#include "collector/web/pages.h"
#include "common/names.h"
#include "common/time_util.h"

namespace syncwatch::collector::web {
namespace {

constexpr absl::string_view kNone = "<span class=\"muted\">&mdash;</span>";

std::string TextOrNone(const std::string& s) {
  return s.empty() ? std::string(kNone) : HtmlEscape(s);
}

std::string NumCell(int64_t n) {
  return absl::StrCat("<td class=\"num", n == 0 ? " zero" : "", "\">", FormatCount(n), "</td>");
}

// A labelled value in the facts grid; `value_html` is already HTML.
std::string Fact(absl::string_view label, absl::string_view value_html) {
  return absl::StrCat("<div><div class=\"l\">", label, "</div>", value_html, "</div>");
}

// "20 s", "3 min 05 s", "1 h 02 min": how long a run took.
std::string RunDuration(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return absl::StrCat(s, " s");
  if (s < 3600) return absl::StrCat(s / 60, " min ", absl::Dec(s % 60, absl::kZeroPad2), " s");
  return absl::StrCat(s / 3600, " h ", absl::Dec(s / 60 % 60, absl::kZeroPad2), " min");
}

std::string MiB(uint64_t bytes) {
  return absl::StrCat(absl::SixDigits(static_cast<double>(bytes) / (1 << 20)), " MiB");
}

// A section heading with its anchor and a count beside it.
std::string SectionHeading(absl::string_view id, absl::string_view title, absl::string_view count) {
  return absl::StrCat("<h2 id=\"", id, "\">", title, "<span class=\"count\">", count,
                      "</span></h2>\n");
}

// A table in a bordered box. A `scroll` table (a long list) scrolls inside a
// box of limited height, so that the sections below it stay in reach.
std::string TableStart(absl::string_view header_cells, absl::string_view id = {},
                       bool scroll = false) {
  return absl::StrCat("<div class=\"wrap\">", scroll ? "<div class=\"scroll\">" : "", "<table",
                      id.empty() ? "" : absl::StrCat(" id=\"", id, "\""), "><thead><tr>",
                      header_cells, "</tr></thead>\n<tbody>\n");
}

// Closes a TableStart(); `more` (HTML, may be empty) goes below the table.
std::string TableEnd(absl::string_view more = {}, bool scroll = false) {
  return absl::StrCat("</tbody></table>", scroll ? "</div>" : "",
                      more.empty() ? "" : absl::StrCat("<div class=\"more\">", more, "</div>"),
                      "</div>\n");
}

// True when `deletes` on a connector would stop its export: the threshold
// guards exports to Entra ID only.
bool OverThreshold(const v1::ServerInfo& s, const std::string& connector,
                   const std::string& connector_id, int64_t deletes) {
  return s.deletion_threshold_enabled() && s.deletion_threshold() > 0 &&
         deletes > s.deletion_threshold() && alerts::IsEntraConnector(connector, connector_id);
}

// A pending-deletes count, red when `over` the threshold.
std::string DeletesCell(int64_t n, bool over) {
  if (!over) return NumCell(n);
  return absl::StrCat("<td class=\"num over\">", FormatCount(n), "</td>");
}

// ---- summary ----

std::string Summary(const v1::ServerInfo& s, absl::Time now) {
  std::string out = "<div class=\"facts\">";
  absl::StrAppend(&out, Fact("Tenant", TextOrNone(s.tenant())),
                  Fact("Pending deletes / threshold", PendingDeletesHtml(s)),
                  Fact("Last successful cycle",
                       TimeWithAgo(s.has_last_successful_cycle(), s.last_successful_cycle(), now)));
  absl::StrAppend(
      &out,
      Fact("Last run",
           s.last_run_result().empty()
               ? "<span class=\"muted\">none yet</span>"
               : absl::StrCat(Badge(RunResultClass(s.last_run_result()), s.last_run_result()),
                              "<span class=\"ago\">",
                              Ago(s.has_last_run_time(), s.last_run_time(), now), "</span>")));
  absl::StrAppend(&out, Fact("Open alerts", OpenAlertsHtml(s)),
                  Fact("Last seen", TimeWithAgo(s.has_last_seen(), s.last_seen(), now)),
                  Fact("Agent", absl::StrCat("<span class=\"mono\">", TextOrNone(s.agent_id()),
                                             "</span><span class=\"ago\">",
                                             HtmlEscape(s.agent_version()), "</span>")));
  if (s.has_settings()) {
    const v1::ServerSettings& st = s.settings();
    std::string scheduler;
    if (!st.sync_cycle_enabled()) {
      scheduler = "<span class=\"crit\">sync cycle disabled</span>";
    } else if (st.scheduler_suspended()) {
      scheduler = "<span class=\"crit\">suspended</span>";
    } else {
      scheduler =
          st.has_sync_cycle_interval()
              ? absl::StrCat("every ",
                             absl::FormatDuration(FromProtoDuration(st.sync_cycle_interval())))
              : "enabled";
    }
    if (st.sync_cycle_in_progress()) absl::StrAppend(&scheduler, ", cycle running");
    absl::StrAppend(
        &scheduler, "<span class=\"ago\">",
        st.staging_mode_enabled() ? "staging mode" : "not in staging mode",
        st.has_next_sync_cycle_start_time()
            ? absl::StrCat(", next ",
                           FormatAgo(FromProtoTimestamp(st.next_sync_cycle_start_time()), now))
            : "",
        "</span>");
    absl::StrAppend(&out, Fact("Scheduler", scheduler));
  }
  if (s.has_last_heartbeat()) {
    const v1::Heartbeat& hb = s.last_heartbeat();
    absl::StrAppend(
        &out,
        Fact("Agent spool",
             absl::StrCat(MiB(hb.spool_bytes()), " of ", MiB(hb.spool_budget_bytes()),
                          "<span class=\"ago\">agent up ",
                          FormatDurationShort(FromProtoDuration(hb.agent_uptime())), "</span>")));
  }
  absl::StrAppend(&out, "</div>\n");
  return out;
}

// ---- connectors ----

std::string Connectors(const v1::ServerInfo& s, absl::Time now) {
  std::string out = SectionHeading("connectors", "Connectors", absl::StrCat(s.connectors_size()));
  if (s.connectors().empty()) {
    return absl::StrCat(out,
                        "<div class=\"empty\">No connector has reported a run or a "
                        "pending-export snapshot yet.</div>\n");
  }
  absl::StrAppend(&out, TableStart("<th>Connector</th><th>Last run</th><th>Result</th>"
                                   "<th>Last success</th><th>Last successful export</th>"
                                   "<th class=\"num\">Pending adds</th><th class=\"num\">Updates"
                                   "</th><th class=\"num\">Deletes</th><th>Pending as of</th>",
                                   "connectors"));
  for (const v1::ConnectorState& c : s.connectors()) {
    const v1::RunProfileResult& run = c.last_run();
    absl::StrAppend(&out, "<tr><td>", HtmlEscape(c.connector()), "</td><td class=\"nowrap\">");
    if (c.has_last_run()) {
      absl::StrAppend(&out, HtmlEscape(run.run_profile_name()), " <span class=\"muted\">#",
                      run.run_number(), "</span><span class=\"ago\">",
                      Ago(run.has_start_time(), run.start_time(), now), "</span></td><td>",
                      Badge(RunResultClass(run.result()), run.result()));
    } else {
      absl::StrAppend(&out, kNone, "</td><td>", kNone);
    }
    absl::StrAppend(
        &out, "</td><td>", TimeWithAgo(c.has_last_success(), c.last_success(), now), "</td><td>",
        TimeWithAgo(c.has_last_successful_export(), c.last_successful_export(), now), "</td>",
        NumCell(c.pending_adds()), NumCell(c.pending_updates()),
        DeletesCell(c.pending_deletes(),
                    OverThreshold(s, c.connector(), c.connector_id(), c.pending_deletes())),
        "<td>", Ago(c.has_pending_taken_at(), c.pending_taken_at(), now, "no snapshot"),
        "</td></tr>\n");
  }
  absl::StrAppend(&out, TableEnd());
  return out;
}

// ---- alerts ----

// Who acknowledged the alert and which silences hold back its notifications;
// "-" for neither.
std::string Handling(const v1::Alert& a, absl::Time now) {
  std::vector<std::string> parts;
  if (a.has_ack()) {
    std::string ack = absl::StrCat("acked by ", HtmlEscape(a.ack().by()), " ",
                                   Ago(a.ack().has_at(), a.ack().at(), now, ""));
    if (!a.ack().comment().empty()) {
      absl::StrAppend(&ack, ": <q>", HtmlEscape(a.ack().comment()), "</q>");
    }
    parts.push_back(std::move(ack));
  }
  if (a.silenced_by_size() > 0) {
    std::vector<std::string> ids;
    for (const std::string& id : a.silenced_by()) ids.push_back(HtmlEscape(id));
    parts.push_back(absl::StrCat(Badge("unknown", "silenced"), " <span class=\"mono\">",
                                 absl::StrJoin(ids, " "), "</span>"));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, "<br>");
}

std::string AlertTable(const std::vector<const v1::Alert*>& alerts, bool firing, absl::Time now) {
  std::string out = TableStart(
      absl::StrCat("<th>Severity</th><th>Alert</th><th>Connector</th><th>Summary</th><th>",
                   firing ? "Firing since" : "Resolved",
                   "</th><th>Last notified</th><th>Ack / silence</th><th>ID</th>"));
  for (const v1::Alert* a : alerts) {
    const auto description = a->annotations().find("description");
    const std::string title =
        description == a->annotations().end() ? "" : HtmlEscape(description->second);
    absl::StrAppend(&out, "<tr><td>",
                    Badge(!firing                              ? "unknown"
                          : a->severity() == alerts::kCritical ? "critical"
                                                               : "warning",
                          a->severity()),
                    "</td><td class=\"mono\">", HtmlEscape(a->name()), "</td><td>",
                    TextOrNone(a->connector()), "</td><td",
                    title.empty() ? "" : absl::StrCat(" title=\"", title, "\""), ">",
                    HtmlEscape(a->summary()), "</td><td>",
                    firing ? TimeWithAgo(a->has_started_at(), a->started_at(), now)
                           : TimeWithAgo(a->has_resolved_at(), a->resolved_at(), now),
                    "</td><td>", Ago(a->has_last_delivery(), a->last_delivery(), now, "not yet"),
                    "</td><td>", Handling(*a, now), "</td><td class=\"mono\">",
                    HtmlEscape(a->fingerprint()), "</td></tr>\n");
  }
  absl::StrAppend(&out, TableEnd());
  return out;
}

std::string Alerts(const v1::GetServerResponse& r, absl::Time now) {
  std::vector<const v1::Alert*> firing;
  std::vector<const v1::Alert*> resolved;
  for (const v1::Alert& a : r.alerts()) {
    (a.state() == v1::ALERT_STATE_FIRING ? firing : resolved).push_back(&a);
  }
  std::string out = SectionHeading(
      "alerts", "Alerts", absl::StrCat(firing.size(), " firing, ", resolved.size(), " resolved"));
  if (r.alerts().empty()) {
    return absl::StrCat(out, "<div class=\"empty\">No alert about this server.</div>\n");
  }
  if (!firing.empty()) absl::StrAppend(&out, AlertTable(firing, true, now));
  if (!resolved.empty()) {
    absl::StrAppend(&out, "<h3>Resolved</h3>\n", AlertTable(resolved, false, now));
  }
  return out;
}

// ---- pending deletes ----

std::string PendingObjects(const v1::PendingExportSnapshot& snap) {
  std::string out = TableStart(
      "<th class=\"num\">#</th><th>DN</th><th>Type</th><th>User principal name</th>"
      "<th>Source anchor</th><th>Display name</th>",
      {}, /*scroll=*/true);
  const size_t shown = std::min<size_t>(snap.deletes_size(), kMaxListedObjects);
  for (size_t i = 0; i < shown; ++i) {
    const v1::PendingObject& o = snap.deletes(static_cast<int>(i));
    absl::StrAppend(&out, "<tr class=\"object\"><td class=\"num muted\">", i + 1,
                    "</td><td class=\"dn\">", TextOrNone(o.dn()), "</td><td>",
                    TextOrNone(o.object_type()), "</td><td>", TextOrNone(o.user_principal_name()),
                    "</td><td class=\"mono\">", TextOrNone(o.source_anchor()), "</td><td>",
                    TextOrNone(o.display_name()), "</td></tr>\n");
  }
  // What is not listed: the objects beyond the cap, and those the agent did
  // not send (it caps the list it reads from a huge csexport file).
  const int64_t total = std::max<int64_t>(snap.pending_deletes(), snap.deletes_size());
  std::string more;
  if (total > static_cast<int64_t>(shown)) {
    more = absl::StrCat("&hellip; and ", FormatCount(total - static_cast<int64_t>(shown)),
                        " more not shown");
    if (snap.deletes_truncated()) {
      absl::StrAppend(&more, " (the agent sent ", FormatCount(snap.deletes_size()), " of ",
                      FormatCount(snap.pending_deletes()), " objects)");
    }
  }
  absl::StrAppend(&out, TableEnd(more, /*scroll=*/true));
  return out;
}

// The probable causes of a connector's pending deletes, as the firing
// deletion alert about it names them (issue 18); "" when none does.
std::string DeleteCauses(const v1::GetServerResponse& r, const std::string& connector) {
  for (const v1::Alert& a : r.alerts()) {
    if (a.state() != v1::ALERT_STATE_FIRING || a.connector() != connector) continue;
    if (a.causes().empty()) continue;
    std::string out = "<div class=\"causes\"><strong>Probable causes</strong><ol>";
    for (const v1::DeleteCause& c : a.causes()) {
      absl::StrAppend(&out, "<li data-cause=\"", HtmlEscape(c.kind()), "\">",
                      HtmlEscape(c.summary()), "<ul>");
      for (const std::string& e : c.evidence()) {
        absl::StrAppend(&out, "<li class=\"muted\">", HtmlEscape(e), "</li>");
      }
      absl::StrAppend(&out, "</ul></li>");
    }
    return absl::StrCat(out, "</ol></div>\n");
  }
  return "";
}

std::string PendingDeletes(const v1::GetServerResponse& r, absl::Time now) {
  const v1::ServerInfo& s = r.server();
  std::string out = SectionHeading("deletes", "Pending deletes", FormatCount(s.pending_deletes()));
  if (r.pending_exports().empty()) {
    return absl::StrCat(out,
                        "<div class=\"empty\">No pending-export snapshot has arrived.</div>\n");
  }
  absl::StrAppend(&out, TableStart("<th>Connector</th><th>Snapshot taken</th>"
                                   "<th class=\"num\">Adds</th><th class=\"num\">Updates</th>"
                                   "<th class=\"num\">Deletes</th>"
                                   "<th class=\"num\">Objects in connector space</th>"));
  for (const v1::StoredPendingExports& p : r.pending_exports()) {
    const v1::PendingExportSnapshot& snap = p.snapshot();
    absl::StrAppend(
        &out, "<tr><td>", HtmlEscape(snap.connector_name()), "</td><td>",
        TimeWithAgo(snap.has_taken_at(), snap.taken_at(), now), "</td>",
        NumCell(snap.pending_adds()), NumCell(snap.pending_updates()),
        DeletesCell(
            snap.pending_deletes(),
            OverThreshold(s, snap.connector_name(), snap.connector_id(), snap.pending_deletes())),
        snap.connector_objects() > 0 ? NumCell(snap.connector_objects())
                                     : absl::StrCat("<td class=\"num\">", kNone, "</td>"),
        "</tr>\n");
  }
  absl::StrAppend(&out, TableEnd());
  for (const v1::StoredPendingExports& p : r.pending_exports()) {
    const v1::PendingExportSnapshot& snap = p.snapshot();
    if (snap.pending_deletes() == 0 && snap.deletes().empty()) continue;
    const bool over =
        OverThreshold(s, snap.connector_name(), snap.connector_id(), snap.pending_deletes());
    absl::StrAppend(
        &out, "<h3>", HtmlEscape(snap.connector_name()), " &middot; <span",
        over ? " class=\"over\"" : "", ">", FormatCount(snap.pending_deletes()),
        " pending deletes</span>",
        over ? absl::StrCat(", over the threshold of ", FormatCount(s.deletion_threshold())) : "",
        "</h3>\n", DeleteCauses(r, snap.connector_name()), PendingObjects(snap));
  }
  return out;
}

// ---- configuration changes (issue 18) ----

std::string ConfigurationChanges(const v1::GetServerResponse& r) {
  std::string out = SectionHeading("changes", "Configuration changes",
                                   absl::StrCat(r.configuration_changes_size()));
  if (r.configuration_changes().empty()) {
    return absl::StrCat(out,
                        "<div class=\"empty\">No configuration change recorded (the agent "
                        "reports the server's configuration; changes appear from its second "
                        "report on).</div>\n");
  }
  absl::StrAppend(&out, TableStart("<th>Detected</th><th>Change</th><th>Connector</th>"
                                   "<th>Sync rule</th><th>Before</th><th>After</th>",
                                   "changes-table", /*scroll=*/true));
  for (const v1::ConfigurationChange& c : r.configuration_changes()) {
    absl::StrAppend(&out, "<tr class=\"change\" data-kind=\"", HtmlEscape(c.kind()), "\"><td>",
                    HtmlEscape(FormatIso8601(FromProtoTimestamp(c.detected_at()))),
                    "</td><td class=\"mono\">", HtmlEscape(c.kind()), "</td><td>",
                    TextOrNone(c.connector()), "</td><td>", TextOrNone(c.rule()),
                    "</td><td class=\"dn\">", TextOrNone(c.before()), "</td><td class=\"dn\">",
                    TextOrNone(c.after()), "</td></tr>\n");
  }
  absl::StrAppend(&out, TableEnd({}, /*scroll=*/true));
  return out;
}

// ---- export errors ----

std::string ErrorTypes(const std::map<std::string, int>& types) {
  std::vector<std::string> parts;
  for (const auto& [type, n] : types) {
    parts.push_back(absl::StrCat(HtmlEscape(type.empty() ? "(no type)" : type), " &times; ", n));
  }
  return absl::StrJoin(parts, ", ");
}

std::string ConflictingValues(const std::vector<ValueGroup>& groups, absl::Time now) {
  std::string out = absl::StrCat("<h3>By conflicting value</h3>\n",
                                 TableStart("<th>Attribute</th><th>Value</th>"
                                            "<th class=\"num\">Objects</th>"
                                            "<th>Objects claiming the value</th>",
                                            "conflicts", /*scroll=*/true));
  for (const ValueGroup& g : groups) {
    absl::StrAppend(&out, "<tr class=\"conflict\"><td class=\"mono\">", HtmlEscape(g.attribute),
                    "</td><td class=\"mono\">", HtmlEscape(g.value), "</td>",
                    NumCell(static_cast<int64_t>(g.errors.size())), "<td><ul class=\"holders\">");
    for (const v1::ExportError* e : g.errors) {
      absl::StrAppend(&out, "<li><span class=\"dn\">", TextOrNone(e->dn()),
                      "</span> <span class=\"muted\">", HtmlEscape(e->connector_name()),
                      " &middot; ", HtmlEscape(e->error_type()));
      if (e->has_first_occurred()) {
        absl::StrAppend(&out, " &middot; since ",
                        FormatUtc(FromProtoTimestamp(e->first_occurred())), " (",
                        FormatAgo(FromProtoTimestamp(e->first_occurred()), now), ")");
      }
      if (!e->object_id_in_conflict().empty()) {
        absl::StrAppend(&out, " &middot; conflicts with <span class=\"mono\">",
                        HtmlEscape(e->object_id_in_conflict()), "</span>");
      }
      absl::StrAppend(&out, "</span></li>");
    }
    absl::StrAppend(&out, "</ul></td></tr>\n");
  }
  absl::StrAppend(&out, TableEnd({}, /*scroll=*/true));
  return out;
}

std::string CategoryErrors(const CategoryGroup& g, absl::Time now) {
  std::string out = absl::StrCat(
      "<h3 id=\"category-", HtmlEscape(g.category), "\">", HtmlEscape(g.category), " &middot; ",
      FormatCount(static_cast<int64_t>(g.errors.size())),
      g.errors.size() == 1 ? " error" : " errors", " <span class=\"muted\">(", ErrorTypes(g.types),
      ")</span></h3>\n",
      TableStart("<th>Connector</th><th>Object</th><th>Error</th><th>Attribute</th><th>Value</th>"
                 "<th>First occurred</th><th>Last occurred</th><th class=\"num\">Retries</th>",
                 {}, /*scroll=*/true));
  const size_t shown = std::min(g.errors.size(), kMaxListedObjects);
  for (size_t i = 0; i < shown; ++i) {
    const v1::ExportError& e = *g.errors[i];
    // The directory's own words, as the tooltip of the error type.
    std::vector<std::string> detail;
    for (const std::string* part : {&e.cd_error().error_code(), &e.cd_error().error_literal(),
                                    &e.cd_error().server_error_detail()}) {
      if (!part->empty()) detail.push_back(*part);
    }
    absl::StrAppend(&out, "<tr class=\"export-error\"><td>", HtmlEscape(e.connector_name()),
                    "</td><td class=\"dn\">", TextOrNone(e.dn()), "</td><td",
                    detail.empty()
                        ? ""
                        : absl::StrCat(" title=\"", HtmlEscape(absl::StrJoin(detail, "\n")), "\""),
                    ">", TextOrNone(e.error_type()), "</td><td class=\"mono\">",
                    TextOrNone(e.conflict_attribute()), "</td><td class=\"mono\">",
                    TextOrNone(e.conflict_value()), "</td><td>",
                    Ago(e.has_first_occurred(), e.first_occurred(), now, "unknown"), "</td><td>",
                    Ago(e.has_date_occurred(), e.date_occurred(), now, "unknown"), "</td>",
                    NumCell(e.retry_count()), "</tr>\n");
  }
  absl::StrAppend(
      &out, TableEnd(g.errors.size() > shown
                         ? absl::StrCat("&hellip; and ",
                                        FormatCount(static_cast<int64_t>(g.errors.size() - shown)),
                                        " more not shown")
                         : "",
                     /*scroll=*/true));
  return out;
}

std::string ExportErrors(const v1::GetServerResponse& r, absl::Time now) {
  std::string out = SectionHeading(
      "errors", "Export errors",
      absl::StrCat(FormatCount(r.export_errors_size()), r.export_errors_truncated() ? "+" : ""));
  if (r.export_errors().empty()) {
    return absl::StrCat(out, "<div class=\"empty\">No export errors reported.</div>\n");
  }
  if (r.export_errors_truncated()) {
    absl::StrAppend(&out, "<p class=\"note\">The server has more export errors than the ",
                    r.export_errors_size(),
                    " loaded here; <span class=\"mono\">syncwatch errors --server ",
                    HtmlEscape(r.server().server()), "</span> lists them all.</p>\n");
  }
  const std::vector<CategoryGroup> categories = GroupByCategory(r.export_errors());
  absl::StrAppend(&out, "<div class=\"chips\" id=\"categories\">");
  for (const CategoryGroup& g : categories) {
    absl::StrAppend(&out, "<a class=\"chip\" href=\"#category-", HtmlEscape(g.category),
                    "\" data-category=\"", HtmlEscape(g.category), "\"><b>",
                    FormatCount(static_cast<int64_t>(g.errors.size())), "</b>",
                    HtmlEscape(g.category), "</a>");
  }
  absl::StrAppend(&out, "</div>\n");
  const std::vector<ValueGroup> values = GroupByConflictingValue(r.export_errors());
  if (!values.empty()) absl::StrAppend(&out, ConflictingValues(values, now));
  for (const CategoryGroup& g : categories) absl::StrAppend(&out, CategoryErrors(g, now));
  return out;
}

// ---- runs ----

struct RunCounts {
  int64_t adds = 0;
  int64_t updates = 0;
  int64_t deletes = 0;
};

// What a run changed: staged by an import step, exported by an export step.
RunCounts CountsOf(const v1::RunProfileResult& run) {
  RunCounts c;
  for (const v1::RunStep& step : run.steps()) {
    c.adds += step.staging_counters().stage_add() + step.export_counters().export_add();
    c.updates += step.staging_counters().stage_update() + step.export_counters().export_update();
    c.deletes += step.staging_counters().stage_delete() + step.export_counters().export_delete();
  }
  return c;
}

std::string RunTitle(const v1::RunProfileResult& run) {
  return absl::StrCat(run.connector_name(), "\n", run.run_profile_name(), " #", run.run_number(),
                      ": ", run.result(), "\n",
                      run.has_start_time() ? FormatUtc(FromProtoTimestamp(run.start_time())) : "");
}

// One lane of blocks per connector, oldest run on the left.
std::string Timeline(const v1::GetServerResponse& r) {
  std::map<std::string, std::vector<int>> lanes;
  for (int i = r.runs_size() - 1; i >= 0; --i) {
    lanes[r.runs(i).run().connector_name()].push_back(i);
  }
  std::string out = "<div class=\"lanes\" id=\"timeline\">";
  for (const auto& [connector, indexes] : lanes) {
    absl::StrAppend(&out, "<div class=\"lane\"><span class=\"name\" title=\"",
                    HtmlEscape(connector), "\">", HtmlEscape(connector),
                    "</span><span class=\"blocks\">");
    for (int i : indexes) {
      const v1::RunProfileResult& run = r.runs(i).run();
      absl::StrAppend(&out, "<a class=\"blk ", RunResultClass(run.result()), "\" href=\"#run-", i,
                      "\" title=\"", HtmlEscape(RunTitle(run)), "\"></a>");
    }
    absl::StrAppend(&out, "</span></div>");
  }
  absl::StrAppend(&out,
                  "<div class=\"legend\"><span><i class=\"blk ok\"></i>success</span>"
                  "<span><i class=\"blk warning\"></i>completed with errors</span>"
                  "<span><i class=\"blk critical\"></i>stopped / did not start</span>"
                  "<span><i class=\"blk running\"></i>running</span>"
                  "<span><i class=\"blk\"></i>other</span><span>oldest left, newest right</span>"
                  "</div></div>\n");
  return out;
}

std::string Runs(const v1::GetServerResponse& r, absl::Time now) {
  std::string out = SectionHeading("runs", "Runs", absl::StrCat(r.runs_size(), " latest"));
  if (r.runs().empty()) {
    return absl::StrCat(out, "<div class=\"empty\">No run reported in this period.</div>\n");
  }
  absl::StrAppend(&out, Timeline(r),
                  TableStart("<th>Start</th><th>End</th><th class=\"num\">Duration</th>"
                             "<th>Connector</th><th>Run profile</th><th>Result</th>"
                             "<th class=\"num\">Adds</th><th class=\"num\">Updates</th>"
                             "<th class=\"num\">Deletes</th>",
                             "runs", /*scroll=*/true));
  for (int i = 0; i < r.runs_size(); ++i) {
    const v1::RunProfileResult& run = r.runs(i).run();
    absl::StrAppend(
        &out, "<tr id=\"run-", i, "\"><td>",
        TimeWithAgo(run.has_start_time(), run.start_time(), now, "unknown"), "</td><td>",
        run.has_end_time()
            ? absl::StrCat("<time>", FormatUtc(FromProtoTimestamp(run.end_time())), "</time>")
            : "<span class=\"muted\">running</span>",
        "</td><td class=\"num\">",
        run.has_start_time() && run.has_end_time()
            ? RunDuration(FromProtoTimestamp(run.end_time()) - FromProtoTimestamp(run.start_time()))
            : std::string(kNone),
        "</td><td>", HtmlEscape(run.connector_name()), "</td><td>",
        HtmlEscape(run.run_profile_name()), " <span class=\"muted\">#", run.run_number(),
        "</span></td><td>", Badge(RunResultClass(run.result()), run.result()), "</td>");
    if (run.steps().empty()) {
      absl::StrAppend(&out, "<td class=\"num muted\" colspan=\"3\">no step details</td>");
    } else {
      const RunCounts c = CountsOf(run);
      absl::StrAppend(&out, NumCell(c.adds), NumCell(c.updates), NumCell(c.deletes));
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, TableEnd({}, /*scroll=*/true));
  return out;
}

}  // namespace

std::string RenderServerPage(const v1::GetServerResponse& r, absl::Time now) {
  const v1::ServerInfo& s = r.server();
  Frame frame;
  frame.title = s.server();
  frame.crumb = s.server();
  frame.root = "../";
  frame.json_href = absl::StrCat("../api/v1/servers/", UrlPathEscape(s.server()));
  frame.now = now;
  const std::string role(ServerRoleName(s.role()));
  std::string out =
      absl::StrCat(PageStart(frame), "<h1 data-server=\"", HtmlEscape(s.server()),
                   "\" data-health=\"", HealthName(s.health()), "\">", HtmlEscape(s.server()), " ",
                   HealthBadge(s), " <span class=\"role ", role, "\">", role, "</span></h1>\n");
  if (!s.health_reasons().empty()) {
    absl::StrAppend(&out, "<ul class=\"reasons\">");
    for (const std::string& reason : s.health_reasons()) {
      absl::StrAppend(&out, "<li>", HtmlEscape(reason), "</li>");
    }
    absl::StrAppend(&out, "</ul>\n");
  }
  absl::StrAppend(&out, Summary(s, now),
                  "<nav class=\"sections\"><a href=\"#connectors\">Connectors</a>"
                  "<a href=\"#alerts\">Alerts</a><a href=\"#deletes\">Pending deletes</a>"
                  "<a href=\"#errors\">Export errors</a><a href=\"#runs\">Runs</a>"
                  "<a href=\"#changes\">Configuration changes</a>"
                  "<a href=\"../\">&larr; Fleet</a></nav>\n");
  absl::StrAppend(&out, Connectors(s, now), Alerts(r, now), PendingDeletes(r, now),
                  ExportErrors(r, now), Runs(r, now), ConfigurationChanges(r), PageEnd(frame));
  return out;
}

}  // namespace syncwatch::collector::web
