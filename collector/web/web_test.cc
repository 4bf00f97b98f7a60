#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "collector/web/error_groups.h"
#include "collector/web/html.h"
#include "collector/web/pages.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::collector::web {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The part of `html` from the first `from` to the next `to` after it.
std::string Between(const std::string& html, const std::string& from, const std::string& to) {
  const size_t start = html.find(from);
  if (start == std::string::npos) return "";
  const size_t end = html.find(to, start);
  return html.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

v1::ServerInfo Server(const std::string& name, v1::Health health) {
  v1::ServerInfo s;
  s.set_server(name);
  s.set_tenant("contoso.onmicrosoft.com");
  s.set_role(v1::SERVER_ROLE_ACTIVE);
  s.set_health(health);
  s.set_deletion_threshold(500);
  s.set_deletion_threshold_enabled(true);
  *s.mutable_last_seen() = ToProtoTimestamp(kNow - absl::Minutes(2));
  return s;
}

v1::StoredExportError Error(const std::string& dn, const std::string& type,
                            const std::string& attribute, const std::string& value) {
  v1::StoredExportError stored;
  stored.set_server("sync01");
  v1::ExportError* e = stored.mutable_error();
  e->set_connector_name("contoso.onmicrosoft.com - AAD");
  e->set_dn(dn);
  e->set_cs_guid(absl::StrCat("guid-", dn));
  e->set_error_type(type);
  e->set_conflict_attribute(attribute);
  e->set_conflict_value(value);
  return stored;
}

TEST(HtmlEscape, EscapesEverythingThatCanBreakOutOfTextOrAnAttribute) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\" onclick='y'>&amp;</a>"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("CN=Jürgen,OU=Users"), "CN=Jürgen,OU=Users");
}

TEST(UrlPathEscape, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(UrlPathEscape("sync-01.contoso_x~"), "sync-01.contoso_x~");
  EXPECT_EQ(UrlPathEscape("a/b c\"<"), "a%2Fb%20c%22%3C");
}

TEST(FormatAgo, PicksAReadableUnit) {
  EXPECT_EQ(FormatAgo(kNow - absl::Seconds(2), kNow), "just now");
  EXPECT_EQ(FormatAgo(kNow - absl::Seconds(40), kNow), "40 s ago");
  EXPECT_EQ(FormatAgo(kNow - absl::Minutes(12), kNow), "12 min ago");
  EXPECT_EQ(FormatAgo(kNow - absl::Minutes(185), kNow), "3 h 5 min ago");
  EXPECT_EQ(FormatAgo(kNow - absl::Hours(120), kNow), "5 d ago");
  EXPECT_EQ(FormatAgo(kNow + absl::Minutes(2), kNow), "in 2 min");
}

TEST(FormatCount, GroupsThousands) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(612), "612");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatCount(-1000), "-1,000");
}

TEST(RunResultClass, ColoursTheEngineResults) {
  EXPECT_EQ(RunResultClass("success"), "ok");
  EXPECT_EQ(RunResultClass("completed-no-objects"), "ok");
  EXPECT_EQ(RunResultClass("completed-export-errors"), "warning");
  EXPECT_EQ(RunResultClass("stopped-deletion-threshold-exceeded"), "critical");
  EXPECT_EQ(RunResultClass("no-start-connection"), "critical");
  EXPECT_EQ(RunResultClass("in-progress"), "running");
  EXPECT_EQ(RunResultClass("something-new"), "unknown");
}

TEST(PendingDeletesHtml, ShowsTheThresholdAndMarksItExceeded) {
  v1::ServerInfo s = Server("sync01", v1::HEALTH_CRITICAL);
  s.set_pending_deletes(612);
  EXPECT_THAT(PendingDeletesHtml(s), HasSubstr("class=\"pending over\""));
  EXPECT_THAT(PendingDeletesHtml(s), HasSubstr(">612 / 500<"));
  s.set_pending_deletes(500);  // at the threshold is not over it
  EXPECT_THAT(PendingDeletesHtml(s), Not(HasSubstr("over\"")));
  EXPECT_THAT(PendingDeletesHtml(s), HasSubstr(">500 / 500<"));
}

