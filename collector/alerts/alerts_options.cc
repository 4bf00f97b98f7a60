#include "collector/alerts/alerts_options.h"

#include <cmath>
#include <limits>
#include <set>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace syncwatch::collector::alerts {
namespace {

// A setting of RuleSettings as the YAML names it.
using Member = std::variant<bool RuleSettings::*, int64_t RuleSettings::*, double RuleSettings::*,
                            absl::Duration RuleSettings::*>;

struct Field {
  absl::string_view key;
  Member member;
  // Bounds for numbers (doubles are checked against them too).
  int64_t min = 0;
  int64_t max = 0;
};

struct Group {
  absl::string_view key;
  std::vector<Field> fields;
};

constexpr int64_t kBig = 1000000000;

const std::vector<Group>& Groups() {
  static const auto* const groups = new std::vector<Group>{
      {"deletion_threshold",
       {{"enabled", &RuleSettings::deletion_threshold_enabled},
        {"warn_at_percent", &RuleSettings::warn_at_percent, 1, 100},
        {"default_threshold", &RuleSettings::default_deletion_threshold, 1, kBig},
        {"sample_size", &RuleSettings::sample_size, 0, 1000}}},
      {"pending_deletes_share",
       {{"enabled", &RuleSettings::deletes_share_enabled},
        {"percent", &RuleSettings::deletes_share_percent, 1, 100},
        {"min_deletes", &RuleSettings::deletes_share_min_deletes, 1, kBig}}},
      {"pending_deletes_surge",
       {{"enabled", &RuleSettings::surge_enabled},
        {"factor", &RuleSettings::surge_factor, 1, 1000},
        {"min_deletes", &RuleSettings::surge_min_deletes, 1, kBig},
        {"history", &RuleSettings::surge_history, 1, 10000},
        {"min_history", &RuleSettings::surge_min_history, 1, 10000}}},
      {"uniqueness",
       {{"enabled", &RuleSettings::uniqueness_enabled},
        {"predict", &RuleSettings::uniqueness_predict}}},
      {"run_stopped", {{"enabled", &RuleSettings::run_stopped_enabled}}},
      {"sync_cycle_overdue",
       {{"enabled", &RuleSettings::sync_overdue_enabled},
        {"interval_multiple", &RuleSettings::sync_overdue_multiple, 1, 1000},
        {"default_interval", &RuleSettings::sync_default_interval}}},
      {"agent_silent",
       {{"enabled", &RuleSettings::agent_silent_enabled},
        {"after", &RuleSettings::agent_silent_after}}},
      {"export_errors",
       {{"enabled", &RuleSettings::export_errors_enabled},
        {"max", &RuleSettings::export_errors_max, 0, kBig},
        {"max_age", &RuleSettings::export_error_max_age}}},
  };
  return *groups;
}

template <typename T>
std::vector<absl::string_view> KeysOf(const std::vector<T>& items) {
  std::vector<absl::string_view> keys;
  for (const T& item : items) keys.push_back(item.key);
  return keys;
}

// CheckKeys for a key list only known at run time.
absl::Status CheckKeysIn(const YamlFile& file, const YAML::Node& node,
                         const std::vector<absl::string_view>& known, absl::string_view where) {
  if (!node.IsMap()) return file.Error(node, absl::StrCat(where, " must be a mapping"));
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    bool found = false;
    for (absl::string_view k : known) found = found || k == key;
    if (!found) {
      return file.Error(kv.first, absl::StrCat("unknown key '", key, "' in ", where,
                                               " (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> PositiveDuration(const YamlFile& file, const YAML::Node& node,
                                                absl::string_view key) {
  absl::Duration d;
  if (!node.IsScalar() || !absl::ParseDuration(node.Scalar(), &d) || d <= absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return file.Error(
        node, absl::StrCat("'", key, "' must be a positive duration such as 30s, 15m or 2h"));
  }
  return d;
}

absl::Status ParseField(const YamlFile& file, const Field& field, const YAML::Node& node,
                        absl::string_view where, RulePatch* patch) {
  const std::string key = absl::StrCat(where, ".", field.key);
  if (auto* as_bool = std::get_if<bool RuleSettings::*>(&field.member)) {
    SYNCWATCH_ASSIGN_OR_RETURN(bool v, file.Bool(node, key));
    patch->push_back([m = *as_bool, v](RuleSettings& s) { s.*m = v; });
  } else if (auto* as_int = std::get_if<int64_t RuleSettings::*>(&field.member)) {
    SYNCWATCH_ASSIGN_OR_RETURN(int64_t v, file.Int(node, key, field.min, field.max));
    patch->push_back([m = *as_int, v](RuleSettings& s) { s.*m = v; });
  } else if (auto* as_double = std::get_if<double RuleSettings::*>(&field.member)) {
    double v = 0;
    if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &v) || !std::isfinite(v) ||
        v < static_cast<double>(field.min) || v > static_cast<double>(field.max)) {
      return file.Error(node, absl::StrCat("'", key, "' must be a number between ", field.min,
                                           " and ", field.max));
    }
    patch->push_back([m = *as_double, v](RuleSettings& s) { s.*m = v; });
  } else if (auto* as_duration = std::get_if<absl::Duration RuleSettings::*>(&field.member)) {
    SYNCWATCH_ASSIGN_OR_RETURN(absl::Duration v, PositiveDuration(file, node, key));
    patch->push_back([m = *as_duration, v](RuleSettings& s) { s.*m = v; });
  }
  return absl::OkStatus();
}

// Parses the rule groups of `node` (top-level `rules:` or one override),
// skipping the keys in `other_keys`, which the caller handles.
absl::Status ParseGroups(const YamlFile& file, const YAML::Node& node, absl::string_view where,
                         const std::vector<absl::string_view>& other_keys, RulePatch* patch) {
  std::vector<absl::string_view> known = KeysOf(Groups());
  known.insert(known.end(), other_keys.begin(), other_keys.end());
  SYNCWATCH_RETURN_IF_ERROR(CheckKeysIn(file, node, known, where));
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    for (const Group& group : Groups()) {
      if (group.key != key) continue;
      const std::string group_where = absl::StrCat(where, ".", key);
      SYNCWATCH_RETURN_IF_ERROR(CheckKeysIn(file, kv.second, KeysOf(group.fields), group_where));
      for (const auto& f : kv.second) {
        for (const Field& field : group.fields) {
          if (field.key == f.first.Scalar()) {
            SYNCWATCH_RETURN_IF_ERROR(ParseField(file, field, f.second, group_where, patch));
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseOverrides(const YamlFile& file, const YAML::Node& node, absl::string_view where,
                            std::map<std::string, RulePatch>* out) {
  if (!node.IsMap()) return file.Error(node, absl::StrCat("rules.", where, " must be a mapping"));
  for (const auto& kv : node) {
    const std::string name = absl::AsciiStrToLower(kv.first.Scalar());
    if (name.empty()) return file.Error(kv.first, absl::StrCat("rules.", where, ": empty name"));
    if (out->count(name) > 0) {
      return file.Error(kv.first, absl::StrCat("rules.", where, ": '", kv.first.Scalar(),
                                               "' is given twice (names ignore case)"));
    }
    RulePatch patch;
    SYNCWATCH_RETURN_IF_ERROR(ParseGroups(
        file, kv.second, absl::StrCat("rules.", where, ".", kv.first.Scalar()), {}, &patch));
    (*out)[name] = std::move(patch);
  }
  return absl::OkStatus();
}

void Apply(const RulePatch& patch, RuleSettings& settings) {
  for (const auto& change : patch) change(settings);
}

absl::Status CheckSettings(const RuleSettings& s) {
  auto range = [](absl::string_view name, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules: ", name, " must be between ", lo, " and ", hi, " (got ", v, ")"));
    }
    return absl::OkStatus();
  };
  SYNCWATCH_RETURN_IF_ERROR(range("deletion_threshold.warn_at_percent", s.warn_at_percent, 1, 100));
  SYNCWATCH_RETURN_IF_ERROR(
      range("deletion_threshold.default_threshold", s.default_deletion_threshold, 1, kBig));
  SYNCWATCH_RETURN_IF_ERROR(range("deletion_threshold.sample_size", s.sample_size, 0, 1000));
  SYNCWATCH_RETURN_IF_ERROR(
      range("pending_deletes_share.percent", s.deletes_share_percent, 1, 100));
  SYNCWATCH_RETURN_IF_ERROR(
      range("pending_deletes_surge.min_history", s.surge_min_history, 1, s.surge_history));
  SYNCWATCH_RETURN_IF_ERROR(
      range("sync_cycle_overdue.interval_multiple", s.sync_overdue_multiple, 1, 1000));
  if (!(s.surge_factor >= 1)) {
    return absl::InvalidArgumentError("rules: pending_deletes_surge.factor must be at least 1");
  }
  for (const auto& [name, d] : {std::pair<const char*, absl::Duration>{
                                    "sync_cycle_overdue.default_interval", s.sync_default_interval},
                                {"agent_silent.after", s.agent_silent_after},
                                {"export_errors.max_age", s.export_error_max_age}}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("rules: ", name, " must be positive"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

RuleSettings RulesConfig::For(absl::string_view tenant, absl::string_view server) const {
  RuleSettings s = fleet;
  // Asked per server per fleet query: no lower-casing when nothing overrides.
  if (!tenants.empty()) {
    if (auto it = tenants.find(absl::AsciiStrToLower(tenant)); it != tenants.end()) {
      Apply(it->second, s);
    }
  }
  if (!servers.empty()) {
    if (auto it = servers.find(absl::AsciiStrToLower(server)); it != servers.end()) {
      Apply(it->second, s);
    }
  }
  return s;
}

absl::Status RulesConfig::Validate() const {
  if (evaluation_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rules: evaluation_interval must be positive");
  }
  if (resolved_retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rules: resolved_retention must be positive");
  }
  SYNCWATCH_RETURN_IF_ERROR(CheckSettings(fleet));
  // Overrides were range-checked when read, but together with the fleet
  // values they must still make sense (e.g. min_history <= history).
  for (const auto& [tenant, patch] : tenants) {
    absl::Status s = CheckSettings(For(tenant, ""));
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("tenant ", tenant, ": ", s.message()));
  }
  for (const auto& [server, patch] : servers) {
    absl::Status s = CheckSettings(For("", server));
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("server ", server, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url) {
  const std::string lower = absl::AsciiStrToLower(url);
  size_t scheme_end = 0;
  if (absl::StartsWith(lower, "http://")) {
    scheme_end = 7;
  } else if (absl::StartsWith(lower, "https://")) {
    scheme_end = 8;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not an http:// or https:// URL"));
  }
  const size_t path_start = url.find_first_of("/?#", scheme_end);
  const absl::string_view authority =
      url.substr(scheme_end, path_start == absl::string_view::npos ? absl::string_view::npos
                                                                   : path_start - scheme_end);
  if (authority.empty() || absl::StrContains(authority, "@") || absl::StrContains(authority, " ")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" has no host (or carries user info, which is not supported)"));
  }
  // A port, if any, must be a number (IPv6 literals are bracketed).
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    int port = 0;
    if (!absl::SimpleAtoi(authority.substr(colon + 1), &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" has a bad port"));
    }
  }
  HttpUrl out;
  out.scheme_host_port = absl::StrCat(lower.substr(0, scheme_end), authority);
  out.path = path_start == absl::string_view::npos ? "/" : std::string(url.substr(path_start));
  if (absl::StartsWith(out.path, "?")) out.path = absl::StrCat("/", out.path);
  if (const size_t hash = out.path.find('#'); hash != std::string::npos) out.path.resize(hash);
  if (out.path.empty()) out.path = "/";
  return out;
}

absl::Status NotifiersOptions::Validate() const {
  std::set<std::string> seen;
  for (const std::string& url : alertmanager_urls) {
    if (!seen.insert(url).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("notifiers.alertmanager.urls: ", url, " is listed twice"));
    }
  }
  for (const WebhookOptions& hook : webhooks) {
    if (!seen.insert(absl::StrCat(static_cast<int>(hook.format), " ", hook.url)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("notifiers.webhooks: ", hook.url, " is listed twice with one format"));
    }
  }
  for (const std::string& url : alertmanager_urls) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("notifiers.alertmanager.urls: ", parsed.status().message()));
    }
  }
  for (const WebhookOptions& hook : webhooks) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(hook.url);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("notifiers.webhooks.url: ", parsed.status().message()));
    }
  }
  if (!external_url.empty()) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(external_url);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("notifiers.external_url: ", parsed.status().message()));
    }
  }
  if (alertmanager_resend_interval <= absl::ZeroDuration() ||
      initial_backoff <= absl::ZeroDuration() || timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "notifiers: resend_interval, initial_backoff and timeout must be positive");
  }
  if (max_backoff < initial_backoff) {
    return absl::InvalidArgumentError("notifiers: max_backoff must not be below initial_backoff");
  }
  return absl::OkStatus();
}

