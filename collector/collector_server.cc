#include "collector/collector_server.h"

#include <chrono>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace syncwatch::collector {

const char* CollectorVersion() { return "syncwatch-collector 0.1.0"; }

absl::StatusOr<std::unique_ptr<CollectorServer>> CollectorServer::Start(
    const CollectorOptions& options, Clock& clock) {
  SYNCWATCH_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<CollectorServer> cs(new CollectorServer());
  Store::Options store_options;
  store_options.sync_writes = options.sync_writes;
  SYNCWATCH_ASSIGN_OR_RETURN(cs->store_, Store::Open(options.data_dir, store_options));
  SYNCWATCH_ASSIGN_OR_RETURN(cs->writer_,
                             StorageWriter::Create(*cs->store_, clock, StorageWriter::Options()));

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
  builder.RegisterService(cs->ingest_.get());
  builder.RegisterService(cs->query_.get());
  cs->server_ = builder.BuildAndStart();
  // On the error returns below, ~CollectorServer shuts down what did start.
  if (!cs->server_ || cs->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use or not available?)"));
  }
  if (!options.http_listen.empty()) {
    CollectorServer* self = cs.get();
    auto http = HttpServer::Start(options.http_listen, [self] { return self->RenderMetrics(); });
    if (!http.ok()) return http.status();
    cs->http_ = *std::move(http);
  }
  SYNCWATCH_LOG(kInfo, CollectorVersion(), " listening on ", options.listen, " (port ", cs->port_,
                "), ",
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
  writer_.reset();
  if (http_) http_->Stop();
  http_.reset();
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
  Metric(&out, "syncwatch_ingest_batches_received_total", "counter", "Batches received from agents.",
         static_cast<double>(i.batches_received.load()));
  Metric(&out, "syncwatch_ingest_bytes_received_total", "counter", "Serialized batch bytes received.",
         static_cast<double>(i.bytes_received.load()));
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
  return out;
}

}  // namespace syncwatch::collector
