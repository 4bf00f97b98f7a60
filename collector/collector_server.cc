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

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &cs->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.RegisterService(cs->ingest_.get());
  builder.RegisterService(cs->query_.get());
  cs->server_ = builder.BuildAndStart();
  if (!cs->server_ || cs->port_ == 0) {
    cs->writer_->Stop();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use or not available?)"));
  }
  SYNCWATCH_LOG(kInfo, CollectorVersion(), " listening on ", options.listen, " (port ", cs->port_,
                "), data in ", options.data_dir, options.sync_writes ? "" : " (sync_writes off)");
  return cs;
}

CollectorServer::~CollectorServer() { Shutdown(); }

void CollectorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Streams still open after the grace period are cancelled; their agents
  // re-send whatever was not acknowledged.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  writer_->Stop();
  writer_.reset();
  store_.reset();
  SYNCWATCH_LOG(kInfo, "collector stopped");
}

}  // namespace syncwatch::collector