TEST(PendingDeletesHtml, SaysDisabledAndNeverMarksOver) {
  v1::ServerInfo s = Server("sync01", v1::HEALTH_OK);
  s.set_pending_deletes(1612);
  s.set_deletion_threshold_enabled(false);
  const std::string html = PendingDeletesHtml(s);
  EXPECT_THAT(html, HasSubstr("1,612 <span class=\"muted\">/ disabled</span>"));
  EXPECT_THAT(html, Not(HasSubstr("over")));
}

class FleetPageTest : public ::testing::Test {
 protected:
  FleetPageTest() {
    fleet_.set_servers(4);
    fleet_.set_critical(1);
    fleet_.set_warning(1);
    fleet_.set_ok(1);
    fleet_.set_unknown(1);
    fleet_.set_pending_deletes(612);
    fleet_.set_open_alerts(3);
    fleet_.set_open_critical_alerts(1);
    v1::ServerInfo* bad = fleet_.add_server_list();
    *bad = Server("sync02", v1::HEALTH_CRITICAL);
    bad->set_pending_deletes(612);
    bad->add_health_reasons("612 pending deletes exceed the threshold of 500");
    bad->set_open_alerts(2);
    bad->set_open_critical_alerts(1);
    bad->set_last_run_result("stopped-deletion-threshold-exceeded");
    *bad->mutable_last_run_time() = ToProtoTimestamp(kNow - absl::Minutes(5));
    *fleet_.add_server_list() = Server("sync03", v1::HEALTH_WARNING);
    v1::ServerInfo* unknown = fleet_.add_server_list();
    *unknown = Server("sync04", v1::HEALTH_UNKNOWN);
    unknown->set_role(v1::SERVER_ROLE_STAGING);
    v1::ServerInfo* ok = fleet_.add_server_list();
    *ok = Server("sync01", v1::HEALTH_OK);
    *ok->mutable_last_successful_cycle() = ToProtoTimestamp(kNow - absl::Minutes(12));
    ok->set_last_run_result("success");
  }

  v1::FleetSummaryResponse fleet_;
};

TEST_F(FleetPageTest, HasOneRowPerServerInTheResponsesOrderWithItsHealth) {
  const std::string html = RenderFleetPage(fleet_, kNow);
  EXPECT_THAT(html, HasSubstr("<table id=\"fleet\">"));
  EXPECT_EQ(Count(html, "<tr class=\"h-"), 4);
  const size_t critical = html.find("data-server=\"sync02\" data-health=\"critical\"");
  const size_t warning = html.find("data-server=\"sync03\" data-health=\"warning\"");
  const size_t unknown = html.find("data-server=\"sync04\" data-health=\"unknown\"");
  const size_t ok = html.find("data-server=\"sync01\" data-health=\"ok\"");
  ASSERT_NE(critical, std::string::npos);
  ASSERT_NE(ok, std::string::npos);
  EXPECT_LT(critical, warning);
  EXPECT_LT(warning, unknown);
  EXPECT_LT(unknown, ok);
  EXPECT_THAT(html, HasSubstr("<a class=\"server\" href=\"servers/sync02\">sync02</a>"));
}

TEST_F(FleetPageTest, ColoursHealthAndShowsTheReasons) {
  const std::string html = RenderFleetPage(fleet_, kNow);
  const std::string row = Between(html, "data-server=\"sync02\"", "</tr>");
  EXPECT_THAT(row, HasSubstr("<span class=\"badge critical\" title=\"612 pending deletes exceed "
                             "the threshold of 500\">critical</span>"));
  EXPECT_THAT(row, HasSubstr("<span class=\"clamp\">612 pending deletes exceed"));
  EXPECT_THAT(row, HasSubstr("<span class=\"pending over\""));
  EXPECT_THAT(row, HasSubstr("612 / 500"));
  EXPECT_THAT(row, HasSubstr("2 <span class=\"crit\">&middot; 1 critical</span>"));
  EXPECT_THAT(row, HasSubstr("badge critical\">stopped-deletion-threshold-exceeded"));
  EXPECT_THAT(row, HasSubstr("5 min ago"));
  EXPECT_THAT(Between(html, "data-server=\"sync01\"", "</tr>"),
              HasSubstr("<time datetime=\"2023-11-14T22:01:20Z\">2023-11-14T22:01:20Z</time>"
                        "<span class=\"ago\">12 min ago</span>"));
  EXPECT_THAT(Between(html, "data-server=\"sync04\"", "</tr>"),
              HasSubstr("<span class=\"role staging\">staging</span>"));
  // The CSS gives every health class its colour.
  for (const char* health : {"ok", "warning", "critical", "unknown"}) {
    EXPECT_THAT(html, HasSubstr(absl::StrCat(".badge.", health, "{color:var(--", health)));
  }
}