absl::Status AlertsOptions::Validate() const {
  SYNCWATCH_RETURN_IF_ERROR(rules.Validate());
  return notifiers.Validate();
}

absl::Status ParseRulesConfig(const YamlFile& file, const YAML::Node& node, RulesConfig* rules) {
  RulePatch fleet;
  SYNCWATCH_RETURN_IF_ERROR(
      ParseGroups(file, node, "rules",
                  {"evaluation_interval", "resolved_retention", "tenants", "servers"}, &fleet));
  Apply(fleet, rules->fleet);
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (key == "evaluation_interval") {
      SYNCWATCH_ASSIGN_OR_RETURN(rules->evaluation_interval,
                                 PositiveDuration(file, kv.second, "rules.evaluation_interval"));
    } else if (key == "resolved_retention") {
      SYNCWATCH_ASSIGN_OR_RETURN(rules->resolved_retention,
                                 PositiveDuration(file, kv.second, "rules.resolved_retention"));
    } else if (key == "tenants") {
      SYNCWATCH_RETURN_IF_ERROR(ParseOverrides(file, kv.second, "tenants", &rules->tenants));
    } else if (key == "servers") {
      SYNCWATCH_RETURN_IF_ERROR(ParseOverrides(file, kv.second, "servers", &rules->servers));
    }
  }
  // Cross-field checks (min_history <= history, ...) with the file's name.
  absl::Status valid = rules->Validate();
  if (!valid.ok()) return file.Error(node, valid.message());
  return absl::OkStatus();
}

