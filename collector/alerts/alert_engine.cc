#include "collector/alerts/alert_engine.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collector/alerts/rules.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace syncwatch::collector::alerts {

namespace {

// CPU time the calling thread has used (zero where the clock is missing).
absl::Duration ThreadCpuTime() {
  timespec t{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return absl::ZeroDuration();
  return absl::DurationFromTimespec(t);
}

}  // namespace

absl::Duration ChangesWait(absl::Duration coalesce, absl::Duration max_wait, absl::Duration took,
                           double share) {
  return std::max(coalesce, std::min(max_wait, took * (1 / share - 1)));
}

absl::StatusOr<std::unique_ptr<AlertEngine>> AlertEngine::Create(Store& store, Clock& clock,
                                                                 const AlertsOptions& options,
                                                                 const Options& engine_options) {
  SYNCWATCH_RETURN_IF_ERROR(options.Validate());
  if (!(engine_options.changes_share > 0 && engine_options.changes_share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "alert engine: changes_share must be in (0, 1], not ", engine_options.changes_share));
  }
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
  stop_requested_.store(true);
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
  has_pending_.store(!pending_.empty(), std::memory_order_relaxed);
  cv_.Signal();
}

bool AlertEngine::TakePending(std::map<std::string, ServerChange>* work) {
  MutexLock lock(&mu_);
  work->swap(pending_);
  pending_.clear();
  has_pending_.store(false, std::memory_order_relaxed);
  const bool overflow = overflow_;
  overflow_ = false;
  return overflow;
}

void AlertEngine::Run() {
  using SteadyClock = std::chrono::steady_clock;
  absl::Time next_full = clock_.Now();  // at once: catch up with what changed while down
  SteadyClock::time_point next_changes = SteadyClock::now();
  for (;;) {
    bool stopping = false;
    {
      MutexLock lock(&mu_);
      for (;;) {
        if (stopping_ || overflow_) break;
        const absl::Time now = clock_.Now();
        if (now >= next_full) break;
        absl::Duration wait = std::min(next_full - now, engine_options_.idle_poll);
        if (!pending_.empty()) {
          const SteadyClock::time_point steady = SteadyClock::now();
          if (steady >= next_changes) break;
          wait = std::min(wait, absl::FromChrono(next_changes - steady));
        }
        cv_.WaitFor(absl::ToChronoNanoseconds(wait));
      }
      stopping = stopping_;
    }
    std::map<std::string, ServerChange> work;
    const bool overflow = TakePending(&work);
    const absl::Time now = clock_.Now();
    absl::Status s;
    if (!stopping && (overflow || now >= next_full)) {
      // The full pass evaluates every server, those in `work` too.
      s = EvaluateAll();
      next_full = now + options_.rules.evaluation_interval;
    } else if (!work.empty()) {
      // The evaluation's own CPU time: on a busy machine its wall time is
      // mostly other threads' turns.
      const absl::Duration started = ThreadCpuTime();
      s = EvaluateChanges(work);
      const absl::Duration wait =
          ChangesWait(engine_options_.coalesce, engine_options_.changes_max_wait,
                      ThreadCpuTime() - started, engine_options_.changes_share);
      next_changes = SteadyClock::now() + absl::ToChronoNanoseconds(wait);
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
  if (TakePending(&work)) return EvaluateAll();
  return EvaluateChanges(work);
}

absl::StatusOr<AlertEngine::ServerView> AlertEngine::LoadServers() const {
  ServerView view;
  if (engine_options_.servers != nullptr) {
    SYNCWATCH_ASSIGN_OR_RETURN(view.records, engine_options_.servers->All());
  } else {
    SYNCWATCH_ASSIGN_OR_RETURN(view.records, ReadServerRecords(store_));
  }
  for (const auto& entry : view.records) {
    view.by_name.emplace(entry->record.server(), entry.get());
    view.by_group[entry->tenant_group].push_back(entry.get());
    view.thresholds.Add(*entry);
  }
  return view;
}

absl::StatusOr<ServerFacts> AlertEngine::ReadFacts(const FactsReader& reader,
                                                   const ServerEntry& entry, const ServerView& view,
                                                   absl::Time now, bool liveness_only) {
  SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts,
                             reader.ReadServer(entry, view.thresholds, now, liveness_only));
  if (!liveness_only) {
    auto peers = view.by_group.find(entry.tenant_group);
    SYNCWATCH_RETURN_IF_ERROR(reader.ReadConfigurationFacts(
        peers == view.by_group.end() ? std::vector<const ServerEntry*>() : peers->second, &facts));
  }
  facts.watching_since = started_;
  facts.firing = alert_store_->FiringNames(ServerScope(entry.record.server()));
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
  return EvaluateChangesLocked(changes);
}

absl::Status AlertEngine::EvaluateChangesLocked(
    const std::map<std::string, ServerChange>& changes) {
  stats_.evaluations.fetch_add(1);
  absl::Status result = [&]() -> absl::Status {
    const absl::Time now = clock_.Now();
    FactsReader reader(store_, options_.rules);
    SYNCWATCH_ASSIGN_OR_RETURN(ServerView view, LoadServers());
    // The facts read for a changed server serve its tenant's pass too.
    std::map<std::string, ServerFacts> read;
    std::set<std::string> groups;
    for (const auto& [name, change] : changes) {
      auto it = view.by_name.find(name);
      if (it == view.by_name.end()) continue;
      SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts,
                                 ReadFacts(reader, *it->second, view, now, !change.data));
      SYNCWATCH_RETURN_IF_ERROR(ReconcileServer(facts, change.data, now));
      if (change.data) {
        groups.insert(facts.tenant_group);
        read.emplace(name, std::move(facts));
      }
    }
    for (const std::string& group : groups) {
      std::vector<ServerFacts> others;
      std::vector<const ServerFacts*> members;
      const std::vector<const ServerEntry*>& entries = view.by_group[group];
      others.reserve(entries.size());
      for (const ServerEntry* entry : entries) {
        auto known = read.find(entry->record.server());
        if (known != read.end()) {
          members.push_back(&known->second);
          continue;
        }
        SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts, ReadFacts(reader, *entry, view, now, false));
        others.push_back(std::move(facts));
        members.push_back(&others.back());
      }
      SYNCWATCH_RETURN_IF_ERROR(ReconcileTenant(group, members, now));
    }
    return absl::OkStatus();
  }();
  if (!result.ok()) stats_.evaluation_failures.fetch_add(1);
  return result;
}