TEST_F(FleetPageTest, HeaderCountsTheFleet) {
  const std::string cards =
      Between(RenderFleetPage(fleet_, kNow), "<div class=\"cards\">", "</div>\n");
  EXPECT_THAT(cards, HasSubstr("<div class=\"n\">4</div><div class=\"l\">servers</div>"));
  EXPECT_THAT(cards, HasSubstr("<div class=\"card critical\"><div class=\"n\">1</div><div "
                               "class=\"l\">critical</div>"));
  EXPECT_THAT(cards, HasSubstr("<div class=\"n\">612</div><div class=\"l\">pending deletes"));
  EXPECT_THAT(cards, HasSubstr("<div class=\"n\">3</div><div class=\"l\">open alerts</div>"
                               "<div class=\"s\">1 critical</div>"));
}

TEST_F(FleetPageTest, EscapesWhatAgentsReport) {
  fleet_.mutable_server_list(0)->set_server("<script>alert(1)</script>\"x'");
  fleet_.mutable_server_list(0)->set_tenant("<b>t</b>");
  fleet_.mutable_server_list(0)->set_health_reasons(0, "<img src=x onerror=y>");
  const std::string html = RenderFleetPage(fleet_, kNow);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<b>t")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, HasSubstr("data-server=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;x&#39;\""));
  EXPECT_THAT(html, HasSubstr("href=\"servers/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22x%27\""));
}

TEST(FleetPage, SaysSoWhenNoServerReported) {
  const std::string html = RenderFleetPage(v1::FleetSummaryResponse(), kNow);
  EXPECT_THAT(html, HasSubstr("No sync server has reported"));
  EXPECT_THAT(html, Not(HasSubstr("id=\"fleet\"")));
}

class ServerPageTest : public ::testing::Test {
 protected:
  ServerPageTest() {
    *response_.mutable_server() = Server("sync02", v1::HEALTH_CRITICAL);
    response_.mutable_server()->set_pending_deletes(612);
  }

  v1::PendingExportSnapshot* AddSnapshot(int64_t pending_deletes, int listed) {
    v1::StoredPendingExports* p = response_.add_pending_exports();
    p->set_server("sync02");
    v1::PendingExportSnapshot* snap = p->mutable_snapshot();
    snap->set_connector_name("contoso.onmicrosoft.com - AAD");
    snap->set_pending_deletes(pending_deletes);
    for (int i = 0; i < listed; ++i) {
      v1::PendingObject* o = snap->add_deletes();
      o->set_dn(absl::StrCat("CN={", i, "}"));
      o->set_object_type("user");
      o->set_user_principal_name(absl::StrCat("user", i, "@contoso.com"));
      o->set_source_anchor(absl::StrCat("anchor", i));
      o->set_display_name(absl::StrCat("User ", i));
    }
    snap->set_deletes_truncated(listed < pending_deletes);
    return snap;
  }

  v1::GetServerResponse response_;
};

TEST_F(ServerPageTest, ListsPendingDeletesUpToTheCapAndSaysHowManyMore) {
  AddSnapshot(612, 600);
  const std::string html = RenderServerPage(response_, kNow);
  EXPECT_EQ(Count(html, "<tr class=\"object\">"), static_cast<int>(kMaxListedObjects));
  EXPECT_THAT(html, HasSubstr("<td class=\"dn\">CN={0}</td><td>user</td><td>user0@contoso.com</td>"
                              "<td class=\"mono\">anchor0</td><td>User 0</td>"));
  EXPECT_THAT(html, HasSubstr("CN={499}"));
  EXPECT_THAT(html, Not(HasSubstr("CN={500}")));
  EXPECT_THAT(html, HasSubstr("&hellip; and 112 more not shown (the agent sent 600 of 612 "
                              "objects)"));
  EXPECT_THAT(html, HasSubstr("<span class=\"over\">612 pending deletes</span>, over the "
                              "threshold of 500"));
}

