#include "collector/alerts/alerts_options.h"

#include <string>

#include "collector/collector_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector::alerts {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AlertsConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<CollectorOptions> Load(const std::string& yaml) {
    path_ = dir_.Sub("collector.yaml");
    testing::WriteFile(path_, yaml);
    return LoadCollectorConfig(path_, CollectorOptions());
  }

  testing::TempDir dir_;
  std::string path_;
};

TEST_F(AlertsConfigTest, DefaultsAreValid) {
  SYNCWATCH_EXPECT_OK(AlertsOptions().Validate());
  const RuleSettings s = RulesConfig().For("any", "any");
  EXPECT_EQ(s.warn_at_percent, 80);
  EXPECT_EQ(s.default_deletion_threshold, 500);
  EXPECT_EQ(s.sync_default_interval, absl::Minutes(30));
}

TEST_F(AlertsConfigTest, ReadsRulesWithTenantAndServerOverrides) {
  auto o = Load(
      "rules:\n"
      "  evaluation_interval: 30s\n"
      "  resolved_retention: 48h\n"
      "  deletion_threshold: {warn_at_percent: 70, sample_size: 5}\n"
      "  pending_deletes_surge: {factor: 2.5, min_history: 3}\n"
      "  agent_silent: {after: 20m}\n"
      "  export_errors: {max: 10, max_age: 1h}\n"
      "  tenants:\n"
      "    Contoso.onmicrosoft.com:\n"
      "      deletion_threshold: {warn_at_percent: 60}\n"
      "      agent_silent: {after: 1h}\n"
      "  servers:\n"
      "    SYNC02:\n"
      "      agent_silent: {enabled: false}\n"
      "      sync_cycle_overdue: {interval_multiple: 5, default_interval: 1h}\n");
  SYNCWATCH_ASSERT_OK(o);
  const RulesConfig& rules = o->alerts.rules;
  EXPECT_EQ(rules.evaluation_interval, absl::Seconds(30));
  EXPECT_EQ(rules.resolved_retention, absl::Hours(48));

  const RuleSettings fleet = rules.For("fabrikam.onmicrosoft.com", "sync01");
  EXPECT_EQ(fleet.warn_at_percent, 70);
  EXPECT_EQ(fleet.sample_size, 5);
  EXPECT_EQ(fleet.surge_factor, 2.5);
  EXPECT_EQ(fleet.surge_min_history, 3);
  EXPECT_EQ(fleet.agent_silent_after, absl::Minutes(20));
  EXPECT_EQ(fleet.export_errors_max, 10);
  EXPECT_EQ(fleet.export_error_max_age, absl::Hours(1));
  EXPECT_TRUE(fleet.agent_silent_enabled);

  // Tenant over fleet; names compare without case.
  const RuleSettings tenant = rules.For("contoso.onmicrosoft.com", "sync01");
  EXPECT_EQ(tenant.warn_at_percent, 60);
  EXPECT_EQ(tenant.sample_size, 5);
  EXPECT_EQ(tenant.agent_silent_after, absl::Hours(1));

  // Server over tenant over fleet.
  const RuleSettings server = rules.For("contoso.onmicrosoft.com", "sync02");
  EXPECT_EQ(server.warn_at_percent, 60);
  EXPECT_FALSE(server.agent_silent_enabled);
  EXPECT_EQ(server.sync_overdue_multiple, 5);
  EXPECT_EQ(server.sync_default_interval, absl::Hours(1));
}

