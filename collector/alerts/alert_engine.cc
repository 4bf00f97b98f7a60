#include "collector/alerts/alert_engine.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collector/alerts/rules.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace syncwatch::collector::alerts {

absl::StatusOr<std::unique_ptr<AlertEngine>> AlertEngine::Create(Store& store, Clock& clock,
                                                                 const AlertsOptions& options,
                                                                 const Options& engine_options) {
  SYNCWATCH_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<AlertEngine> engine(new AlertEngine(store, clock, options, engine_options));
  SYNCWATCH_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Receiver>> receivers,
                             MakeReceivers(options.notifiers, engine_options.generator_url));
  std::vector<std::string> ids;
  for (const auto& r : receivers) ids.push_back(r->id());
  SYNCWATCH_ASSIGN_OR_RETURN(engine->alert_store_, AlertStore::Open(store, std::move(ids)));
  Deliverer::Options delivery;
  delivery.initial_backoff = options.notifiers.initial_backoff;
  delivery.max_backoff = options.notifiers.max_backoff;
  delivery.idle_poll = engine_options.idle_poll;
  for (auto& r : receivers) {
    engine->deliverers_.push_back(
        std::make_unique<Deliverer>(*engine->alert_store_, clock, std::move(r), delivery));
  }
  if (engine_options.start_threads) {
    for (auto& d : engine->deliverers_) d->Start();
    AlertEngine* self = engine.get();
    engine->thread_ = std::thread([self] { self->Run(); });
  }
  return engine;
}

AlertEngine::AlertEngine(Store& store, Clock& clock, const AlertsOptions& options,
                         const Options& engine_options)
    : store_(store),
      clock_(clock),
      options_(options),
      engine_options_(engine_options),
      started_(clock.Now()) {}

AlertEngine::~AlertEngine() { Stop(); }

void AlertEngine::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& d : deliverers_) d->Stop();
}

void AlertEngine::OnCommit(const std::vector<ServerChange>& changes) {
  MutexLock lock(&mu_);
  if (!overflow_) {
    for (const ServerChange& change : changes) {
      auto [it, inserted] = pending_.emplace(change.server, change);
      if (!inserted) {
        it->second.data = it->second.data || change.data;
        it->second.tenant = change.tenant;
      }
    }
    if (pending_.size() > engine_options_.max_pending) {
      // Too many distinct servers to track: evaluate everything instead.
      pending_.clear();
      overflow_ = true;
    }
  }
  cv_.Signal();
}

void AlertEngine::Run() {
  absl::Time next_full = clock_.Now();  // at once: catch up with what changed while down
  for (;;) {
    std::map<std::string, ServerChange> work;
    bool overflow = false;
    bool stopping = false;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && pending_.empty() && !overflow_) {
        const absl::Time now = clock_.Now();
        if (now >= next_full) break;
        cv_.WaitFor(
            absl::ToChronoNanoseconds(std::min(next_full - now, engine_options_.idle_poll)));
      }
      work.swap(pending_);
      overflow = overflow_;
      overflow_ = false;
      stopping = stopping_;
    }
    const absl::Time now = clock_.Now();
    absl::Status s;
    if (!stopping && (overflow || now >= next_full)) {
      s = EvaluateAll();
      next_full = now + options_.rules.evaluation_interval;
    } else if (!work.empty()) {
      s = EvaluateChanges(work);
    }
    if (!s.ok()) {
      // The next timer round evaluates everything again.
      SYNCWATCH_LOG(kError, "alert evaluation failed: ", s.ToString());
    }
    if (stopping) return;
  }
}

absl::Status AlertEngine::EvaluatePending() {
  std::map<std::string, ServerChange> work;
  bool overflow = false;
  {
    MutexLock lock(&mu_);
    work.swap(pending_);
    overflow = overflow_;
    overflow_ = false;
  }
  if (overflow) return EvaluateAll();
  return EvaluateChanges(work);
}

absl::StatusOr<ServerFacts> AlertEngine::ReadFacts(
    const FactsReader& reader, const v1::ServerInfo& info,
    const std::map<std::string, v1::ServerInfo>& servers, absl::Time now, bool liveness_only) {
  SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts,
                             reader.ReadServer(info, servers, now, liveness_only));
  facts.watching_since = started_;
  SYNCWATCH_ASSIGN_OR_RETURN(
      std::vector<v1::Alert> firing,
      alert_store_->List(ServerScope(info.server()), v1::ALERT_STATE_FIRING));
  for (const v1::Alert& a : firing) facts.firing.insert(a.name());
  return facts;
}

absl::Status AlertEngine::Reconcile(const std::string& scope, const std::set<std::string>& owned,
                                    const std::vector<v1::Alert>& alerts, absl::Time now) {
  SYNCWATCH_ASSIGN_OR_RETURN(AlertStore::Changes changes,
                             alert_store_->Reconcile(scope, owned, alerts, now));
  if (changes.fired + changes.resolved == 0) return absl::OkStatus();
  stats_.fired.fetch_add(static_cast<uint64_t>(changes.fired));
  stats_.resolved.fetch_add(static_cast<uint64_t>(changes.resolved));
  SYNCWATCH_LOG(kInfo, "alerts of ", scope, ": ", changes.fired, " fired, ", changes.resolved,
                " resolved");
  WakeDeliverers();
  return absl::OkStatus();
}

