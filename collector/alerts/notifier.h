// Delivery of alert notifications from the outbox (alert_store.h) to
// Prometheus Alertmanager (POST /api/v2/alerts) and to generic webhooks
// (syncwatch JSON, a {"text": …} body for Slack, or an Adaptive Card for a
// Microsoft Teams Workflows webhook), over HTTP(S) with cpp-httplib.
//
// One Deliverer (one thread) per receiver, so that a receiver that is down
// delays only its own notifications. A failed delivery is retried with
// exponential back-off; nothing is dropped while the receiver stays configured.
// Silenced alerts (alert_store.h) are not re-sent; each round first ends the
// silences whose time is up, so what they held back goes out in that round.
#ifndef SYNCWATCH_COLLECTOR_ALERTS_NOTIFIER_H_
#define SYNCWATCH_COLLECTOR_ALERTS_NOTIFIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/alerts/alert_store.h"
#include "collector/alerts/alerts_options.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::alerts {

// Where notifications go. Implementations are thread-compatible; each is used
// by one Deliverer thread.
class Receiver {
 public:
  virtual ~Receiver() = default;

  // Stable identity, the receiver's key in the outbox, e.g.
  // "alertmanager:http://127.0.0.1:9093". Changing it orphans queued entries.
  virtual const std::string& id() const = 0;
  // Most notifications sent in one request.
  virtual size_t max_batch() const = 0;
  // True when the receiver wants each alert's current state rather than the
  // state at the time of the change (Alertmanager: a late "firing" for an
  // alert that has resolved meanwhile would only confuse it).
  virtual bool wants_current_state() const = 0;
  // Firing alerts are re-sent this often; zero for never.
  virtual absl::Duration resend_interval() const = 0;
  // Sends `alerts` (at most max_batch()); OK when the receiver accepted them
  // (HTTP 2xx). `now` stamps the payload.
  virtual absl::Status Send(const std::vector<v1::Alert>& alerts, absl::Time now) = 0;
};

// The Alertmanager v2 body: a JSON array of {labels, annotations, startsAt,
// endsAt, generatorURL}. A firing alert's endsAt lies 4 resend intervals after
// `now` (Alertmanager resolves it by itself if the collector stops re-sending,
// as Prometheus does); a resolved alert's endsAt is when it resolved.
// generatorURL is left out when empty.
std::string AlertmanagerPayload(const std::vector<v1::Alert>& alerts, absl::Time now,
                                absl::Duration resend_interval, const std::string& generator_url);

// The webhook body for one notification in `format`:
//  json:  {"version":"1","status":"firing"|"resolved","alerts":[{"name","severity","state",
//          "server","tenant","connector","summary","description","labels","annotations",
//          "fingerprint","started_at","resolved_at"}]}
//  slack, teams-legacy: {"text": "[FIRING] critical PendingDeletesOverThreshold: <summary>…"}
//  teams: {"type":"message","attachments":[{"contentType":
//          "application/vnd.microsoft.card.adaptive","content":<Adaptive Card 1.4>}]} for a
//          Teams Workflows webhook: state and severity, name, summary, a FactSet (server,
//          tenant, connector, role, count, threshold: those the alert has) and the first
//          objects, "… and N more" beyond what fits well under Teams' 28 KB message limit.
std::string WebhookPayload(const v1::Alert& alert, WebhookFormat format);

// POSTs `body` as application/json; OK on 2xx, Unavailable otherwise (naming
// the URL and the status or connection error).
absl::Status PostJson(const HttpUrl& url, const std::string& body, absl::Duration timeout);

// The receivers `options` configures, in config order (Alertmanagers first).
absl::StatusOr<std::vector<std::unique_ptr<Receiver>>> MakeReceivers(
    const NotifiersOptions& options, const std::string& generator_url);

struct DelivererStats {
  std::atomic<uint64_t> delivered{0};     // notifications accepted by the receiver
  std::atomic<uint64_t> failed_sends{0};  // requests that failed
  std::atomic<uint64_t> resends{0};       // successful re-sends of firing alerts
};

// Moves one receiver's outbox entries to the receiver. Thread-safe.
class Deliverer {
 public:
  struct Options {
    absl::Duration initial_backoff = absl::Seconds(1);
    absl::Duration max_backoff = absl::Minutes(5);
    // Longest sleep of the thread between looks at the outbox and the clock
    // (a Wake() ends it at once). Default: 1s.
    absl::Duration idle_poll = absl::Seconds(1);
  };

  // `store` and `clock` must outlive the deliverer.
  Deliverer(AlertStore& store, Clock& clock, std::unique_ptr<Receiver> receiver,
            const Options& options);
  // Stops the thread (waiting for a request in flight, at most the timeout).
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // Starts the delivery thread.
  void Start();
  void Stop();
  // New entries were queued: look now.
  void Wake();

  // One round on the caller's thread: sends everything due at clock.Now()
  // (unless backing off), then the re-send if due. What the thread runs; tests
  // with a FakeClock call it directly instead of Start().
  void RunOnce();

  const Receiver& receiver() const { return *receiver_; }
  const DelivererStats& stats() const { return stats_; }
  // Consecutive failed requests (0 when the last one succeeded).
  int consecutive_failures() const;

 private:
  void Run();
  void Failed(const absl::Status& status, absl::Time now);
  void Succeeded();
  // The alerts to send for `entries`.
  std::vector<v1::Alert> AlertsFor(const std::vector<OutboxEntry>& entries);

  AlertStore& store_;
  Clock& clock_;
  const std::unique_ptr<Receiver> receiver_;
  const Options options_;
  DelivererStats stats_;

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_resend_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // RunOnce from the thread and from a test must not interleave.
  Mutex run_mu_;
  std::thread thread_;
};

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_NOTIFIER_H_