TEST_F(AlertsConfigTest, ReadsNotifiers) {
  auto o = Load(
      "notifiers:\n"
      "  alertmanager:\n"
      "    urls: [\"http://127.0.0.1:9093\", \"https://am2.example.com/prefix/\"]\n"
      "    resend_interval: 2m\n"
      "  webhooks:\n"
      "    - url: https://hooks.slack.com/services/T0/B0/X\n"
      "      format: slack\n"
      "    - {url: \"http://127.0.0.1:8080/hook\"}\n"
      "    - {url: \"https://prod-1.westeurope.logic.azure.com/wf\", format: teams}\n"
      "    - {url: \"https://contoso.webhook.office.com/x\", format: teams-legacy}\n"
      "  initial_backoff: 2s\n"
      "  max_backoff: 10m\n"
      "  timeout: 5s\n"
      "  external_url: http://collector.example.com:9464/\n");
  SYNCWATCH_ASSERT_OK(o);
  const NotifiersOptions& n = o->alerts.notifiers;
  EXPECT_THAT(n.alertmanager_urls,
              ElementsAre("http://127.0.0.1:9093", "https://am2.example.com/prefix/"));
  EXPECT_EQ(n.alertmanager_resend_interval, absl::Minutes(2));
  ASSERT_EQ(n.webhooks.size(), 4u);
  EXPECT_EQ(n.webhooks[0].format, WebhookFormat::kSlack);
  EXPECT_EQ(n.webhooks[1].format, WebhookFormat::kJson);
  EXPECT_EQ(n.webhooks[2].format, WebhookFormat::kTeams);
  EXPECT_EQ(n.webhooks[3].format, WebhookFormat::kTeamsLegacy);
  EXPECT_EQ(n.initial_backoff, absl::Seconds(2));
  EXPECT_EQ(n.max_backoff, absl::Minutes(10));
  EXPECT_EQ(n.timeout, absl::Seconds(5));
  EXPECT_EQ(n.external_url, "http://collector.example.com:9464/");
}

TEST_F(AlertsConfigTest, UnknownKeysNameFileAndLine) {
  EXPECT_THAT(Load("rules:\n  deletion_threshold:\n    warn_percent: 70\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path_ + ":3: unknown key 'warn_percent' in "
                                         "rules.deletion_threshold")));
  EXPECT_THAT(Load("rules:\n  agent_silence: {after: 1m}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path_ + ":2: unknown key 'agent_silence' in rules")));
  EXPECT_THAT(Load("rules:\n  servers:\n    sync01:\n      evaluation_interval: 1m\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path_ + ":4: unknown key 'evaluation_interval'")));
  EXPECT_THAT(
      Load("notifiers:\n  webhooks:\n    - {url: \"http://x\", fmt: json}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path_ + ":3: unknown key 'fmt'")));
}

TEST_F(AlertsConfigTest, BadValuesNameFileAndLine) {
  EXPECT_THAT(Load("rules:\n  deletion_threshold: {warn_at_percent: 101}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path_ + ":2: 'rules.deletion_threshold.warn_at_percent' must be "
                                         "between 1 and 100")));
  EXPECT_THAT(Load("rules:\n\n  agent_silent: {after: soon}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path_ + ":3: 'rules.agent_silent.after' must be a positive "
                                         "duration")));
  EXPECT_THAT(
      Load("notifiers:\n  alertmanager:\n    urls:\n      - ftp://am:9093\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(path_ + ":4: \"ftp://am:9093\" is not an http:// or https:// URL")));
  EXPECT_THAT(
      Load("notifiers:\n  webhooks:\n    - {url: \"http://x\", format: discord}\n"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(":3: webhook format 'discord' is not json, slack, teams or teams-legacy")));
  EXPECT_THAT(Load("notifiers:\n  webhooks:\n    - {format: slack}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a url")));
  EXPECT_THAT(Load("rules:\n  pending_deletes_surge: {history: 4, min_history: 6}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("min_history must be between 1 and 4")));
  EXPECT_THAT(Load("notifiers:\n  alertmanager: {urls: [\"http://a:1\", \"http://a:1\"]}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listed twice")));
  EXPECT_THAT(Load("rules:\n  tenants:\n    a: {}\n    A: {}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":4: rules.tenants: 'A' is "
                                                                     "given twice")));
}

TEST(ParseHttpUrl, SplitsSchemeHostPortAndPath) {
  auto u = ParseHttpUrl("https://hooks.example.com:8443/a/b?c=d");
  SYNCWATCH_ASSERT_OK(u);
  EXPECT_EQ(u->scheme_host_port, "https://hooks.example.com:8443");
  EXPECT_EQ(u->path, "/a/b?c=d");
  u = ParseHttpUrl("HTTP://127.0.0.1:9093");
  SYNCWATCH_ASSERT_OK(u);
  EXPECT_EQ(u->scheme_host_port, "http://127.0.0.1:9093");
  EXPECT_EQ(u->path, "/");
  u = ParseHttpUrl("http://[::1]:9093/x");
  SYNCWATCH_ASSERT_OK(u);
  EXPECT_EQ(u->scheme_host_port, "http://[::1]:9093");
  for (const char* bad : {"", "127.0.0.1:9093", "http://", "http://user:pw@host/", "http://h:0/",
                          "http://h:port/", "mailto:x@y"}) {
    EXPECT_THAT(ParseHttpUrl(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace syncwatch::collector::alerts
