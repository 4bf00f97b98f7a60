#include "collector/config/delete_causes.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/time_util.h"

namespace syncwatch::collector::config {
namespace {

// The run-history counters the causes are told apart by.
enum Counter : size_t {
  // Import steps of the source connectors: `staging-counters/stage-delete`.
  kStageDelete = 0,
  // Import steps: `ma-discovery-counters/filtered-objects`, objects read but
  // outside the connector's container or object-type filter.
  kFilteredObjects,
  // Sync steps of the source connectors: `inbound-flow-counters/...`.
  kFilteredRemoveMv,
  kFilteredLeaveMv,
  kDeleteRemoveMv,
  // Sync steps, `outbound-flow-counters` towards the connector with the
  // pending deletes: `provisioned-disconnect`.
  kProvisionedDisconnect,
  kCounterCount,
};

constexpr std::array<const char*, kCounterCount> kCounterNames = {
    "stage-delete",
    "filtered-objects",
    "connector-filtered-remove-mv",
    "connector-filtered-leave-mv",
    "connector-delete-remove-mv",
    "provisioned-disconnect",
};

// One row of the mapping (docs/domain/delete-causes.md).
struct CauseRow {
  const char* kind;
  // What happened, one line.
  const char* description;
  // Configuration changes that point to the cause (any of them); a row with
  // kinds is named only when one such change happened since the export.
  std::vector<const char*> change_kinds;
  // For rule changes: the rule's link type the change must concern ("" any).
  const char* link_type;
  // For link-type-changed: the link type after the change ("" any).
  const char* after;
  // Counters that must all be non-zero, at least one of which must be
  // non-zero, and that must be zero.
  std::vector<Counter> all_of;
  std::vector<Counter> any_of;
  std::vector<Counter> none_of;
};

const std::vector<CauseRow>& Table() {
  static const std::vector<CauseRow>* const table = new std::vector<CauseRow>{
      {"ou-unselected",
       "an OU or domain unselected in the connector's filtering",
       {"partition-unselected", "container-no-longer-included", "container-excluded",
        "object-class-removed"},
       "",
       "",
       {},
       {kStageDelete, kDeleteRemoveMv, kProvisionedDisconnect},
       {}},
      {"scoping-filter-changed",
       "a sync rule's scoping filter changed",
       {"scoping-filter-changed"},
       "",
       "",
       {},
       {kFilteredRemoveMv, kFilteredLeaveMv, kProvisionedDisconnect},
       {}},
      {"provisioning-rule-disabled",
       "a provisioning sync rule disabled",
       {"rule-disabled", "rule-removed"},
       "Provision",
       "",
       {},
       {kFilteredRemoveMv, kFilteredLeaveMv, kProvisionedDisconnect},
       {}},
      {"link-type-join",
       "a sync rule's link type changed from Provision to Join",
       {"link-type-changed"},
       "Provision",
       "Join",
       {},
       {kFilteredRemoveMv, kFilteredLeaveMv, kProvisionedDisconnect},
       {}},
      {"ou-renamed",
       "an OU renamed or moved, so its objects fall out of the selected OUs",
       {},
       "",
       "",
       {kStageDelete, kFilteredObjects},
       {},
       {}},
      {"ou-objects-deleted",
       "objects deleted in the directory (e.g. all objects of an OU)",
       {},
       "",
       "",
       {kStageDelete},
       {},
       {kFilteredObjects}},
      {"rule-scope-left",
       "objects left a sync rule's scope (no configuration change recorded: attribute values "
       "changed, or a rule edited before the first configuration was reported)",
       {},
       "",
       "",
       {},
       {kFilteredRemoveMv, kFilteredLeaveMv},
       {kStageDelete}},
  };
  return *table;
}

std::string At(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", FromProtoTimestamp(t), absl::UTCTimeZone());
}

std::string RunLabel(const v1::RunProfileResult& run, const v1::RunStep& step) {
  return absl::StrCat(step.step_type(), " of ", run.connector_name(), " (run '",
                      run.run_profile_name(), "' #", run.run_number(), " at ", At(run.start_time()),
                      ")");
}

bool IsImport(const v1::RunStep& s) { return absl::StrContains(s.step_type(), "import"); }
bool IsSync(const v1::RunStep& s) {
  return s.step_type() == "apply-rules" || absl::StrContains(s.step_type(), "sync");
}

struct Tally {
  int64_t total = 0;
  // Which steps moved it, largest first once sorted.
  std::vector<std::pair<int64_t, std::string>> steps;
};

struct Counters {
  std::array<Tally, kCounterCount> tally;
  // The sync step with the most provisioned disconnects towards the connector.
  int64_t top_disconnects = 0;
  std::string top_step;