absl::Status AlertEngine::ReconcileServer(const ServerFacts& facts, bool data, absl::Time now) {
  const RuleSettings settings = options_.rules.For(facts.info.tenant(), facts.info.server());
  std::vector<v1::Alert> alerts = ServerLivenessAlerts(facts, settings, now);
  std::set<std::string> owned = LivenessAlertNames();
  if (data) {
    std::vector<v1::Alert> more = ServerDataAlerts(facts, settings, now);
    alerts.insert(alerts.end(), more.begin(), more.end());
    owned.insert(ServerDataAlertNames().begin(), ServerDataAlertNames().end());
  }
  return Reconcile(ServerScope(facts.info.server()), owned, alerts, now);
}

absl::Status AlertEngine::ReconcileTenant(const std::string& group,
                                          const std::vector<const ServerFacts*>& members,
                                          absl::Time now) {
  TenantFacts tenant;
  tenant.group = group;
  tenant.servers = members;
  for (const ServerFacts* m : members) {
    if (!m->info.tenant().empty()) tenant.tenant = m->info.tenant();
  }
  const RuleSettings settings = options_.rules.For(tenant.tenant, "");
  return Reconcile(TenantScope(group), TenantAlertNames(), TenantAlerts(tenant, settings), now);
}

absl::Status AlertEngine::EvaluateChanges(const std::map<std::string, ServerChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  MutexLock lock(&eval_mu_);
  stats_.evaluations.fetch_add(1);
  absl::Status result = [&]() -> absl::Status {
    const absl::Time now = clock_.Now();
    FactsReader reader(store_, options_.rules);
    SYNCWATCH_ASSIGN_OR_RETURN(auto servers, reader.AllServers());
    std::set<std::string> groups;
    for (const auto& [name, change] : changes) {
      auto it = servers.find(name);
      if (it == servers.end()) continue;
      SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts,
                                 ReadFacts(reader, it->second, servers, now, !change.data));
      SYNCWATCH_RETURN_IF_ERROR(ReconcileServer(facts, change.data, now));
      if (change.data) groups.insert(facts.tenant_group);
    }
    for (const std::string& group : groups) {
      std::vector<ServerFacts> members;
      for (const auto& [name, info] : servers) {
        if (TenantGroup(info) != group) continue;
        SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts, ReadFacts(reader, info, servers, now, false));
        members.push_back(std::move(facts));
      }
      std::vector<const ServerFacts*> pointers;
      for (const ServerFacts& m : members) pointers.push_back(&m);
      SYNCWATCH_RETURN_IF_ERROR(ReconcileTenant(group, pointers, now));
    }
    return absl::OkStatus();
  }();
  if (!result.ok()) stats_.evaluation_failures.fetch_add(1);
  return result;
}

absl::Status AlertEngine::EvaluateAll() {
  MutexLock lock(&eval_mu_);
  stats_.evaluations.fetch_add(1);
  absl::Status result = [&]() -> absl::Status {
    const absl::Time now = clock_.Now();
    FactsReader reader(store_, options_.rules);
    SYNCWATCH_ASSIGN_OR_RETURN(auto servers, reader.AllServers());
    // One tenant at a time, so that only its servers' facts are in memory.
    std::map<std::string, std::vector<const v1::ServerInfo*>> groups;
    for (const auto& [name, info] : servers) groups[TenantGroup(info)].push_back(&info);
    std::set<std::string> evaluated;
    for (const auto& [group, infos] : groups) {
      std::vector<ServerFacts> members;
      for (const v1::ServerInfo* info : infos) {
        SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts,
                                   ReadFacts(reader, *info, servers, now, false));
        SYNCWATCH_RETURN_IF_ERROR(ReconcileServer(facts, /*data=*/true, now));
        evaluated.insert(ServerScope(info->server()));
        members.push_back(std::move(facts));
      }
      std::vector<const ServerFacts*> pointers;
      for (const ServerFacts& m : members) pointers.push_back(&m);
      SYNCWATCH_RETURN_IF_ERROR(ReconcileTenant(group, pointers, now));
      evaluated.insert(TenantScope(group));
    }
    // A scope nobody evaluates any more (its server moved to another tenant):
    // what fires there can never clear by itself.
    SYNCWATCH_ASSIGN_OR_RETURN(std::set<std::string> scopes, alert_store_->Scopes());
    std::set<std::string> every_name = LivenessAlertNames();
    every_name.insert(ServerDataAlertNames().begin(), ServerDataAlertNames().end());
    every_name.insert(TenantAlertNames().begin(), TenantAlertNames().end());
    for (const std::string& scope : scopes) {
      if (evaluated.count(scope) == 0) {
        SYNCWATCH_RETURN_IF_ERROR(Reconcile(scope, every_name, {}, now));
      }
    }
    SYNCWATCH_ASSIGN_OR_RETURN(
        int purged, alert_store_->PurgeResolved(now - options_.rules.resolved_retention));
    if (purged > 0) SYNCWATCH_LOG(kInfo, "purged ", purged, " resolved alerts past retention");
    return absl::OkStatus();
  }();
  if (!result.ok()) stats_.evaluation_failures.fetch_add(1);
  return result;
}

void AlertEngine::WakeDeliverers() {
  for (auto& d : deliverers_) d->Wake();
}

}  // namespace syncwatch::collector::alerts
