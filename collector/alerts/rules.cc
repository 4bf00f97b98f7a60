#include "collector/alerts/rules.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "collector/alerts/alert.h"
#include "common/time_util.h"

namespace syncwatch::collector::alerts {
namespace {

constexpr absl::string_view kThresholdExceededResult = "stopped-deletion-threshold-exceeded";

// Most objects one uniqueness alert lists; the rest are counted.
constexpr size_t kMaxListedClaimants = 50;

// Export errors that mean "this value is taken" (DOMAIN.md §3.1-3.3).
constexpr absl::string_view kDuplicateValueErrors[] = {"AttributeValueMustBeUnique",
                                                       "QuarantinedAttributeValueMustBeUnique",
                                                       "InvalidSoftMatch", "ObjectTypeMismatch"};

// Counts come from agents and are only known to be non-negative; beyond this
// they are nonsense anyway, and clamping keeps `count * 100` from overflowing.
int64_t Clamp(int64_t count) { return std::min<int64_t>(count, int64_t{1000000000000000}); }

bool IsDuplicateValueError(absl::string_view type) {
  for (absl::string_view t : kDuplicateValueErrors) {
    if (absl::EqualsIgnoreCase(t, type)) return true;
  }
  return false;
}

std::string Time(absl::Time t) { return FormatIso8601(t); }

std::string Time(const google::protobuf::Timestamp& ts) { return Time(FromProtoTimestamp(ts)); }

AlertBuilder ServerAlert(const ServerFacts& f, absl::string_view name, absl::string_view severity) {
  AlertBuilder b(name, severity);
  b.Server(f.info.server()).Tenant(f.info.tenant()).Role(f.info.role());
  return b;
}

std::string StagingNote(const ServerFacts& f) {
  if (f.info.role() != v1::SERVER_ROLE_STAGING) return "";
  return " (staging server: it does not export while in staging mode, but would export these "
         "if it became the active server)";
}

// "; probable cause: …" naming the first cause of the connector's pending
// deletes (issue 18); empty when none is known.
std::string CauseNote(const ConnectorSnapshot& c) {
  if (c.causes.empty()) return "";
  return absl::StrCat("; probable cause: ", c.causes.front().summary());
}

// The alert with the connector's probable causes, and their lines in the
// description and the `causes` annotation (for Alertmanager's receivers).
v1::Alert WithCauses(const ConnectorSnapshot& c, v1::Alert alert) {
  if (c.causes.empty()) return alert;
  std::string text = "Probable causes:";
  for (const v1::DeleteCause& cause : c.causes) {
    *alert.add_causes() = cause;
    absl::StrAppend(&text, "\n- ", cause.kind(), ": ", cause.summary());
    for (const std::string& e : cause.evidence()) absl::StrAppend(&text, "\n    ", e);
  }
  (*alert.mutable_annotations())["causes"] = text;
  auto& description = (*alert.mutable_annotations())["description"];
  absl::StrAppend(&description, "\n", text);
  return alert;
}

std::string ObjectLine(const v1::PendingObject& o) {
  std::string line = o.dn().empty() ? absl::StrCat("{", o.cs_guid(), "}") : o.dn();
  std::vector<std::string> details;
  if (!o.user_principal_name().empty()) details.push_back(o.user_principal_name());
  if (!o.display_name().empty()) details.push_back(absl::StrCat("\"", o.display_name(), "\""));
  if (!o.object_type().empty()) details.push_back(o.object_type());
  if (!details.empty()) absl::StrAppend(&line, " (", absl::StrJoin(details, ", "), ")");
  return line;
}

// "Objects to be deleted (first 3 of 600): …" and the plain list.
void DeleteSample(const v1::PendingExportSnapshot& snap, int64_t sample_size, std::string* text,
                  std::string* list) {
  const int64_t listed = std::min<int64_t>(sample_size, snap.deletes_size());
  std::vector<std::string> lines;
  for (int64_t i = 0; i < listed; ++i)
    lines.push_back(ObjectLine(snap.deletes(static_cast<int>(i))));
  *list = absl::StrJoin(lines, "\n");
  if (listed == 0) {
    *text = "The agent reported none of the objects to be deleted.";
    return;
  }
  *text = absl::StrCat("Objects to be deleted (first ", listed, " of ", snap.pending_deletes(),
                       "):\n- ", absl::StrJoin(lines, "\n- "));
  if (snap.pending_deletes() > listed) {
    absl::StrAppend(text, "\n… and ", snap.pending_deletes() - listed, " more");
  }
}

// The common part of the pending-delete alerts; *sample is the text naming
// the objects to be deleted, for the description.
AlertBuilder DeletesAlert(const ServerFacts& f, const ConnectorSnapshot& c, absl::string_view name,
                          absl::string_view severity, const RuleSettings& s, std::string* sample) {
  const v1::PendingExportSnapshot& snap = c.snapshot;
  AlertBuilder b = ServerAlert(f, name, severity);
  b.Connector(snap.connector_name());
  std::string objects;
  DeleteSample(snap, s.sample_size, sample, &objects);
  b.Annotation("pending_deletes", absl::StrCat(snap.pending_deletes()));
  b.Annotation("objects", objects);
  b.Annotation("snapshot_taken_at", Time(snap.taken_at()));
  return b;
}

void DeletionThresholdAlerts(const ServerFacts& f, const ConnectorSnapshot& c,
                             const RuleSettings& s, std::vector<v1::Alert>* out) {
  const v1::PendingExportSnapshot& snap = c.snapshot;
  const int64_t pending = Clamp(snap.pending_deletes());
  const DeletionThreshold& t = f.threshold;
  const int64_t threshold = Clamp(t.HasValue() ? t.value : s.default_deletion_threshold);
  const bool disabled = t.known && !t.enabled;
  const bool reaches_warning = pending * 100 >= s.warn_at_percent * threshold;
  // The engine stops an export when the deletes *exceed* the threshold
  // (event 116: "has exceeded the current threshold"): equal is not over.
  const bool exceeds = pending > threshold;
  if (!reaches_warning && !exceeds) return;

  std::string source;
  if (!t.known) {
    source = "the engine's default; no agent of the tenant reported the threshold";
  } else if (t.reported_by == f.info.server()) {
    source = "reported by this server's agent";
  } else {
    source = absl::StrCat("reported by the agent of ", t.reported_by, " (same tenant)");
  }
  std::string summary;
  absl::string_view name = kPendingDeletesNearThreshold;
  absl::string_view severity = kWarning;
  if (disabled) {
    summary =
        absl::StrCat(pending, " pending deletes on ", f.info.server(), " (", snap.connector_name(),
                     ") and the tenant's deletion threshold is disabled: nothing stops the "
                     "next export from deleting them");
  } else if (exceeds) {
    name = kPendingDeletesOverThreshold;
    severity = kCritical;
    summary = absl::StrCat(pending, " pending deletes on ", f.info.server(), " (",
                           snap.connector_name(), ") exceed the deletion threshold of ", threshold,
                           ": the next export to Entra ID will be stopped");
  } else {
    summary =
        absl::StrCat(pending, " pending deletes on ", f.info.server(), " (", snap.connector_name(),
                     ") reach ", pending * 100 / threshold, "% of the deletion threshold of ",
                     threshold, " (the export stops above ", threshold, ")");
  }
  absl::StrAppend(&summary, StagingNote(f), CauseNote(c));
  std::string sample;
  AlertBuilder b = DeletesAlert(f, c, name, severity, s, &sample);
  b.Label("deletion_threshold", disabled ? "disabled" : "enabled");
  const std::string threshold_text =
      disabled ? absl::StrCat("disabled (nominal ", threshold, ")") : absl::StrCat(threshold);
  b.Annotation("deletion_threshold", threshold_text);
  b.Annotation("threshold_source", source);
  b.Summary(summary);
  b.Description(absl::StrCat(summary, ".\nDeletion threshold: ", threshold_text, " (", source,
                             ").\n", sample));
  out->push_back(WithCauses(c, b.Build()));
}

void ShareAlert(const ServerFacts& f, const ConnectorSnapshot& c, const RuleSettings& s,
                std::vector<v1::Alert>* out) {
  const v1::PendingExportSnapshot& snap = c.snapshot;
  const int64_t pending = Clamp(snap.pending_deletes());
  const int64_t objects = Clamp(snap.connector_objects());
  if (objects <= 0 || pending < s.deletes_share_min_deletes ||
      pending * 100 < s.deletes_share_percent * objects) {
    return;
  }
  const std::string summary = absl::StrCat(
      pending, " pending deletes on ", f.info.server(), " (", snap.connector_name(), ") are ",
      pending * 100 / objects, "% of the connector's ", objects, " objects (alert at ",
      s.deletes_share_percent, "%)", StagingNote(f), CauseNote(c));
  std::string sample;
  AlertBuilder b = DeletesAlert(f, c, kPendingDeletesShareHigh, kWarning, s, &sample);
  b.Annotation("connector_objects", absl::StrCat(objects));
  b.Summary(summary);
  b.Description(absl::StrCat(summary, ".\n", sample));
  out->push_back(WithCauses(c, b.Build()));
}

double Median(std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  if (n % 2 == 1) return static_cast<double>(values[n / 2]);
  return (static_cast<double>(values[n / 2 - 1]) + static_cast<double>(values[n / 2])) / 2;
}

void SurgeAlert(const ServerFacts& f, const ConnectorSnapshot& c, const RuleSettings& s,
                std::vector<v1::Alert>* out) {
  if (static_cast<int64_t>(c.previous_deletes.size()) < s.surge_min_history) return;
  const int64_t pending = c.snapshot.pending_deletes();
  const double usual = Median(c.previous_deletes);
  if (pending < s.surge_min_deletes || static_cast<double>(pending) <= s.surge_factor * usual) {
    return;
  }
  const std::string summary = absl::StrCat(pending, " pending deletes on ", f.info.server(), " (",
                                           c.snapshot.connector_name(), ") against a usual ", usual,
                                           " (median of the last ", c.previous_deletes.size(),
                                           " snapshots)", StagingNote(f), CauseNote(c));
  std::string sample;
  AlertBuilder b = DeletesAlert(f, c, kPendingDeletesSurge, kWarning, s, &sample);
  b.Annotation("usual_pending_deletes", absl::StrCat(usual));
  b.Summary(summary);
  b.Description(absl::StrCat(summary, ".\n", sample));
  out->push_back(WithCauses(c, b.Build()));
}

// StagingConfigurationDrift: a staging server's configuration differs from
// its tenant's active server's (issue 18); resolves when they match again.
void DriftAlert(const ServerFacts& f, std::vector<v1::Alert>* out) {
  if (f.drift.empty()) return;
  const v1::ConfigurationDrift& first = f.drift.front();
  std::string summary =
      absl::StrCat("The configuration of staging server ", f.info.server(),
                   " differs from active server ", first.reference_server(), "'s in ",
                   f.drift.size(), " place", f.drift.size() == 1 ? "" : "s", ": ", first.summary());
  std::string list;
  for (const v1::ConfigurationDrift& d : f.drift) absl::StrAppend(&list, "\n- ", d.summary());
  AlertBuilder b = ServerAlert(f, kStagingConfigurationDrift, kWarning);
  b.Label("reference_server", first.reference_server());
  b.Summary(summary);
  b.Description(absl::StrCat(summary,
                             ".\nWere the staging server made active, it would sync "
                             "with this configuration. Differences:",
                             list));
  b.Annotation("differences", absl::StrCat(f.drift.size()));
  out->push_back(b.Build());
}

bool HasResult(const v1::RunProfileResult& run, absl::string_view result) {
  if (run.result() == result) return true;
  for (const v1::RunStep& step : run.steps()) {
    if (step.result() == result) return true;
  }
  return false;
}

void RunAlerts(const ServerFacts& f, const RuleSettings& s, std::vector<v1::Alert>* out) {
  for (const auto& [key, run] : f.latest_runs) {
    const std::string& kind = key.second;
    const std::string when = Time(run.has_end_time() ? run.end_time() : run.start_time());
    if (s.deletion_threshold_enabled && HasResult(run, kThresholdExceededResult)) {
      const std::string summary = absl::StrCat(
          "The ", run.run_profile_name(), " run ", run.run_number(), " of ", run.connector_name(),
          " on ", f.info.server(),
          " was stopped by the deletion threshold: more objects were to be deleted than the "
          "threshold allows, so no objects were exported");
      AlertBuilder b = ServerAlert(f, kDeletionThresholdStoppedExport, kCritical);
      b.Connector(run.connector_name())
          .Summary(summary)
          .Description(absl::StrCat(summary, " (", when,
                                    "). Review the pending deletes (syncwatch deletes); raise the "
                                    "threshold rather than disabling it if they are intended."))
          .Annotation("run_ended", when);
      out->push_back(b.Build());
      continue;
    }
    if (!s.run_stopped_enabled || !absl::StartsWith(run.result(), "stopped-")) continue;
    const std::string summary =
        absl::StrCat("The ", run.run_profile_name(), " run ", run.run_number(), " of ",
                     run.connector_name(), " on ", f.info.server(), " ended ", run.result());
    AlertBuilder b = ServerAlert(f, kSyncRunStopped, kCritical);
    b.Connector(run.connector_name())
        .Label("operation", kind)
        .Label("result", run.result())
        .Summary(summary)
        .Description(absl::StrCat(summary, " at ", when,
                                  "; it could not complete. The alert resolves when a later ", kind,
                                  " run on the connector ends otherwise."))
        .Annotation("run_ended", when);
    out->push_back(b.Build());
  }
}

void OverdueAlert(const ServerFacts& f, const RuleSettings& s, absl::Time now,
                  std::vector<v1::Alert>* out) {
  if (!s.sync_overdue_enabled || f.activity.empty()) return;
  std::optional<absl::Time> last_success;
  std::optional<absl::Time> oldest;
  for (const auto& [connector, a] : f.activity) {
    if (a.last_success && (!last_success || *a.last_success > *last_success)) {
      last_success = a.last_success;
    }
    if (a.oldest_seen && (!oldest || *a.oldest_seen < *oldest)) oldest = a.oldest_seen;
  }
  if (!last_success && !oldest) return;
  const absl::Time reference = last_success ? *last_success : *oldest;
  absl::Duration interval = s.sync_default_interval;
  if (f.info.has_settings()) {
    const absl::Duration reported = FromProtoDuration(f.info.settings().sync_cycle_interval());
    if (reported > absl::ZeroDuration()) interval = reported;
  }
  const absl::Duration window = interval * s.sync_overdue_multiple;
  if (now - reference <= window) return;
  std::string summary =
      last_success
          ? absl::StrCat("No successful sync run on ", f.info.server(), " since ", Time(reference))
          : absl::StrCat("No sync run on ", f.info.server(), " has succeeded since ",
                         Time(reference), " (the first run the collector has of it)");
  absl::StrAppend(&summary, "; the scheduler runs every ", absl::FormatDuration(interval),
                  " and the alert fires after ", s.sync_overdue_multiple, " intervals");
  std::string description = summary;
  if (f.info.has_settings()) {
    const v1::ServerSettings& settings = f.info.settings();
    if (!settings.sync_cycle_enabled()) {
      absl::StrAppend(&description, ". The scheduler's sync cycle is disabled");
    }
    if (settings.scheduler_suspended())
      absl::StrAppend(&description, ". The scheduler is suspended");
  }
  AlertBuilder b = ServerAlert(f, kSyncCycleOverdue, kWarning);
  b.Summary(summary).Description(description).Annotation("last_success", Time(reference));
  out->push_back(b.Build());
}

void ExportErrorAlerts(const ServerFacts& f, const RuleSettings& s, std::vector<v1::Alert>* out) {
  if (!s.export_errors_enabled) return;
  std::map<std::string, std::map<std::string, int64_t>> by_connector;  // connector -> type -> n
  for (const v1::StoredExportError& e : f.active_errors) {
    ++by_connector[e.error().connector_name()][e.error().error_type()];
  }
  for (const auto& [connector, types] : by_connector) {
    int64_t total = 0;
    std::vector<std::string> parts;
    for (const auto& [type, n] : types) {
      total += n;
      parts.push_back(absl::StrCat(type, ": ", n));
    }
    if (total <= s.export_errors_max) continue;
    const std::string summary = absl::StrCat(total, " export errors on ", f.info.server(), " (",
                                             connector, "), more than ", s.export_errors_max);
    AlertBuilder b = ServerAlert(f, kExportErrorsHigh, kWarning);
    b.Connector(connector)
        .Summary(summary)
        .Description(absl::StrCat(summary, ". By type: ", absl::StrJoin(parts, ", "),
                                  ". See syncwatch errors --server ", f.info.server()))
        .Annotation("export_errors", absl::StrCat(total));
    out->push_back(b.Build());
  }
}

// ---- uniqueness ----

// An object claiming a value, and the keys that identify it across reports:
// two claimants sharing any key are the same object (the same object shows up
// on the active and the staging server, and as a pending update and an error).
struct Claimant {
  std::vector<std::string> keys;
  bool pending = false;
  std::string line;
  std::optional<absl::Time> since;
  std::string server;
};

std::vector<std::string> ObjectKeys(absl::string_view server, absl::string_view dn,
                                    absl::string_view cs_guid, absl::string_view anchor) {
  std::vector<std::string> keys;
  if (!anchor.empty()) keys.push_back(absl::StrCat("anchor\n", anchor));
  if (!dn.empty()) keys.push_back(absl::StrCat("dn\n", absl::AsciiStrToLower(dn)));
  if (!cs_guid.empty()) keys.push_back(absl::StrCat("guid\n", server, "\n", cs_guid));
  return keys;
}

// One attribute value and everyone claiming it.
struct ValueGroup {
  std::string attribute;  // canonical spelling
  std::string value;      // folded
  std::vector<Claimant> claimants;
  std::set<std::string> conflict_ids;  // Entra ID objects named by the errors
};

using Groups = std::map<std::pair<std::string, std::string>, ValueGroup>;

ValueGroup& GroupFor(Groups& groups, absl::string_view attribute, absl::string_view value) {
  const std::string canonical = CanonicalAttribute(attribute);
  const std::string folded = FoldValue(canonical, value);
  ValueGroup& g = groups[{absl::AsciiStrToLower(canonical), folded}];
  g.attribute = canonical;
  g.value = folded;
  return g;
}

// (attribute, value) pairs an error says are taken: the agent's conflict
// fields, or the "[ProxyAddresses SMTP:john@contoso.com;]" part of the error
// literal (KB 2647098) when the agent did not fill them.
std::vector<std::pair<std::string, std::string>> ErrorClaims(const v1::ExportError& e) {
  if (!e.conflict_attribute().empty() && !e.conflict_value().empty()) {
    return {{e.conflict_attribute(), e.conflict_value()}};
  }
  std::vector<std::pair<std::string, std::string>> claims;
  absl::string_view text = e.cd_error().error_literal();
  for (size_t open = text.find('['); open != absl::string_view::npos;
       open = text.find('[', open + 1)) {
    const size_t close = text.find(']', open);
    if (close == absl::string_view::npos) break;
    for (absl::string_view piece : absl::StrSplit(text.substr(open + 1, close - open - 1), ';')) {
      piece = absl::StripAsciiWhitespace(piece);
      const size_t space = piece.find(' ');
      if (space == absl::string_view::npos || space == 0) continue;
      const absl::string_view attr = piece.substr(0, space);
      const absl::string_view value = absl::StripAsciiWhitespace(piece.substr(space + 1));
      if (value.empty() || !std::all_of(attr.begin(), attr.end(), [](char ch) {
            return absl::ascii_isalnum(static_cast<unsigned char>(ch));
          })) {
        continue;
      }
      claims.emplace_back(std::string(attr), std::string(value));
    }
  }
  return claims;
}

// Merges claimants sharing a key; returns one representative per object,
// the earliest `since` and any `pending` folded into it.
std::vector<Claimant> DistinctObjects(const std::vector<Claimant>& claimants) {
  std::vector<int> parent(claimants.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = static_cast<int>(i);
  auto find = [&parent](int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::unordered_map<std::string, int> owner;
  for (size_t i = 0; i < claimants.size(); ++i) {
    for (const std::string& key : claimants[i].keys) {
      auto [it, inserted] = owner.emplace(key, static_cast<int>(i));
      if (!inserted) parent[find(static_cast<int>(i))] = find(it->second);
    }
  }
  std::map<int, Claimant> merged;
  for (size_t i = 0; i < claimants.size(); ++i) {
    const Claimant& c = claimants[i];
    auto [it, inserted] = merged.emplace(find(static_cast<int>(i)), c);
    if (inserted) continue;
    Claimant& m = it->second;
    m.pending = m.pending || c.pending;
    // Prefer the line of an error (it says since when) over a pending change.
    if (m.pending && !c.pending) m.line = c.line;
    if (c.since && (!m.since || *c.since < *m.since)) m.since = c.since;
  }
  std::vector<Claimant> out;
  for (auto& [root, c] : merged) out.push_back(std::move(c));
  std::sort(out.begin(), out.end(), [](const Claimant& a, const Claimant& b) {
    const absl::Time ta = a.since.value_or(absl::InfiniteFuture());
    const absl::Time tb = b.since.value_or(absl::InfiniteFuture());
    return ta != tb ? ta < tb : a.line < b.line;
  });
  return out;
}

std::string ListClaimants(const std::vector<Claimant>& objects, const std::set<std::string>& ids) {
  std::vector<std::string> lines;
  for (const Claimant& c : objects) {
    if (lines.size() == kMaxListedClaimants) break;
    lines.push_back(absl::StrCat("- ", c.line));
  }
  for (const std::string& id : ids) {
    if (lines.size() == kMaxListedClaimants) break;
    lines.push_back(absl::StrCat("- Entra ID object ", id, " (holds the value in the cloud)"));
  }
  const size_t total = objects.size() + ids.size();
  if (total > lines.size()) lines.push_back(absl::StrCat("… and ", total - lines.size(), " more"));
  return absl::StrJoin(lines, "\n");
}

AlertBuilder TenantAlert(const TenantFacts& f, absl::string_view name, const ValueGroup& g) {
  AlertBuilder b(name, kWarning);
  b.Tenant(f.tenant);
  // A server without a tenant is its own group; name it.
  if (f.tenant.empty() && f.servers.size() == 1) b.Server(f.servers.front()->info.server());
  b.Label("attribute", g.attribute).Label("value", g.value);
  return b;
}

std::string TenantName(const TenantFacts& f) {
  return f.tenant.empty() ? std::string("the tenant") : f.tenant;
}

}  // namespace

const std::set<std::string>& LivenessAlertNames() {
  static const auto* const names = new std::set<std::string>{std::string(kAgentSilent)};
  return *names;
}

const std::set<std::string>& ServerDataAlertNames() {
  static const auto* const names =
      new std::set<std::string>{std::string(kPendingDeletesNearThreshold),
                                std::string(kPendingDeletesOverThreshold),
                                std::string(kDeletionThresholdStoppedExport),
                                std::string(kPendingDeletesShareHigh),
                                std::string(kPendingDeletesSurge),
                                std::string(kSyncRunStopped),
                                std::string(kSyncCycleOverdue),
                                std::string(kExportErrorsHigh),
                                std::string(kStagingConfigurationDrift)};
  return *names;
}

const std::set<std::string>& TenantAlertNames() {
  static const auto* const names = new std::set<std::string>{
      std::string(kDuplicateAttributeValue), std::string(kDuplicateAttributeValuePredicted)};
  return *names;
}

std::string ServerScope(const std::string& server) { return absl::StrCat("server/", server); }

std::string TenantScope(const std::string& tenant_group) {
  return absl::StrCat("tenant/", tenant_group);
}

std::vector<v1::Alert> ServerLivenessAlerts(const ServerFacts& f, const RuleSettings& s,
                                            absl::Time now) {
  std::vector<v1::Alert> out;
  if (!s.agent_silent_enabled || !f.info.has_last_seen()) return out;
  const absl::Time last_seen = FromProtoTimestamp(f.info.last_seen());
  // Time the collector itself was down does not count against the agent,
  // unless the alert was already firing before (then it just goes on).
  const bool firing = f.firing.count(std::string(kAgentSilent)) > 0;
  const absl::Time reference = firing ? last_seen : std::max(last_seen, f.watching_since);
  if (now - reference <= s.agent_silent_after) return out;
  const std::string summary =
      absl::StrCat("Nothing heard from the agent of ", f.info.server(), " since ", Time(last_seen),
                   " (alert after ", absl::FormatDuration(s.agent_silent_after), ")");
  AlertBuilder b = ServerAlert(f, kAgentSilent, kCritical);
  b.Summary(summary)
      .Description(absl::StrCat(summary,
                                "; pending deletes and failures on it go unseen. Check "
                                "the syncwatch-agent service and the network path to "
                                "the collector."))
      .Annotation("last_seen", Time(last_seen));
  out.push_back(b.Build());
  return out;
}

std::vector<v1::Alert> ServerDataAlerts(const ServerFacts& f, const RuleSettings& s,
                                        absl::Time now) {
  std::vector<v1::Alert> out;
  for (const ConnectorSnapshot& c : f.snapshots) {
    const v1::PendingExportSnapshot& snap = c.snapshot;
    // The threshold guards the export to Entra ID only; the share and surge
    // rules watch every connector.
    if (s.deletion_threshold_enabled &&
        IsEntraConnector(snap.connector_name(), snap.connector_id())) {
      DeletionThresholdAlerts(f, c, s, &out);
    }
    if (s.deletes_share_enabled) ShareAlert(f, c, s, &out);
    if (s.surge_enabled) SurgeAlert(f, c, s, &out);
  }
  RunAlerts(f, s, &out);
  OverdueAlert(f, s, now, &out);
  ExportErrorAlerts(f, s, &out);
  DriftAlert(f, &out);
  return out;
}

std::vector<v1::Alert> TenantAlerts(const TenantFacts& f, const RuleSettings& s) {
  std::vector<v1::Alert> out;
  if (!s.uniqueness_enabled) return out;

  Groups from_errors;
  for (const ServerFacts* server : f.servers) {
    for (const v1::StoredExportError& stored : server->active_errors) {
      const v1::ExportError& e = stored.error();
      if (!IsDuplicateValueError(e.error_type())) continue;
      for (const auto& [attribute, value] : ErrorClaims(e)) {
        ValueGroup& g = GroupFor(from_errors, attribute, value);
        Claimant c;
        c.keys = ObjectKeys(stored.server(), e.dn(), e.cs_guid(), "");
        c.server = stored.server();
        if (e.has_first_occurred()) {
          c.since = FromProtoTimestamp(e.first_occurred());
        } else if (e.has_date_occurred()) {
          c.since = FromProtoTimestamp(e.date_occurred());
        }
        c.line = absl::StrCat(e.dn().empty() ? absl::StrCat("{", e.cs_guid(), "}") : e.dn(), " on ",
                              stored.server(), " (", e.connector_name(), "): ", e.error_type(),
                              c.since ? absl::StrCat(" since ", Time(*c.since)) : "");
        g.claimants.push_back(std::move(c));
        if (!e.object_id_in_conflict().empty()) {
          g.conflict_ids.insert(absl::AsciiStrToLower(e.object_id_in_conflict()));
        }
      }
    }
  }

  for (const auto& [key, g] : from_errors) {
    const std::vector<Claimant> objects = DistinctObjects(g.claimants);
    const size_t count = objects.size() + g.conflict_ids.size();
    std::string summary;
    if (count >= 2) {
      summary = absl::StrCat(g.attribute, " value ", g.value, " is claimed by ", count,
                             " objects in ", TenantName(f));
    } else {
      summary = absl::StrCat(g.attribute, " value ", g.value, " of ", objects.front().line,
                             ": another object of ", TenantName(f), " holds it");
    }
    const std::string list = ListClaimants(objects, g.conflict_ids);
    AlertBuilder b = TenantAlert(f, kDuplicateAttributeValue, g);
    b.Summary(summary)
        .Description(absl::StrCat(summary, ". Entra ID keeps ", g.attribute,
                                  " unique per tenant; change or remove the duplicate in the "
                                  "on-premises directory.\n",
                                  list))
        .Annotation("objects", list)
        .Annotation("claimants", absl::StrCat(count));
    out.push_back(b.Build());
  }

  if (!s.uniqueness_predict) return out;
  Groups predicted;
  for (const ServerFacts* server : f.servers) {
    for (const ConnectorSnapshot& c : server->snapshots) {
      const v1::PendingExportSnapshot& snap = c.snapshot;
      if (!IsEntraConnector(snap.connector_name(), snap.connector_id())) continue;
      for (const v1::PendingObject& o : snap.adds_and_updates()) {
        Claimant claimant;
        claimant.keys = ObjectKeys(server->info.server(), o.dn(), o.cs_guid(), o.source_anchor());
        claimant.pending = true;
        claimant.server = server->info.server();
        claimant.line =
            absl::StrCat(ObjectLine(o), ": pending add/update on ", server->info.server());
        auto claim = [&](absl::string_view attribute, absl::string_view value) {
          if (absl::StripAsciiWhitespace(value).empty()) return;
          GroupFor(predicted, attribute, value).claimants.push_back(claimant);
        };
        claim("userPrincipalName", o.user_principal_name());
        claim("mail", o.mail());
        for (const std::string& address : o.proxy_addresses()) claim("proxyAddresses", address);
      }
    }
  }
  for (auto& [key, g] : predicted) {
    // Objects that already fail to export this value claim it too.
    if (auto e = from_errors.find(key); e != from_errors.end()) {
      g.claimants.insert(g.claimants.end(), e->second.claimants.begin(), e->second.claimants.end());
    }
    const std::vector<Claimant> objects = DistinctObjects(g.claimants);
    if (objects.size() < 2) continue;
    const size_t pending = static_cast<size_t>(
        std::count_if(objects.begin(), objects.end(), [](const Claimant& c) { return c.pending; }));
    if (pending == 0) continue;
    const std::string summary = absl::StrCat(
        g.attribute, " value ", g.value, " will be exported for ", pending,
        pending == 1 ? " object" : " objects", " but ", objects.size(), " objects of ",
        TenantName(f), " claim it: Entra ID will reject the export (AttributeValueMustBeUnique)");
    const std::string list = ListClaimants(objects, {});
    AlertBuilder b = TenantAlert(f, kDuplicateAttributeValuePredicted, g);
    b.Summary(summary)
        .Description(absl::StrCat(summary, ".\n", list))
        .Annotation("objects", list)
        .Annotation("claimants", absl::StrCat(objects.size()));
    out.push_back(b.Build());
  }
  return out;
}

}  // namespace syncwatch::collector::alerts
