// What the collector's alerting can be told: rule thresholds (per fleet, with
// per-tenant and per-server overrides) and where notifications go. Read from
// the `rules:` and `notifiers:` sections of the collector's YAML config.
//
// Example:
//
//   rules:
//     evaluation_interval: 1m
//     deletion_threshold: {warn_at_percent: 80, default_threshold: 500}
//     agent_silent: {after: 15m}
//     tenants:
//       contoso.onmicrosoft.com: {deletion_threshold: {warn_at_percent: 60}}
//     servers:
//       sync02: {agent_silent: {enabled: false}}
//   notifiers:
//     alertmanager: {urls: ["http://127.0.0.1:9093"], resend_interval: 1m}
//     webhooks:
//       - {url: "https://hooks.slack.com/services/T0/B0/XX", format: slack}
#ifndef SYNCWATCH_COLLECTOR_ALERTS_ALERTS_OPTIONS_H_
#define SYNCWATCH_COLLECTOR_ALERTS_ALERTS_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/yaml_config.h"

namespace syncwatch::collector::alerts {

// The thresholds of every rule as they apply to one server (or tenant). Each
// rule group can be switched off with its `enabled` key.
struct RuleSettings {
  // --- deletion_threshold: pending deletes of the Entra ID connector against
  // the tenant's export deletion threshold, and runs stopped by it.
  bool deletion_threshold_enabled = true;
  // Warning when pending deletes reach this share of the threshold (percent).
  // Default: 80.
  int64_t warn_at_percent = 80;
  // The threshold when no agent of the tenant reported one (the engine's own
  // default). Default: 500.
  int64_t default_deletion_threshold = 500;
  // How many of the objects to be deleted an alert names. Default: 10.
  int64_t sample_size = 10;

  // --- pending_deletes_share: pending deletes as a share of the connector's
  // objects (small tenants never reach 500). Fires when deletes >= percent of
  // the objects and >= min_deletes.
  bool deletes_share_enabled = true;
  // Default: 10.
  int64_t deletes_share_percent = 10;
  // Default: 10.
  int64_t deletes_share_min_deletes = 10;

  // --- pending_deletes_surge: pending deletes against the connector's usual
  // level (the median of its previous snapshots). Fires when deletes >=
  // min_deletes and deletes > factor x median.
  bool surge_enabled = true;
  // Default: 3.
  double surge_factor = 3;
  // Default: 50.
  int64_t surge_min_deletes = 50;
  // How many previous snapshots make the usual level. Default: 48 (a day of
  // 30-minute cycles).
  int64_t surge_history = 48;
  // Fewer previous snapshots than this: no usual level yet, no surge alert.
  // Default: 6.
  int64_t surge_min_history = 6;

  // --- uniqueness: duplicate-value export errors grouped by tenant,
  // attribute and value; `predict` also compares pending adds/updates.
  bool uniqueness_enabled = true;
  // Default: true.
  bool uniqueness_predict = true;

  // --- run_stopped: the latest run of a connector ended `stopped-*`.
  bool run_stopped_enabled = true;

  // --- sync_cycle_overdue: no successful run within interval_multiple x the
  // server's scheduler interval (ServerSettings.sync_cycle_interval, or
  // default_interval when unknown).
  bool sync_overdue_enabled = true;
  // Default: 3.
  int64_t sync_overdue_multiple = 3;
  // Default: 30m (the scheduler's default).
  absl::Duration sync_default_interval = absl::Minutes(30);

  // --- agent_silent: nothing heard from the server's agent for this long.
  bool agent_silent_enabled = true;
  // Default: 15m (agents send a heartbeat every minute).
  absl::Duration agent_silent_after = absl::Minutes(15);

  // --- export_errors: more active export errors on one connector than `max`.
  bool export_errors_enabled = true;
  // Default: 50.
  int64_t export_errors_max = 50;
  // When no export run of the connector is known, an error counts as active
  // while it occurred within this time. Default: 2h.
  absl::Duration export_error_max_age = absl::Hours(2);
};

// Changes to RuleSettings read from one `rules:` mapping (or a tenant's or
// server's override of it), applied in order.
using RulePatch = std::vector<std::function<void(RuleSettings&)>>;

struct RulesConfig {
  // The fleet-wide settings (defaults with the top-level `rules:` applied).
  RuleSettings fleet;
  // Overrides by tenant and by server name, keys lower-cased (both are DNS
  // names, compared without regard to case).
  std::map<std::string, RulePatch> tenants;
  std::map<std::string, RulePatch> servers;
  // How often every rule is evaluated on a timer (staleness, silence), besides
  // after each commit. Default: 1m.
  absl::Duration evaluation_interval = absl::Minutes(1);
  // Resolved alerts are kept this long for `syncwatch alerts`. Default: 7 days.
  absl::Duration resolved_retention = absl::Hours(7 * 24);

  // Fleet settings, then the tenant's overrides, then the server's.
  RuleSettings For(absl::string_view tenant, absl::string_view server) const;

  // OK, or InvalidArgument naming the setting.
  absl::Status Validate() const;
};

enum class WebhookFormat { kJson, kSlack, kTeams, kTeamsLegacy };

struct WebhookOptions {
  // http:// or https:// URL the notification is POSTed to.
  std::string url;
  // json: syncwatch's JSON document; slack: {"text": …} as Slack's incoming
  // webhooks accept; teams: a message with an Adaptive Card, as a Teams
  // Workflows flow ("Post to a channel when a webhook request is received")
  // accepts; teams-legacy: {"text": …} for Office 365 connector webhooks
  // (retired by Microsoft in 2026). Default: json.
  WebhookFormat format = WebhookFormat::kJson;
};

struct NotifiersOptions {
  // Alertmanager base URLs (…/api/v2/alerts is appended unless present); every
  // URL gets every alert (replicas de-duplicate among themselves).
  std::vector<std::string> alertmanager_urls;
  // Firing alerts are re-sent to Alertmanager this often; their endsAt lies 4
  // intervals ahead, so Alertmanager resolves them by itself if the collector
  // disappears. Default: 1m.
  absl::Duration alertmanager_resend_interval = absl::Minutes(1);
  std::vector<WebhookOptions> webhooks;
  // Retry back-off after a failed delivery: doubles from initial to max.
  // Default: 1s .. 5m.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
  // Timeout of one HTTP request (connect, send, receive). Default: 10s.
  absl::Duration timeout = absl::Seconds(10);
  // The generatorURL of Alertmanager alerts (a link back to the collector);
  // empty: derived from the collector's HTTP address. Default: empty.
  std::string external_url;

  absl::Status Validate() const;
};

struct AlertsOptions {
  RulesConfig rules;
  NotifiersOptions notifiers;

  absl::Status Validate() const;
};

// Parses the `rules:` mapping `node` of `file` into *rules (over its current
// values). Unknown keys and bad values are InvalidArgument "FILE:LINE: …".
absl::Status ParseRulesConfig(const YamlFile& file, const YAML::Node& node, RulesConfig* rules);

// Parses the `notifiers:` mapping into *notifiers, with the same error style.
absl::Status ParseNotifiersConfig(const YamlFile& file, const YAML::Node& node,
                                  NotifiersOptions* notifiers);

// A URL split for an HTTP client: "https://hooks.example.com:8443/a/b?c" ->
// {"https://hooks.example.com:8443", "/a/b?c"}.
struct HttpUrl {
  std::string scheme_host_port;
  std::string path;
};
// InvalidArgument unless `url` is http:// or https:// with a host.
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url);

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_ALERTS_OPTIONS_H_