  int64_t operator[](Counter c) const { return tally[c].total; }
  void Add(Counter c, int64_t v, const std::string& label) {
    if (v <= 0) return;
    tally[c].total += v;
    tally[c].steps.emplace_back(v, label);
  }
};

Counters Count(const DeleteEvidence& e) {
  Counters c;
  const std::string& target = e.snapshot.connector_name();
  for (const v1::RunProfileResult& run : e.runs) {
    const bool source = run.connector_name() != target;
    for (const v1::RunStep& s : run.steps()) {
      const std::string label = RunLabel(run, s);
      if (IsImport(s) && source) {
        c.Add(kStageDelete, s.staging_counters().stage_delete(), label);
        c.Add(kFilteredObjects, s.filtered_objects(), label);
      }
      if (!IsSync(s)) continue;
      if (source) {
        const v1::InboundFlowCounters& in = s.inbound_flow_counters();
        c.Add(kFilteredRemoveMv, in.connector_filtered_remove_mv(), label);
        c.Add(kFilteredLeaveMv, in.connector_filtered_leave_mv(), label);
        c.Add(kDeleteRemoveMv, in.connector_delete_remove_mv(), label);
      }
      for (const v1::OutboundFlowCounters& out : s.outbound_flow_counters()) {
        const bool towards =
            out.connector() == target ||
            (!out.connector_id().empty() && out.connector_id() == e.snapshot.connector_id());
        if (!towards) continue;
        c.Add(kProvisionedDisconnect, out.provisioned_disconnect(), label);
        if (out.provisioned_disconnect() > c.top_disconnects) {
          c.top_disconnects = out.provisioned_disconnect();
          c.top_step = label;
        }
      }
    }
  }
  for (Tally& t : c.tally) {
    std::stable_sort(t.steps.begin(), t.steps.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
  }
  return c;
}

bool CountersMatch(const CauseRow& row, const Counters& c) {
  for (Counter k : row.all_of) {
    if (c[k] <= 0) return false;
  }
  for (Counter k : row.none_of) {
    if (c[k] > 0) return false;
  }
  if (row.any_of.empty()) return true;
  return std::any_of(row.any_of.begin(), row.any_of.end(), [&c](Counter k) { return c[k] > 0; });
}

bool ChangeMatches(const CauseRow& row, const v1::ConfigurationChange& change) {
  if (std::find_if(row.change_kinds.begin(), row.change_kinds.end(), [&change](const char* k) {
        return change.kind() == k;
      }) == row.change_kinds.end()) {
    return false;
  }
  if (*row.link_type != '\0' && !absl::EqualsIgnoreCase(change.link_type(), row.link_type)) {
    return false;
  }
  return *row.after == '\0' || absl::EqualsIgnoreCase(change.after(), row.after);
}

// The counters a row looks at, one line each for those that moved.
void CounterEvidence(const CauseRow& row, const Counters& c, v1::DeleteCause* cause) {
  std::vector<Counter> looked;
  for (const auto* list : {&row.all_of, &row.any_of}) {
    for (Counter k : *list) {
      if (std::find(looked.begin(), looked.end(), k) == looked.end()) looked.push_back(k);
    }
  }
  for (Counter k : looked) {
    const Tally& t = c.tally[k];
    if (t.total <= 0) continue;
    std::string line = absl::StrCat(kCounterNames[k], " ", t.total, ": ");
    for (size_t i = 0; i < t.steps.size() && i < 3; ++i) {
      absl::StrAppend(&line, i ? "; " : "", t.steps[i].first, " in ", t.steps[i].second);
    }
    if (t.steps.size() > 3) absl::StrAppend(&line, "; and ", t.steps.size() - 3, " more steps");
    cause->add_evidence(std::move(line));
  }
  for (Counter k : row.none_of) {
    cause->add_evidence(absl::StrCat(kCounterNames[k], " 0 in every import since the export"));
  }
}

// The containers most pending deletes are in, with their counts.
std::vector<std::string> ContainerEvidence(const v1::PendingExportSnapshot& s) {
  std::map<std::string, int64_t> count;
  for (const v1::PendingObject& o : s.deletes()) {
    std::string parent = ParentContainer(o.dn());
    if (absl::StrContains(parent, "=") && !parent.empty()) ++count[parent];
  }
  std::vector<std::pair<int64_t, std::string>> top;
  for (auto& [dn, n] : count) top.emplace_back(n, dn);
  std::stable_sort(top.begin(), top.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < top.size() && i < 3; ++i) {
    out.push_back(absl::StrCat("pending deletes under ", top[i].second, ": ", top[i].first));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& DeleteCauseKinds() {
  static const std::vector<std::string>* const kinds = [] {
    auto* k = new std::vector<std::string>();
    for (const CauseRow& row : Table()) k->push_back(row.kind);
    return k;
  }();
  return *kinds;
}

std::string ParentContainer(const std::string& dn) {
  for (size_t i = 0; i < dn.size(); ++i) {
    if (dn[i] == '\\') {
      ++i;
      continue;
    }
    if (dn[i] == ',') return dn.substr(i + 1);
  }
  return "";
}

std::vector<v1::DeleteCause> ExplainDeletes(const DeleteEvidence& evidence) {
  const Counters counters = Count(evidence);
  std::vector<v1::DeleteCause> with_change;
  std::vector<v1::DeleteCause> counters_only;
  for (const CauseRow& row : Table()) {
    if (!CountersMatch(row, counters)) continue;
    v1::DeleteCause cause;
    cause.set_kind(row.kind);
    if (!row.change_kinds.empty()) {
      // The latest matching change names the cause; every one is evidence.
      const v1::ConfigurationChange* latest = nullptr;
      for (const v1::ConfigurationChange& ch : evidence.changes) {
        if (!ChangeMatches(row, ch)) continue;
        latest = &ch;
        cause.add_evidence(
            absl::StrCat("configuration change at ", At(ch.detected_at()), ": ", ch.summary()));
      }
      if (latest == nullptr) continue;
      cause.set_summary(absl::StrCat(latest->summary(), " at ", At(latest->detected_at()), " (",
                                     row.description, ")"));
    } else {
      cause.set_summary(absl::StrCat(row.description,
                                     " (run-history counters; no "
                                     "configuration change explains it)"));
    }
    CounterEvidence(row, counters, &cause);
    (row.change_kinds.empty() ? counters_only : with_change).push_back(std::move(cause));
  }
  std::vector<v1::DeleteCause> out = std::move(with_change);
  for (auto& c : counters_only) out.push_back(std::move(c));
  if (out.empty()) return out;
  // What produced the surge, and where the objects are: true whatever the cause.
  std::vector<std::string> common;
  if (counters.top_disconnects > 0) {
    common.push_back(absl::StrCat("the ", counters.top_step, " provisioned ",
                                  counters.top_disconnects, " disconnects towards ",
                                  evidence.snapshot.connector_name()));
  }
  for (std::string& line : ContainerEvidence(evidence.snapshot)) common.push_back(std::move(line));
  for (v1::DeleteCause& c : out) {
    for (const std::string& line : common) c.add_evidence(line);
  }
  return out;
}

}  // namespace syncwatch::collector::config