absl::Status AlertEngine::EvaluateAll() {
  MutexLock lock(&eval_mu_);
  stats_.evaluations.fetch_add(1);
  absl::Status result = EvaluateAllLocked();
  if (!result.ok()) stats_.evaluation_failures.fetch_add(1);
  return result;
}

absl::Status AlertEngine::EvaluateAllLocked() {
  const absl::Time now = clock_.Now();
  FactsReader reader(store_, options_.rules);
  SYNCWATCH_ASSIGN_OR_RETURN(ServerView view, LoadServers());
  std::vector<std::string> groups;
  for (const auto& [group, entries] : view.by_group) groups.push_back(group);
  // One tenant at a time, so that only its servers' facts are in memory.
  for (const std::string& group : groups) {
    // Stopping: the pass is not finished, so nothing is swept either.
    if (stop_requested_.load(std::memory_order_relaxed)) return absl::OkStatus();
    if (has_pending_.load(std::memory_order_relaxed)) {
      // Changes committed meanwhile (a threshold crossed) go first; then the
      // pass goes on with the records as they are now.
      std::map<std::string, ServerChange> work;
      if (TakePending(&work)) {
        // Too many to track: one more full pass after this one.
        MutexLock requeue(&mu_);
        overflow_ = true;
      } else {
        SYNCWATCH_RETURN_IF_ERROR(EvaluateChangesLocked(work));
      }
      SYNCWATCH_ASSIGN_OR_RETURN(view, LoadServers());
    }
    auto entries = view.by_group.find(group);
    if (entries == view.by_group.end()) continue;  // its servers moved to another tenant
    std::vector<ServerFacts> members;
    members.reserve(entries->second.size());
    for (const ServerEntry* entry : entries->second) {
      SYNCWATCH_ASSIGN_OR_RETURN(ServerFacts facts, ReadFacts(reader, *entry, view, now, false));
      SYNCWATCH_RETURN_IF_ERROR(ReconcileServer(facts, /*data=*/true, now));
      members.push_back(std::move(facts));
    }
    std::vector<const ServerFacts*> pointers;
    for (const ServerFacts& m : members) pointers.push_back(&m);
    SYNCWATCH_RETURN_IF_ERROR(ReconcileTenant(group, pointers, now));
  }
  // A scope nobody evaluates any more (its server moved to another tenant):
  // what fires there can never clear by itself.
  std::set<std::string> live;
  for (const auto& entry : view.records) live.insert(ServerScope(entry->record.server()));
  for (const auto& [group, infos] : view.by_group) live.insert(TenantScope(group));
  SYNCWATCH_ASSIGN_OR_RETURN(std::set<std::string> scopes, alert_store_->Scopes());
  std::set<std::string> every_name = LivenessAlertNames();
  every_name.insert(ServerDataAlertNames().begin(), ServerDataAlertNames().end());
  every_name.insert(TenantAlertNames().begin(), TenantAlertNames().end());
  for (const std::string& scope : scopes) {
    if (live.count(scope) == 0) {
      SYNCWATCH_RETURN_IF_ERROR(Reconcile(scope, every_name, {}, now));
    }
  }
  SYNCWATCH_ASSIGN_OR_RETURN(int purged,
                             alert_store_->PurgeResolved(now - options_.rules.resolved_retention));
  if (purged > 0) SYNCWATCH_LOG(kInfo, "purged ", purged, " resolved alerts past retention");
  return absl::OkStatus();
}

void AlertEngine::WakeDeliverers() {
  for (auto& d : deliverers_) d->Wake();
}

}  // namespace syncwatch::collector::alerts
