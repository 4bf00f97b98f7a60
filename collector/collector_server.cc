#include "collector/collector_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/web/metrics.h"
#include "common/log.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::collector {

const char* CollectorVersion() { return "syncwatch-collector 0.1.0"; }

namespace {

// Where Alertmanager's "Source" link points: the configured external URL, or
// the collector's HTTP port (HTTPS with a certificate) when its address is
// known before it starts.
std::string GeneratorUrl(const CollectorOptions& options) {
  if (!options.alerts.notifiers.external_url.empty()) return options.alerts.notifiers.external_url;
  if (options.http_listen.empty() || absl::EndsWith(options.http_listen, ":0")) return "";
  return absl::StrCat(options.tls.enabled() ? "https://" : "http://", options.http_listen, "/");
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollectorServer>> CollectorServer::Start(
    const CollectorOptions& options, Clock& clock) {
  SYNCWATCH_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<CollectorServer> cs(new CollectorServer());
  Store::Options store_options;
  store_options.sync_writes = options.sync_writes;
  store_options.min_free_bytes = options.min_free_disk_bytes;
  SYNCWATCH_ASSIGN_OR_RETURN(cs->store_, Store::Open(options.data_dir, store_options));
  // Before the alert engine reads a record: it judges runs from the state.
  SYNCWATCH_RETURN_IF_ERROR(UpgradeServerRecords(*cs->store_));
  cs->server_cache_ = std::make_unique<ServerCache>(*cs->store_);
  alerts::AlertEngine::Options alert_options;
  alert_options.generator_url = GeneratorUrl(options);
  alert_options.servers = cs->server_cache_.get();
  cs->clock_ = &clock;
  SYNCWATCH_ASSIGN_OR_RETURN(
      cs->alerts_, alerts::AlertEngine::Create(*cs->store_, clock, options.alerts, alert_options));
  StorageWriter::Options writer_options;
  alerts::AlertEngine* engine = cs->alerts_.get();
  ServerCache* cache = cs->server_cache_.get();
  writer_options.on_commit = [engine, cache](const std::vector<CommittedSubmission>& committed) {
    std::vector<alerts::ServerChange> changes;
    changes.reserve(committed.size());
    for (const CommittedSubmission& c : committed) {
      cache->MarkChanged(c.server);
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
  cs->retention_ =
      std::make_unique<Retention>(*cs->store_, clock, options.retention, Retention::Options());
  // An admin's windows (Admin.SetRetention) over the YAML's; logged.
  SYNCWATCH_RETURN_IF_ERROR(cs->retention_->LoadOverride());
  cs->retention_->Start();

  IngestService::Options ingest_options;
  ingest_options.limits = options.limits;
  ingest_options.max_batch_bytes = options.max_batch_bytes;
  ingest_options.collector_version = CollectorVersion();
  ingest_options.require_client_identity = options.tls.enabled() && !options.tls.client_ca.empty();
  ingest_options.agent_limits = options.agent_limits;
  cs->ingest_ = std::make_unique<IngestService>(*cs->writer_, clock, ingest_options);
  QueryService::Options query_options;
  query_options.cache = cs->server_cache_.get();
  query_options.alerts = &cs->alerts_->alert_store();
  query_options.default_threshold = [rules = options.alerts.rules](const v1::ServerInfo& info) {
    return rules.For(info.tenant(), info.server()).default_deletion_threshold;
  };
  cs->query_ = std::make_unique<QueryService>(*cs->store_, clock, std::move(query_options));

  if (options.auth.enabled()) {
    SYNCWATCH_ASSIGN_OR_RETURN(cs->auth_, Authenticator::Create(options.auth.tokens_file));
    cs->authenticated_query_ = std::make_unique<AuthenticatedQueryService>(*cs->query_, *cs->auth_);
  }
  cs->admin_ = std::make_unique<AdminService>(cs->alerts_->alert_store(), *cs->retention_, clock);
  if (cs->auth_) {
    cs->authenticated_admin_ = std::make_unique<AuthenticatedAdminService>(*cs->admin_, *cs->auth_);
  }

  SYNCWATCH_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                             MakeServerCredentials(options.tls));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &cs->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  // gRPC sets SO_REUSEPORT by default: a second collector on a busy port would
  // then share it silently instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(cs->ingest_.get());
  // With a tokens file, the Query API only behind its token check.
  if (cs->authenticated_query_) {
    builder.RegisterService(cs->authenticated_query_.get());
  } else {
    builder.RegisterService(cs->query_.get());
  }
  if (cs->authenticated_admin_) {
    builder.RegisterService(cs->authenticated_admin_.get());
  } else {
    builder.RegisterService(cs->admin_.get());
  }
  cs->server_ = builder.BuildAndStart();
  // On the error returns below, ~CollectorServer shuts down what did start.
  if (!cs->server_ || cs->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or not available?)"));
  }
  if (!options.http_listen.empty()) {
    CollectorServer* self = cs.get();
    const QueryService* query = cs->query_.get();
    HttpHandlers handlers;
    handlers.metrics = [self] { return self->RenderMetrics(); };
    handlers.fleet = [query](const v1::FleetSummaryRequest& r) { return query->FleetSummary(r); };
    handlers.server = [query](const v1::GetServerRequest& r) { return query->GetServer(r); };
    handlers.now = [&clock] { return clock.Now(); };
    if (Authenticator* auth = cs->auth_.get()) {
      handlers.authenticate = [auth](absl::string_view authorization) {
        return auth->Authenticate(authorization).status();
      };
      handlers.protect_metrics = options.auth.protect_metrics;
    }
    // With a certificate, HTTPS with the gRPC port's files (no client
    // certificates: the tokens guard this port).
    auto http = HttpServer::Start(options.http_listen, std::move(handlers), options.tls);
    if (!http.ok()) return http.status();
    cs->http_ = *std::move(http);
  }
  SYNCWATCH_LOG(
      kInfo, CollectorVersion(), " listening on ", options.listen, " (port ", cs->port_, "), ",
      options.tls.enabled() ? (options.tls.client_ca.empty() ? "TLS" : "mutual TLS") : "plain text",
      ", data in ", options.data_dir, options.sync_writes ? "" : " (sync_writes off)",
      options.auth.enabled() ? ", queries need a token" : "",
      cs->http_ ? absl::StrCat("; ", cs->http_->scheme(), " on ", options.http_listen, " (port ",
                               cs->http_->port(), ")")
                : std::string());
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
  if (retention_) retention_->Stop();
  if (writer_) writer_->Stop();
  // After the writer: its last commits reach the engine's queue first.
  if (alerts_) alerts_->Stop();
  // /metrics reads the writer, the engine and the store: stop serving it
  // before any of them goes away.
  if (http_) http_->Stop();
  http_.reset();
  retention_.reset();
  writer_.reset();
  server_cache_.reset();
  alerts_.reset();
  store_.reset();
  SYNCWATCH_LOG(kInfo, "collector stopped");
}

std::string CollectorServer::RenderMetrics() const {
  const WriterStats& w = writer_->stats();
  const IngestStats& i = ingest_->stats();
  MetricsWriter m;
  m.Single("syncwatch_ingest_streams_open", "gauge", "Agent streams currently open.",
           i.streams_open.load());
  m.Single("syncwatch_ingest_streams_total", "counter", "Agent streams opened.",
           static_cast<int64_t>(i.streams_total.load()));
  m.Single("syncwatch_ingest_batches_received_total", "counter", "Batches received from agents.",
           static_cast<int64_t>(i.batches_received.load()));
  m.Single("syncwatch_ingest_bytes_received_total", "counter", "Serialized batch bytes received.",
           static_cast<int64_t>(i.bytes_received.load()));
  m.Single("syncwatch_ingest_batches_refused_total", "counter",
           "Batches refused as invalid or oversized.",
           static_cast<int64_t>(i.batches_refused.load()));
  m.Single("syncwatch_ingest_identity_rejections_total", "counter",
           "Streams refused because the client certificate does not name the agent's server.",
           static_cast<int64_t>(i.identity_rejections.load()));
  m.Single("syncwatch_ingest_stream_limit_rejections_total", "counter",
           "Streams refused because their agent had limits.max_streams_per_agent open.",
           static_cast<int64_t>(i.stream_limit_rejections.load()));
  m.Single("syncwatch_ingest_throttles_total", "counter",
           "Throttle messages sent to agents over limits.agent_events_per_second.",
           static_cast<int64_t>(i.throttles.load()));
  m.Single("syncwatch_ingest_batches_stored_total", "counter", "Batches stored.",
           static_cast<int64_t>(w.batches_stored.load()));
  m.Single("syncwatch_ingest_events_stored_total", "counter",
           "Events stored (its rate is the ingest rate).",
           static_cast<int64_t>(w.events_stored.load()));
  m.Single("syncwatch_ingest_dedup_hits_total", "counter",
           "Re-sent batches acknowledged without storing them again.",
           static_cast<int64_t>(w.batches_duplicate.load()));
  m.Single("syncwatch_ingest_batches_out_of_order_total", "counter",
           "Batches not stored because their seq was not the next of their agent's sequence.",
           static_cast<int64_t>(w.batches_out_of_order.load()));
  m.Single("syncwatch_ingest_batches_lost_total", "counter",
           "Batch seqs skipped because the agent's spool no longer held them (lost to this "
           "collector, e.g. after its store was restored from a backup).",
           static_cast<int64_t>(w.batches_lost.load()));
  m.Single("syncwatch_store_commits_total", "counter", "RocksDB group commits.",
           static_cast<int64_t>(w.commits.load()));
  m.Single("syncwatch_store_write_failures_total", "counter", "Failed RocksDB commits.",
           static_cast<int64_t>(w.write_failures.load()));
  m.Single("syncwatch_store_sst_bytes", "gauge", "Bytes in the store's SST files.",
           static_cast<int64_t>(store_->ApproximateSizeBytes()));

  const RetentionStats& r = retention_->stats();
  m.Family("syncwatch_retention_deleted_total", "counter",
           "Records deleted for being older than their kind's retention.");
  m.Sample("syncwatch_retention_deleted_total", {{"kind", "runs"}},
           static_cast<int64_t>(r.runs_deleted.load()));
  m.Sample("syncwatch_retention_deleted_total", {{"kind", "export_errors"}},
           static_cast<int64_t>(r.export_errors_deleted.load()));
  m.Sample("syncwatch_retention_deleted_total", {{"kind", "snapshot_history"}},
           static_cast<int64_t>(r.snapshots_deleted.load()));
  m.Single("syncwatch_retention_failures_total", "counter", "Retention passes that failed.",
           static_cast<int64_t>(r.failures.load()));

  const alerts::AlertEngineStats& a = alerts_->stats();
  m.Single("syncwatch_alerts_fired_total", "counter", "Alerts that started firing.",
           static_cast<int64_t>(a.fired.load()));
  m.Single("syncwatch_alerts_resolved_total", "counter", "Alerts that resolved.",
           static_cast<int64_t>(a.resolved.load()));
  m.Single("syncwatch_alert_evaluation_failures_total", "counter",
           "Alert evaluations that failed (retried on the next round).",
           static_cast<int64_t>(a.evaluation_failures.load()));
  int64_t firing_critical = 0;
  int64_t firing_warning = 0;
  for (const FiringAlert& alert : alerts_->alert_store().Firing()) {
    ++(alert.severity == "critical" ? firing_critical : firing_warning);
  }
  m.Family("syncwatch_alerts_firing", "gauge", "Alerts firing now, by severity.");
  m.Sample("syncwatch_alerts_firing", {{"severity", "critical"}}, firing_critical);
  m.Sample("syncwatch_alerts_firing", {{"severity", "warning"}}, firing_warning);

  const std::map<std::string, uint64_t> outbox = alerts_->alert_store().OutboxSizes();
  m.Family("syncwatch_alert_outbox_notifications", "gauge",
           "Alert notifications waiting for delivery, per receiver.");
  for (const auto& [receiver, n] : outbox) {
    m.Sample("syncwatch_alert_outbox_notifications", {{"receiver", receiver}},
             static_cast<int64_t>(n));
  }
  m.Family("syncwatch_alert_notifications_delivered_total", "counter",
           "Alert notifications accepted by a receiver.");
  for (const auto& d : alerts_->deliverers()) {
    m.Sample("syncwatch_alert_notifications_delivered_total", {{"receiver", d->receiver().id()}},
             static_cast<int64_t>(d->stats().delivered.load()));
  }
  m.Family("syncwatch_alert_delivery_failures_total", "counter",
           "Failed requests to alert receivers (each is retried).");
  for (const auto& d : alerts_->deliverers()) {
    m.Sample("syncwatch_alert_delivery_failures_total", {{"receiver", d->receiver().id()}},
             static_cast<int64_t>(d->stats().failed_sends.load()));
  }

  auto fleet = query_->FleetSummary(v1::FleetSummaryRequest());
  if (!fleet.ok()) {
    // The counters above still help; the per-server part needs the store.
    SYNCWATCH_LOG(kWarning, "/metrics: fleet summary failed: ", fleet.status().ToString());
    m.Single("syncwatch_fleet_summary_failures", "gauge",
             "1 when the per-server metrics could not be read this scrape.", 1);
    return m.Take();
  }
  m.Family("syncwatch_fleet_servers", "gauge", "Sync servers known, by health.");
  m.Sample("syncwatch_fleet_servers", {{"health", "ok"}}, int64_t{fleet->ok()});
  m.Sample("syncwatch_fleet_servers", {{"health", "warning"}}, int64_t{fleet->warning()});
  m.Sample("syncwatch_fleet_servers", {{"health", "critical"}}, int64_t{fleet->critical()});
  m.Sample("syncwatch_fleet_servers", {{"health", "unknown"}}, int64_t{fleet->unknown()});

  const absl::Time now = clock_->Now();
  const auto& servers = fleet->server_list();
  auto per_server = [&](const char* name, const char* help, auto value) {
    m.Family(name, "gauge", help);
    for (const v1::ServerInfo& s : servers) {
      m.Sample(name,
               {{"server", s.server()}, {"tenant", s.tenant()}, {"role", ServerRoleName(s.role())}},
               value(s));
    }
  };
  per_server("syncwatch_server_pending_deletes",
             "Pending export deletes over the server's connectors (latest snapshots).",
             [](const v1::ServerInfo& s) { return int64_t{s.pending_deletes()}; });
  per_server("syncwatch_server_deletion_threshold",
             "The export deletion threshold that applies to the server; 0 when disabled.",
             [](const v1::ServerInfo& s) {
               return s.deletion_threshold_enabled() ? int64_t{s.deletion_threshold()} : int64_t{0};
             });
  per_server("syncwatch_server_open_alerts", "Alerts about the server firing now.",
             [](const v1::ServerInfo& s) { return int64_t{s.open_alerts()}; });
  per_server("syncwatch_server_open_critical_alerts",
             "Critical alerts about the server firing now.",
             [](const v1::ServerInfo& s) { return int64_t{s.open_critical_alerts()}; });
  per_server("syncwatch_server_last_successful_cycle_timestamp_seconds",
             "When the server's latest successful sync cycle ended (Unix time); 0 when none.",
             [](const v1::ServerInfo& s) {
               return s.has_last_successful_cycle() ? int64_t{s.last_successful_cycle().seconds()}
                                                    : int64_t{0};
             });
  per_server("syncwatch_agent_last_seen_age_seconds",
             "Seconds since the server's agent was last heard from.",
             [&now](const v1::ServerInfo& s) {
               return absl::ToDoubleSeconds(now - FromProtoTimestamp(s.last_seen()));
             });
  per_server("syncwatch_agent_spool_bytes",
             "Bytes in the agent's spool not yet acknowledged (latest heartbeat).",
             [](const v1::ServerInfo& s) {
               return static_cast<int64_t>(s.last_heartbeat().spool_bytes());
             });
  per_server("syncwatch_agent_spool_budget_bytes", "The agent's spool byte budget.",
             [](const v1::ServerInfo& s) {
               return static_cast<int64_t>(s.last_heartbeat().spool_budget_bytes());
             });
  m.Family("syncwatch_server_health", "gauge",
           "1 for the server's current health, 0 for the other states.");
  for (const v1::ServerInfo& s : servers) {
    for (v1::Health h :
         {v1::HEALTH_OK, v1::HEALTH_WARNING, v1::HEALTH_CRITICAL, v1::HEALTH_UNKNOWN}) {
      const bool current =
          h == s.health() || (h == v1::HEALTH_UNKNOWN && s.health() == v1::HEALTH_UNSPECIFIED);
      m.Sample("syncwatch_server_health",
               {{"server", s.server()}, {"tenant", s.tenant()}, {"health", HealthName(h)}},
               int64_t{current ? 1 : 0});
    }
  }
  return m.Take();
}

}  // namespace syncwatch::collector
