// The collector's alerting: evaluates the rules (rules.h) after commits and on
// a timer, keeps alert state in the store (alert_store.h) and delivers the
// notifications (notifier.h).
//
// Threads: the StorageWriter calls OnCommit on its own thread; OnCommit only
// records which servers changed (a coalescing, bounded queue) and wakes the
// evaluator thread, so evaluation never holds up the writer. The evaluator
// re-evaluates the changed servers and their tenants (at most once per
// Options::coalesce, and less often when evaluating them takes long:
// Options::changes_share; the changes of many commits are evaluated together), and
// every rule of every server and tenant each `rules.evaluation_interval`
// (staleness and silence need time to pass, not data to arrive). The full
// pass goes one tenant at a time and evaluates queued changes between
// tenants, so a threshold crossed meanwhile does not wait for the pass to
// end. Each receiver has a delivery thread.
#ifndef SYNCWATCH_COLLECTOR_ALERTS_ALERT_ENGINE_H_
#define SYNCWATCH_COLLECTOR_ALERTS_ALERT_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/alerts/alert_store.h"
#include "collector/alerts/alerts_options.h"
#include "collector/alerts/facts.h"
#include "collector/alerts/notifier.h"
#include "collector/state/server_state.h"
#include "collector/storage/server_cache.h"
#include "collector/storage/store.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace syncwatch::collector::alerts {

// A server whose records a commit just changed.
struct ServerChange {
  std::string server;
  std::string tenant;
  // True when agent data changed (runs, snapshots, errors, settings); false
  // for a sign of life only (Hello, heartbeat), which only the silence rule
  // looks at.
  bool data = false;
};

struct AlertEngineStats {
  std::atomic<uint64_t> evaluations{0};
  std::atomic<uint64_t> evaluation_failures{0};
  std::atomic<uint64_t> fired{0};
  std::atomic<uint64_t> resolved{0};
};

// How long the evaluator waits after evaluating queued changes that took
// `took` (see AlertEngine::Options::changes_share).
absl::Duration ChangesWait(absl::Duration coalesce, absl::Duration max_wait, absl::Duration took,
                           double share);

// Thread-safe.
class AlertEngine {
 public:
  struct Options {
    // Start the evaluator and delivery threads. Tests turn this off and call
    // EvaluatePending/EvaluateAll and Deliverer::RunOnce themselves.
    // Default: true.
    bool start_threads = true;
    // Distinct servers waiting for evaluation beyond which the queue stops
    // tracking them and schedules one full evaluation instead (OnCommit never
    // blocks and never grows without bound). Default: 10,000.
    size_t max_pending = 10000;
    // The generatorURL of Alertmanager alerts; empty leaves it out.
    std::string generator_url;
    // Longest sleep of the worker threads between looks at the clock (a
    // FakeClock only moves when a test says so). Default: 1s.
    absl::Duration idle_poll = absl::Seconds(1);
    // Least time between two evaluations of queued changes by the evaluator
    // thread (measured on the steady clock, not the injected one): under
    // steady ingest every commit changes a few servers, and evaluating them
    // one commit at a time costs more than the commits. Default: 100ms.
    absl::Duration coalesce = absl::Milliseconds(100);
    // Under ingest heavy enough that evaluating the changes takes a while,
    // the wait after an evaluation grows with it so that evaluating queued
    // changes takes at most this share of a core, up to changes_max_wait: an
    // evaluation that took t of CPU time is followed by a wait of
    // max(coalesce, min(changes_max_wait, t * (1 / share - 1))).
    // In (0, 1]; 1 waits `coalesce` only. Default: 0.05 (an evaluation of
    // 10 ms waits 190 ms).
    double changes_share = 0.05;
    // The longest wait changes_share makes (a threshold crossed under heavy
    // ingest is still evaluated within about this). Default: 500ms.
    absl::Duration changes_max_wait = absl::Milliseconds(500);
    // The server records from memory; nullptr reads them from the store on
    // each evaluation. Must outlive the engine. Default: none.
    ServerCache* servers = nullptr;
  };

  // Validates `options`, opens the alert state in `store` and, with
  // start_threads, starts evaluating (at once: a full evaluation) and
  // delivering. `store` and `clock` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<AlertEngine>> Create(Store& store, Clock& clock,
                                                             const AlertsOptions& options,
                                                             const Options& engine_options);
  // Stop().
  ~AlertEngine();
  AlertEngine(const AlertEngine&) = delete;
  AlertEngine& operator=(const AlertEngine&) = delete;

  // Records that `changes` were committed; cheap and non-blocking (the
  // StorageWriter's commit observer calls it on its commit thread).
  void OnCommit(const std::vector<ServerChange>& changes);

  // Evaluates the queued changes now, on the caller's thread.
  absl::Status EvaluatePending();
  // Evaluates every rule for every server and tenant now, resolves alerts of
  // scopes that no longer exist and purges resolved alerts past retention.
  absl::Status EvaluateAll();

  // Stops evaluating (a full pass in progress ends early; the changes already
  // queued are evaluated first), then stops delivering. Idempotent.
  void Stop();

  AlertStore& alert_store() { return *alert_store_; }
  const std::vector<std::unique_ptr<Deliverer>>& deliverers() const { return deliverers_; }
  const AlertEngineStats& stats() const { return stats_; }

 private:
  AlertEngine(Store& store, Clock& clock, const AlertsOptions& options,
              const Options& engine_options);
  // Every server record with what an evaluation looks up in it.
  struct ServerView {
    ServerRecords records;
    std::map<std::string, const ServerEntry*> by_name;
    std::map<std::string, std::vector<const ServerEntry*>> by_group;
    TenantThresholds thresholds;  // of `records`
  };

  void Run();
  absl::StatusOr<ServerView> LoadServers() const;
  // Takes the queued changes; true when the queue had overflowed.
  bool TakePending(std::map<std::string, ServerChange>* work);
  absl::Status EvaluateChanges(const std::map<std::string, ServerChange>& changes);
  absl::Status EvaluateChangesLocked(const std::map<std::string, ServerChange>& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  absl::Status EvaluateAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  absl::StatusOr<ServerFacts> ReadFacts(const FactsReader& reader, const ServerEntry& entry,
                                        const ServerView& view, absl::Time now, bool liveness_only);
  absl::Status ReconcileServer(const ServerFacts& facts, bool data, absl::Time now);
  absl::Status ReconcileTenant(const std::string& group,
                               const std::vector<const ServerFacts*>& members, absl::Time now);
  absl::Status Reconcile(const std::string& scope, const std::set<std::string>& owned,
                         const std::vector<v1::Alert>& alerts, absl::Time now);
  void WakeDeliverers();

  Store& store_;
  Clock& clock_;
  const AlertsOptions options_;
  const Options engine_options_;
  // When the engine started: the silence rule does not count time before.
  const absl::Time started_;
  AlertEngineStats stats_;
  std::unique_ptr<AlertStore> alert_store_;
  std::vector<std::unique_ptr<Deliverer>> deliverers_;

  // Serialises evaluations (the thread's and a test's).
  Mutex eval_mu_;

  Mutex mu_;
  CondVar cv_{&mu_};
  std::map<std::string, ServerChange> pending_ ABSL_GUARDED_BY(mu_);
  // pending_ is not empty (read without mu_ by the full pass between tenants).
  std::atomic<bool> has_pending_{false};
  // Stop() was called: a full pass in progress ends early.
  std::atomic<bool> stop_requested_{false};
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_ALERT_ENGINE_H_