TEST_F(ServerPageTest, ShortObjectListsAreCompleteWithNoMoreLine) {
  AddSnapshot(3, 3);
  const std::string html = RenderServerPage(response_, kNow);
  EXPECT_EQ(Count(html, "<tr class=\"object\">"), 3);
  EXPECT_THAT(html, Not(HasSubstr("more not shown")));
}

TEST_F(ServerPageTest, EscapesDnsValuesAndAlertText) {
  AddSnapshot(1, 1)->mutable_deletes(0)->set_dn("CN=<script>x</script>,DC=contoso");
  *response_.add_export_errors() =
      Error("CN=a&b", "AttributeValueMustBeUnique", "proxyAddresses", "SMTP:<i>@x");
  v1::Alert* alert = response_.add_alerts();
  alert->set_state(v1::ALERT_STATE_FIRING);
  alert->set_severity("critical");
  alert->set_summary("<iframe>");
  (*alert->mutable_annotations())["description"] = "\"><svg>";
  const std::string html = RenderServerPage(response_, kNow);
  for (const char* raw : {"<script", "<i>", "<iframe", "<svg", "CN=a&b"}) {
    EXPECT_THAT(html, Not(HasSubstr(raw)));
  }
  EXPECT_THAT(html, HasSubstr("CN=&lt;script&gt;x&lt;/script&gt;,DC=contoso"));
  EXPECT_THAT(html, HasSubstr("SMTP:&lt;i&gt;@x"));
  EXPECT_THAT(html, HasSubstr("title=\"&quot;&gt;&lt;svg&gt;\""));
}

TEST(GroupByCategory, GroupsByConnectHealthCategoryLargestFirst) {
  v1::GetServerResponse r;
  *r.add_export_errors() = Error("CN=1", "AttributeValueMustBeUnique", "", "");
  *r.add_export_errors() = Error("CN=2", "InvalidSoftMatch", "", "");
  *r.add_export_errors() = Error("CN=3", "AttributeValueMustBeUnique", "", "");
  *r.add_export_errors() = Error("CN=4", "QuarantinedAttributeValueMustBeUnique", "", "");
  *r.add_export_errors() = Error("CN=5", "permission-issue", "", "");
  const std::vector<CategoryGroup> groups = GroupByCategory(r.export_errors());
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].category, "duplicate-attribute");
  EXPECT_EQ(groups[0].errors.size(), 3u);
  EXPECT_EQ(groups[0].types.at("AttributeValueMustBeUnique"), 2);
  EXPECT_EQ(groups[0].types.at("QuarantinedAttributeValueMustBeUnique"), 1);
  EXPECT_EQ(groups[1].category, "data-mismatch");  // ties by name
  EXPECT_EQ(groups[2].category, "other");
}

TEST(GroupByConflictingValue, GroupsTheObjectsClaimingOneValueAsEntraIdComparesIt) {
  v1::GetServerResponse r;
  *r.add_export_errors() =
      Error("CN=Ann", "AttributeValueMustBeUnique", "ProxyAddresses", "SMTP:john@contoso.com");
  *r.add_export_errors() =
      Error("CN=Bob", "AttributeValueMustBeUnique", "proxyAddresses", "smtp:John@Contoso.com");
  *r.add_export_errors() =
      Error("CN=Cy", "AttributeValueMustBeUnique", "userPrincipalName", "cy@contoso.com");
  *r.add_export_errors() = Error("CN=Dee", "LargeObject", "", "");
  r.mutable_export_errors(1)->mutable_error()->mutable_first_occurred()->set_seconds(100);
  r.mutable_export_errors(0)->mutable_error()->mutable_first_occurred()->set_seconds(200);
  const std::vector<ValueGroup> groups = GroupByConflictingValue(r.export_errors());
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].attribute, "proxyAddresses");
  EXPECT_EQ(groups[0].value, "SMTP:john@contoso.com");
  ASSERT_EQ(groups[0].errors.size(), 2u);
  EXPECT_EQ(groups[0].errors[0]->dn(), "CN=Bob");  // had it first
  EXPECT_EQ(groups[0].errors[1]->dn(), "CN=Ann");
  EXPECT_EQ(groups[1].attribute, "userPrincipalName");
  EXPECT_EQ(groups[1].errors.size(), 1u);
}

