#include "collector/collector_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace syncwatch::collector {

const char* CollectorVersion() { return "syncwatch-collector 0.1.0"; }

namespace {

// Where Alertmanager's "Source" link points: the configured external URL, or
// the collector's HTTP port when its address is known before it starts.
std::string GeneratorUrl(const CollectorOptions& options) {
  if (!options.alerts.notifiers.external_url.empty()) return options.alerts.notifiers.external_url;
  if (options.http_listen.empty() || absl::EndsWith(options.http_listen, ":0")) return "";
  return absl::StrCat("http://", options.http_listen, "/");
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollectorServer>> CollectorServer::Start(
    const CollectorOptions& options, Clock& clock) {
  SYNCWATCH_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<CollectorServer> cs(new CollectorServer());
  Store::Options store_options;
  store_options.sync_writes = options.sync_writes;
  SYNCWATCH_ASSIGN_OR_RETURN(cs->store_, Store::Open(options.data_dir, store_options));
  alerts::AlertEngine::Options alert_options;
  alert_options.generator_url = GeneratorUrl(options);
  SYNCWATCH_ASSIGN_OR_RETURN(
      cs->alerts_, alerts::AlertEngine::Create(*cs->store_, clock, options.alerts, alert_options));
  StorageWriter::Options writer_options;
  alerts::AlertEngine* engine = cs->alerts_.get();
  writer_options.on_commit = [engine](const std::vector<CommittedSubmission>& committed) {
    std::vector<alerts::ServerChange> changes;
    changes.reserve(committed.size());
    for (const CommittedSubmission& c : committed) {
      bool data = false;
      if (c.batch != nullptr) {
        for (const v1::Event& e : c.batch->events()) data = data || !e.has_heartbeat();
      }
      changes.push_back(alerts::ServerChange{c.server, c.tenant, data});
    }
    engine->OnCommit(changes);
  };
  SYNCWATCH_ASSIGN_OR_RETURN(cs->writer_,
                             StorageWriter::Create(*cs->store_, clock, writer_options));

  IngestService::Options ingest_options;
  ingest_options.limits = options.limits;
  ingest_options.max_batch_bytes = options.max_batch_bytes;
  ingest_options.collector_version = CollectorVersion();
  cs->ingest_ = std::make_unique<IngestService>(*cs->writer_, ingest_options);
  cs->query_ = std::make_unique<QueryService>(*cs->store_);

  SYNCWATCH_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                             MakeServerCredentials(options.tls));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &cs->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  // gRPC sets SO_REUSEPORT by default: a second collector on a busy port would
  // then share it silently instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(cs->ingest_.get());
  builder.RegisterService(cs->query_.get());
  cs->server_ = builder.BuildAndStart();
  // On the error returns below, ~CollectorServer shuts down what did start.
  if (!cs->server_ || cs->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or not available?)"));
  }
  if (!options.http_listen.empty()) {
    CollectorServer* self = cs.get();
    auto http = HttpServer::Start(options.http_listen, [self] { return self->RenderMetrics(); });
    if (!http.ok()) return http.status();
    cs->http_ = *std::move(http);
  }
  SYNCWATCH_LOG(
      kInfo, CollectorVersion(), " listening on ", options.listen, " (port ", cs->port_, "), ",
      options.tls.enabled() ? (options.tls.client_ca.empty() ? "TLS" : "mutual TLS") : "plain text",
      ", data in ", options.data_dir, options.sync_writes ? "" : " (sync_writes off)");
  return cs;
}

CollectorServer::~CollectorServer() { Shutdown(); }

void CollectorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (http_) http_->SetNotReady();
  // Streams still open after the grace period are cancelled; their agents
  // re-send whatever was not acknowledged.
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (writer_) writer_->Stop();
  // After the writer: its last commits reach the engine's queue first.
  if (alerts_) alerts_->Stop();
  // /metrics reads the writer, the engine and the store: stop serving it
  // before any of them goes away.
  if (http_) http_->Stop();
  http_.reset();
  writer_.reset();
  alerts_.reset();
  store_.reset();
  SYNCWATCH_LOG(kInfo, "collector stopped");
}

namespace {

void Metric(std::string* out, const char* name, const char* type, const char* help, double value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

}  // namespace

std::string CollectorServer::RenderMetrics() const {
  const WriterStats& w = writer_->stats();
  const IngestStats& i = ingest_->stats();
  std::string out;
  Metric(&out, "syncwatch_ingest_streams_open", "gauge", "Agent streams currently open.",
         static_cast<double>(i.streams_open.load()));
  Metric(&out, "syncwatch_ingest_streams_total", "counter", "Agent streams opened.",
         static_cast<double>(i.streams_total.load()));
  Metric(&out, "syncwatch_ingest_batches_received_total", "counter",
         "Batches received from agents.", static_cast<double>(i.batches_received.load()));
  Metric(&out, "syncwatch_ingest_bytes_received_total", "counter",
         "Serialized batch bytes received.", static_cast<double>(i.bytes_received.load()));
  Metric(&out, "syncwatch_ingest_batches_refused_total", "counter",
         "Batches refused as invalid or oversized.", static_cast<double>(i.batches_refused.load()));
  Metric(&out, "syncwatch_ingest_batches_stored_total", "counter", "Batches stored.",
         static_cast<double>(w.batches_stored.load()));
  Metric(&out, "syncwatch_ingest_events_stored_total", "counter", "Events stored.",
         static_cast<double>(w.events_stored.load()));
  Metric(&out, "syncwatch_ingest_dedup_hits_total", "counter",
         "Re-sent batches acknowledged without storing them again.",
         static_cast<double>(w.batches_duplicate.load()));
  Metric(&out, "syncwatch_store_commits_total", "counter", "RocksDB group commits.",
         static_cast<double>(w.commits.load()));
  Metric(&out, "syncwatch_store_write_failures_total", "counter", "Failed RocksDB commits.",
         static_cast<double>(w.write_failures.load()));
  Metric(&out, "syncwatch_store_sst_bytes", "gauge", "Bytes in the store's SST files.",
         static_cast<double>(store_->ApproximateSizeBytes()));
  const alerts::AlertEngineStats& a = alerts_->stats();
  Metric(&out, "syncwatch_alerts_fired_total", "counter", "Alerts that started firing.",
         static_cast<double>(a.fired.load()));
  Metric(&out, "syncwatch_alerts_resolved_total", "counter", "Alerts that resolved.",
         static_cast<double>(a.resolved.load()));
  Metric(&out, "syncwatch_alert_evaluation_failures_total", "counter",
         "Alert evaluations that failed (retried on the next round).",
         static_cast<double>(a.evaluation_failures.load()));
  uint64_t delivered = 0;
  uint64_t failed = 0;
  for (const auto& d : alerts_->deliverers()) {
    delivered += d->stats().delivered.load();
    failed += d->stats().failed_sends.load();
  }
  uint64_t queued = 0;
  for (const auto& [receiver, n] : alerts_->alert_store().OutboxSizes()) queued += n;
  Metric(&out, "syncwatch_alert_notifications_delivered_total", "counter",
         "Alert notifications accepted by a receiver.", static_cast<double>(delivered));
  Metric(&out, "syncwatch_alert_delivery_failures_total", "counter",
         "Failed requests to alert receivers (each is retried).", static_cast<double>(failed));
  Metric(&out, "syncwatch_alert_outbox_notifications", "gauge",
         "Alert notifications waiting for delivery.", static_cast<double>(queued));
  return out;
}

}  // namespace syncwatch::collector
