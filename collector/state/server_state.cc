#include "collector/state/server_state.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/state/run_identity.h"
#include "common/time_util.h"

namespace syncwatch::collector {
namespace {

int64_t Micros(const google::protobuf::Timestamp& t) { return ToUnixMicrosOrZero(t); }

// When a run ended, or started when its end is unknown.
const google::protobuf::Timestamp& RunTime(const v1::RunProfileResult& run) {
  return run.has_end_time() ? run.end_time() : run.start_time();
}

// Sets an optional timestamp field of `m` to `t` when the field is unset or
// `t` is better by `better` (std::greater: later; std::less: earlier). The
// field's presence is read before its mutable accessor creates it: as two
// arguments of one call their order would be unspecified (clang and gcc
// differ).
template <typename Message, typename Better>
void Keep(const google::protobuf::Timestamp& t, Message* m, bool (Message::*has)() const,
          google::protobuf::Timestamp* (Message::*mutable_field)(), Better better) {
  const bool present = (m->*has)();
  google::protobuf::Timestamp* into = (m->*mutable_field)();
  if (!present || better(Micros(t), Micros(*into))) *into = t;
}

v1::ConnectorState* FindOrAddConnector(const std::string& name, v1::ServerInfo* info) {
  auto* connectors = info->mutable_connectors();
  auto it = std::lower_bound(
      connectors->begin(), connectors->end(), name,
      [](const v1::ConnectorState& c, const std::string& n) { return c.connector() < n; });
  if (it != connectors->end() && it->connector() == name) return &*it;
  const int index = static_cast<int>(it - connectors->begin());
  connectors->Add()->set_connector(name);
  // Move the new last element into its sorted place.
  for (int i = connectors->size() - 1; i > index; --i) connectors->SwapElements(i, i - 1);
  return connectors->Mutable(index);
}

// True when `run` should replace `current` as the connector's latest run.
bool Supersedes(const v1::RunProfileResult& run, const v1::RunProfileResult& current) {
  if (SameRun(run, current)) {
    // The same run again: a complete report wins over an in-progress one.
    return IsCompleteRun(run) || !IsCompleteRun(current);
  }
  return Micros(run.start_time()) > Micros(current.start_time());
}

}  // namespace

std::string RunKind(const v1::RunProfileResult& run) {
  for (const v1::RunStep& step : run.steps()) {
    const std::string type = absl::AsciiStrToLower(step.step_type());
    if (type == "export") return "export";
    if (absl::StrContains(type, "import")) return "import";
    if (type == "apply-rules") return "sync";
  }
  const std::string profile = absl::AsciiStrToLower(run.run_profile_name());
  if (absl::StrContains(profile, "export")) return "export";
  if (absl::StrContains(profile, "import")) return "import";
  if (absl::StrContains(profile, "sync")) return "sync";
  return profile;
}

bool IsCompleteRun(const v1::RunProfileResult& run) {
  return run.is_run_complete() || run.has_end_time();
}

bool IsSuccessfulResult(absl::string_view result) {
  return result == "success" || absl::StartsWith(result, "completed-");
}

std::string TenantGroup(const v1::ServerInfo& info) {
  if (info.tenant().empty()) return absl::StrCat("server:", absl::AsciiStrToLower(info.server()));
  return absl::AsciiStrToLower(info.tenant());
}

void ApplyRunToState(const v1::RunProfileResult& run, v1::ServerInfo* info) {
  const v1::RunProfileResult* one[] = {&run};
  ApplyRunsToState(one, info);
}

void ApplyRunsToState(absl::Span<const v1::RunProfileResult* const> runs, v1::ServerInfo* info) {
  if (runs.empty()) return;
  // First every connector, so that the states stay where they are below.
  for (const v1::RunProfileResult* run : runs) FindOrAddConnector(run->connector_name(), info);
  // The runs that win each place, as a sequential fold would pick them; only
  // the winners are copied into the state, once.
  struct Winners {
    const v1::RunProfileResult* last = nullptr;
    std::map<std::string, const v1::RunProfileResult*> complete;
  };
  std::map<v1::ConnectorState*, Winners> winners;
  for (const v1::RunProfileResult* run_ptr : runs) {
    const v1::RunProfileResult& run = *run_ptr;
    v1::ConnectorState* c = FindOrAddConnector(run.connector_name(), info);
    Winners& w = winners[c];
    if (!run.connector_id().empty()) c->set_connector_id(run.connector_id());
    const v1::RunProfileResult* last = w.last != nullptr   ? w.last
                                       : c->has_last_run() ? &c->last_run()
                                                           : nullptr;
    if (last == nullptr || Supersedes(run, *last)) w.last = &run;
    if (run.has_start_time()) {
      Keep(run.start_time(), c, &v1::ConnectorState::has_first_run_start,
           &v1::ConnectorState::mutable_first_run_start, std::less<int64_t>());
    }
    if (!IsCompleteRun(run)) continue;
    const std::string kind = RunKind(run);
    auto [slot, added] = w.complete.try_emplace(kind, nullptr);
    if (added) {
      auto stored = c->latest_complete_runs().find(kind);
      if (stored != c->latest_complete_runs().end()) slot->second = &stored->second;
    }
    if (slot->second == nullptr || Supersedes(run, *slot->second)) slot->second = &run;
    if (kind == "export") {
      Keep(run.start_time(), c, &v1::ConnectorState::has_latest_export_start,
           &v1::ConnectorState::mutable_latest_export_start, std::greater<int64_t>());
    }
    if (IsSuccessfulResult(run.result())) {
      Keep(RunTime(run), c, &v1::ConnectorState::has_last_success,
           &v1::ConnectorState::mutable_last_success, std::greater<int64_t>());
      if (kind == "export") {
        Keep(RunTime(run), c, &v1::ConnectorState::has_last_successful_export,
             &v1::ConnectorState::mutable_last_successful_export, std::greater<int64_t>());
      }
    }
  }
  for (auto& [c, w] : winners) {
    if (w.last != nullptr) {
      v1::RunProfileResult* last = c->mutable_last_run();
      *last = *w.last;
      last->clear_steps();
    }
    // Which kinds have a new winner, decided before the map changes (an
    // insertion may move its elements).
    std::vector<std::pair<const std::string*, const v1::RunProfileResult*>> copies;
    for (const auto& [kind, run] : w.complete) {
      auto stored = c->latest_complete_runs().find(kind);
      if (stored == c->latest_complete_runs().end() || &stored->second != run) {
        copies.emplace_back(&kind, run);
      }
    }
    for (const auto& [kind, run] : copies) {
      v1::RunProfileResult& kept = (*c->mutable_latest_complete_runs())[*kind];
      kept = *run;
      for (v1::RunStep& step : *kept.mutable_steps()) step.clear_export_errors();
    }
  }
  RefreshServerState(info);
}

void ApplySnapshotToState(const v1::PendingExportSnapshot& snapshot, v1::ServerInfo* info) {
  v1::ConnectorState* c = FindOrAddConnector(snapshot.connector_name(), info);
  if (!snapshot.connector_id().empty() && c->connector_id().empty()) {
    c->set_connector_id(snapshot.connector_id());
  }
  if (!c->has_pending_taken_at() || Micros(snapshot.taken_at()) >= Micros(c->pending_taken_at())) {
    *c->mutable_pending_taken_at() = snapshot.taken_at();
    c->set_pending_adds(snapshot.pending_adds());
    c->set_pending_updates(snapshot.pending_updates());
    c->set_pending_deletes(snapshot.pending_deletes());
  }
  RefreshServerState(info);
}

void RefreshServerState(v1::ServerInfo* info) {
  const v1::RunProfileResult* latest = nullptr;
  // The earliest of the connectors' latest successes.
  const google::protobuf::Timestamp* cycle = nullptr;
  bool every_connector_succeeded = true;
  bool any_run = false;
  int64_t pending_deletes = 0;
  for (const v1::ConnectorState& c : info->connectors()) {
    pending_deletes += c.pending_deletes();
    if (!c.has_last_run()) continue;  // only snapshots so far: no say in the cycle
    any_run = true;
    const v1::RunProfileResult& run = c.last_run();
    if (IsCompleteRun(run) &&
        (latest == nullptr || Micros(RunTime(run)) > Micros(RunTime(*latest)))) {
      latest = &run;
    }
    const google::protobuf::Timestamp* success = c.has_last_successful_export()
                                                     ? &c.last_successful_export()
                                                 : c.has_last_success() ? &c.last_success()
                                                                        : nullptr;
    if (success == nullptr) {
      every_connector_succeeded = false;
    } else if (cycle == nullptr || Micros(*success) < Micros(*cycle)) {
      cycle = success;
    }
  }
  info->set_pending_deletes(pending_deletes);
  if (latest != nullptr) {
    info->set_last_run_result(latest->result());
    *info->mutable_last_run_time() = RunTime(*latest);
  }
  if (any_run && every_connector_succeeded && cycle != nullptr) {
    const google::protobuf::Timestamp copy = *cycle;  // *cycle lives in info
    *info->mutable_last_successful_cycle() = copy;
  } else {
    info->clear_last_successful_cycle();
  }
}

ThresholdSource ReportedThreshold(const v1::ServerInfo& info) {
  ThresholdSource out;
  if (!info.has_settings() || !info.settings().deletion_threshold_known()) return out;
  out.known = true;
  out.enabled = info.settings().deletion_threshold_enabled();
  out.value = info.settings().deletion_threshold();
  out.reported_by = info.server();
  return out;
}

void JudgeHealth(const ThresholdSource& threshold, int64_t default_threshold,
                 const std::vector<const FiringAlert*>& firing, v1::ServerInfo* info) {
  JudgeHealth(threshold, default_threshold, firing, *info, HealthInputs(*info), info);
}

HealthInputs::HealthInputs(const v1::ServerInfo& record)
    : stopped(absl::StartsWith(record.last_run_result(), "stopped-")),
      has_connectors(!record.connectors().empty()) {
  for (const v1::ConnectorState& c : record.connectors()) {
    max_pending_deletes = std::max(max_pending_deletes, c.pending_deletes());
  }
}

void JudgeHealth(const ThresholdSource& threshold, int64_t default_threshold,
                 const std::vector<const FiringAlert*>& firing, const v1::ServerInfo& record,
                 const HealthInputs& inputs, v1::ServerInfo* info) {
  const int64_t value = threshold.HasValue() ? threshold.value : default_threshold;
  const bool enabled = !threshold.known || threshold.enabled;
  info->set_deletion_threshold(value);
  info->set_deletion_threshold_enabled(enabled);
  info->clear_health_reasons();

  int critical = 0;
  int warning = 0;
  // Critical reasons first, then warnings.
  std::vector<std::string> critical_reasons;
  std::vector<std::string> warning_reasons;
  std::vector<std::string> connectors_alerted;
  for (const FiringAlert* a : firing) {
    if (a->severity == "critical") {
      ++critical;
      critical_reasons.push_back(a->summary);
      connectors_alerted.push_back(a->connector);
    } else {
      ++warning;
      warning_reasons.push_back(a->summary);
    }
  }
  info->set_open_alerts(static_cast<int32_t>(firing.size()));
  info->set_open_critical_alerts(critical);

  const bool over_threshold = enabled && inputs.max_pending_deletes > value;
  if (over_threshold) {
    for (const v1::ConnectorState& c : record.connectors()) {
      if (c.pending_deletes() <= value) continue;
      if (std::find(connectors_alerted.begin(), connectors_alerted.end(), c.connector()) ==
          connectors_alerted.end()) {
        critical_reasons.push_back(absl::StrCat(c.pending_deletes(), " pending deletes on ",
                                                c.connector(), " exceed the deletion threshold (",
                                                value, ")"));
      }
    }
  }
  const bool stopped = inputs.stopped;
  if (stopped && warning == 0 && critical == 0) {
    warning_reasons.push_back(absl::StrCat("the latest run ended ", record.last_run_result()));
  }

  v1::Health health = v1::HEALTH_OK;
  if (critical > 0 || over_threshold) {
    health = v1::HEALTH_CRITICAL;
  } else if (warning > 0 || stopped) {
    health = v1::HEALTH_WARNING;
  } else if (!inputs.has_connectors) {
    health = v1::HEALTH_UNKNOWN;
    warning_reasons.push_back("no run or pending-export snapshot reported yet");
  }
  info->set_health(health);
  for (std::string& r : critical_reasons) info->add_health_reasons(std::move(r));
  for (std::string& r : warning_reasons) info->add_health_reasons(std::move(r));
}

int HealthRank(v1::Health health) {
  switch (health) {
    case v1::HEALTH_CRITICAL:
      return 0;
    case v1::HEALTH_WARNING:
      return 1;
    case v1::HEALTH_OK:
      return 3;
    default:
      return 2;
  }
}

}  // namespace syncwatch::collector