TEST(GroupByConflictingValue, CountsAnObjectOnce) {
  v1::GetServerResponse r;
  *r.add_export_errors() = Error("CN=Ann", "AttributeValueMustBeUnique", "mail", "a@x");
  *r.add_export_errors() = Error("CN=Ann", "InvalidSoftMatch", "mail", "a@x");
  const std::vector<ValueGroup> groups = GroupByConflictingValue(r.export_errors());
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].errors.size(), 1u);
}

TEST_F(ServerPageTest, ShowsErrorsByCategoryAndByConflictingValue) {
  *response_.add_export_errors() =
      Error("CN=Ann", "AttributeValueMustBeUnique", "proxyAddresses", "SMTP:john@contoso.com");
  *response_.add_export_errors() =
      Error("CN=Bob", "AttributeValueMustBeUnique", "proxyAddresses", "smtp:john@contoso.com");
  *response_.add_export_errors() = Error("CN=Dee", "LargeObject", "", "");
  const std::string html = RenderServerPage(response_, kNow);
  EXPECT_THAT(html, HasSubstr("data-category=\"duplicate-attribute\"><b>2</b>"));
  EXPECT_THAT(html, HasSubstr("data-category=\"large-attribute\"><b>1</b>"));
  const std::string conflicts = Between(html, "<table id=\"conflicts\">", "</table>");
  EXPECT_EQ(Count(conflicts, "<tr class=\"conflict\">"), 1);
  EXPECT_THAT(conflicts, HasSubstr("<td class=\"mono\">proxyAddresses</td><td class=\"mono\">"
                                   "SMTP:john@contoso.com</td><td class=\"num\">2</td>"));
  EXPECT_THAT(conflicts, HasSubstr("CN=Ann"));
  EXPECT_THAT(conflicts, HasSubstr("CN=Bob"));
  EXPECT_THAT(Between(html, "id=\"category-duplicate-attribute\"", "</table>"),
              HasSubstr("AttributeValueMustBeUnique &times; 2"));
  EXPECT_EQ(Count(html, "<tr class=\"export-error\">"), 3);
}

TEST_F(ServerPageTest, CapsTheErrorsListedPerCategory) {
  for (int i = 0; i < 502; ++i) {
    *response_.add_export_errors() = Error(absl::StrCat("CN=", i), "LargeObject", "", "");
  }
  response_.set_export_errors_truncated(true);
  const std::string html = RenderServerPage(response_, kNow);
  EXPECT_EQ(Count(html, "<tr class=\"export-error\">"), static_cast<int>(kMaxListedObjects));
  EXPECT_THAT(html, HasSubstr("&hellip; and 2 more not shown"));
  EXPECT_THAT(html, HasSubstr("more export errors than the 502 loaded here"));
}

TEST_F(ServerPageTest, ListsFiringAlertsBeforeResolvedOnes) {
  v1::Alert* resolved = response_.add_alerts();
  resolved->set_state(v1::ALERT_STATE_RESOLVED);
  resolved->set_name("SyncRunStopped");
  resolved->set_severity("critical");
  v1::Alert* firing = response_.add_alerts();
  firing->set_state(v1::ALERT_STATE_FIRING);
  firing->set_name("PendingDeletesOverThreshold");
  firing->set_severity("critical");
  const std::string html = RenderServerPage(response_, kNow);
  const size_t f = html.find("PendingDeletesOverThreshold");
  const size_t r = html.find("SyncRunStopped");
  ASSERT_NE(f, std::string::npos);
  ASSERT_NE(r, std::string::npos);
  EXPECT_LT(f, r);
  EXPECT_THAT(html, HasSubstr("1 firing, 1 resolved"));
}