absl::Status ParseNotifiersConfig(const YamlFile& file, const YAML::Node& node,
                                  NotifiersOptions* notifiers) {
  SYNCWATCH_RETURN_IF_ERROR(file.CheckKeys(
      node,
      {"alertmanager", "webhooks", "initial_backoff", "max_backoff", "timeout", "external_url"},
      "notifiers"));
  auto url_ok = [&](const YAML::Node& at, const std::string& url) -> absl::Status {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
    if (!parsed.ok()) return file.Error(at, parsed.status().message());
    return absl::OkStatus();
  };
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "alertmanager") {
      SYNCWATCH_RETURN_IF_ERROR(
          file.CheckKeys(v, {"urls", "resend_interval"}, "notifiers.alertmanager"));
      for (const auto& am : v) {
        const std::string k = am.first.Scalar();
        if (k == "urls") {
          SYNCWATCH_ASSIGN_OR_RETURN(notifiers->alertmanager_urls,
                                     file.StringList(am.second, "notifiers.alertmanager.urls"));
          for (size_t i = 0; i < notifiers->alertmanager_urls.size(); ++i) {
            SYNCWATCH_RETURN_IF_ERROR(url_ok(am.second[i], notifiers->alertmanager_urls[i]));
          }
        } else if (k == "resend_interval") {
          SYNCWATCH_ASSIGN_OR_RETURN(
              notifiers->alertmanager_resend_interval,
              PositiveDuration(file, am.second, "notifiers.alertmanager.resend_interval"));
        }
      }
    } else if (key == "webhooks") {
      if (!v.IsSequence()) return file.Error(v, "'notifiers.webhooks' must be a list");
      notifiers->webhooks.clear();
      for (const auto& item : v) {
        SYNCWATCH_RETURN_IF_ERROR(file.CheckKeys(item, {"url", "format"}, "a webhook"));
        WebhookOptions hook;
        bool has_url = false;
        for (const auto& h : item) {
          const std::string k = h.first.Scalar();
          SYNCWATCH_ASSIGN_OR_RETURN(std::string value, file.String(h.second, k));
          if (k == "url") {
            SYNCWATCH_RETURN_IF_ERROR(url_ok(h.second, value));
            hook.url = value;
            has_url = true;
          } else if (value == "json") {
            hook.format = WebhookFormat::kJson;
          } else if (value == "slack") {
            hook.format = WebhookFormat::kSlack;
          } else if (value == "teams") {
            hook.format = WebhookFormat::kTeams;
          } else if (value == "teams-legacy") {
            hook.format = WebhookFormat::kTeamsLegacy;
          } else {
            return file.Error(h.second,
                              absl::StrCat("webhook format '", value,
                                           "' is not json, slack, teams or teams-legacy"));
          }
        }
        if (!has_url) return file.Error(item, "a webhook needs a url");
        notifiers->webhooks.push_back(std::move(hook));
      }
    } else if (key == "initial_backoff") {
      SYNCWATCH_ASSIGN_OR_RETURN(notifiers->initial_backoff,
                                 PositiveDuration(file, v, "notifiers.initial_backoff"));
    } else if (key == "max_backoff") {
      SYNCWATCH_ASSIGN_OR_RETURN(notifiers->max_backoff,
                                 PositiveDuration(file, v, "notifiers.max_backoff"));
    } else if (key == "timeout") {
      SYNCWATCH_ASSIGN_OR_RETURN(notifiers->timeout,
                                 PositiveDuration(file, v, "notifiers.timeout"));
    } else if (key == "external_url") {
      SYNCWATCH_ASSIGN_OR_RETURN(notifiers->external_url, file.String(v, "external_url"));
      SYNCWATCH_RETURN_IF_ERROR(url_ok(v, notifiers->external_url));
    }
  }
  absl::Status valid = notifiers->Validate();
  if (!valid.ok()) return file.Error(node, valid.message());
  return absl::OkStatus();
}

}  // namespace syncwatch::collector::alerts