TEST_F(ServerPageTest, ShowsRunsNewestFirstWithTheirCountersAndATimeline) {
  for (int i = 0; i < 2; ++i) {
    v1::StoredRun* stored = response_.add_runs();
    v1::RunProfileResult* run = stored->mutable_run();
    run->set_connector_name("contoso.com");
    run->set_run_profile_name(i == 0 ? "Export" : "Delta Import");
    run->set_run_number(20 - i);
    run->set_result(i == 0 ? "stopped-deletion-threshold-exceeded" : "success");
    *run->mutable_start_time() = ToProtoTimestamp(kNow - absl::Minutes(10 + 30 * i));
    *run->mutable_end_time() =
        ToProtoTimestamp(kNow - absl::Minutes(10 + 30 * i) + absl::Seconds(95));
    v1::RunStep* step = run->add_steps();
    step->mutable_staging_counters()->set_stage_add(7);
    step->mutable_export_counters()->set_export_delete(612);
  }
  const std::string html = RenderServerPage(response_, kNow);
  const std::string table = Between(html, "<table id=\"runs\">", "</table>");
  EXPECT_LT(table.find("#20"), table.find("#19"));
  EXPECT_THAT(table, HasSubstr("<td class=\"num\">1 min 35 s</td>"));
  EXPECT_THAT(table, HasSubstr("<td class=\"num\">7</td><td class=\"num zero\">0</td>"
                               "<td class=\"num\">612</td>"));
  const std::string timeline = Between(html, "id=\"timeline\"", "</span></div>");
  // Oldest on the left.
  EXPECT_LT(timeline.find("class=\"blk ok\" href=\"#run-1\""),
            timeline.find("class=\"blk critical\" href=\"#run-0\""));
}

TEST(RenderNotFound, EscapesWhatWasAskedFor) {
  const std::string html = RenderNotFound("No server named \"<x>\"", kNow);
  EXPECT_THAT(html, HasSubstr("No server named &quot;&lt;x&gt;&quot;"));
}

TEST(RenderJson, UsesProtoFieldNamesAndKeepsZeros) {
  v1::FleetSummaryResponse fleet;
  *fleet.add_server_list() = Server("sync01", v1::HEALTH_OK);
  auto json = RenderJson(fleet);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"server_list\""));
  EXPECT_THAT(*json, HasSubstr("\"pending_deletes\": \"0\""));
  EXPECT_THAT(*json, HasSubstr("\"health\": \"HEALTH_OK\""));
}

TEST(RenderJsonError, NamesTheCode) {
  EXPECT_EQ(RenderJsonError(absl::NotFoundError("no \"x\"")),
            "{\n  \"code\": \"NOT_FOUND\",\n  \"message\": \"no \\\"x\\\"\"\n}\n");
}

TEST_F(ServerPageTest, ShowsTheDeletionAlertsCausesAndTheConfigurationChanges) {
  AddSnapshot(700, 2);
  v1::Alert* alert = response_.add_alerts();
  alert->set_state(v1::ALERT_STATE_FIRING);
  alert->set_name("PendingDeletesOverThreshold");
  alert->set_connector("contoso.onmicrosoft.com - AAD");
  v1::DeleteCause* cause = alert->add_causes();
  cause->set_kind("ou-unselected");
  cause->set_summary("OU=Sales,DC=contoso,DC=com excluded from contoso.com's OU filtering");
  cause->add_evidence("stage-delete 700: 700 in full-import of <contoso.com>");
  v1::ConfigurationChange* change = response_.add_configuration_changes();
  change->set_kind("container-excluded");
  change->set_connector("contoso.com");
  change->set_after("OU=Sales,DC=contoso,DC=com");
  change->mutable_detected_at()->set_seconds(1714553700);
  const std::string html = RenderServerPage(response_, kNow);
  EXPECT_THAT(html, HasSubstr("<li data-cause=\"ou-unselected\">OU=Sales,DC=contoso,DC=com "
                              "excluded from contoso.com&#39;s OU filtering"));
  EXPECT_THAT(html, HasSubstr("full-import of &lt;contoso.com&gt;"));
  EXPECT_THAT(html, HasSubstr("<tr class=\"change\" data-kind=\"container-excluded\">"
                              "<td>2024-05-01T08:55:00.000Z</td>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"dn\">OU=Sales,DC=contoso,DC=com</td>"));
  // The causes come before the objects of their connector.
  EXPECT_LT(html.find("data-cause"), html.find("<tr class=\"object\">"));
}

TEST_F(ServerPageTest, SaysSoWhenNoConfigurationChangeIsRecorded) {
  const std::string html = RenderServerPage(response_, kNow);
  EXPECT_THAT(html, HasSubstr("No configuration change recorded"));
  EXPECT_THAT(html, Not(HasSubstr("data-cause")));
}

}  // namespace
}  // namespace syncwatch::collector::web
