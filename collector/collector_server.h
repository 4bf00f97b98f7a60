// Owns everything a running collector is made of: the store, the storage
// writer, the alert engine, the gRPC services and server. Start-up and
// shutdown order live here.
#ifndef SYNCWATCH_COLLECTOR_COLLECTOR_SERVER_H_
#define SYNCWATCH_COLLECTOR_COLLECTOR_SERVER_H_

#include <grpcpp/server.h>

#include <memory>

#include "absl/status/statusor.h"
#include "collector/alerts/alert_engine.h"
#include "collector/api/admin_service.h"
#include "collector/api/auth.h"
#include "collector/api/query_service.h"
#include "collector/collector_options.h"
#include "collector/ingest/ingest_service.h"
#include "collector/storage/retention.h"
#include "collector/storage/storage_writer.h"
#include "collector/storage/store.h"
#include "collector/web/http_server.h"
#include "common/clock.h"

namespace syncwatch::collector {

// Thread-safe.
class CollectorServer {
 public:
  // Validates `options`, opens the store and starts serving. `clock` must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<CollectorServer>> Start(const CollectorOptions& options,
                                                                Clock& clock);
  // Shuts down if still running.
  ~CollectorServer();
  CollectorServer(const CollectorServer&) = delete;
  CollectorServer& operator=(const CollectorServer&) = delete;

  // The gRPC port actually bound (useful with port 0).
  int port() const { return port_; }
  // The HTTP port actually bound, 0 when HTTP is off.
  int http_port() const { return http_ ? http_->port() : 0; }

  // The /metrics body: Prometheus text exposition format 0.0.4.
  std::string RenderMetrics() const;

  // Stops accepting, lets open calls end (cancelling streams after a grace
  // period), commits what the writer holds, evaluates what it committed last,
  // stops alert delivery (what is undelivered stays in the outbox), and closes
  // the store.
  void Shutdown();

  const WriterStats& writer_stats() const { return writer_->stats(); }
  const IngestStats& ingest_stats() const { return ingest_->stats(); }
  const RetentionStats& retention_stats() const { return retention_->stats(); }
  alerts::AlertEngine& alert_engine() { return *alerts_; }

 private:
  CollectorServer() = default;

  std::unique_ptr<Store> store_;
  // Before the writer: the writer's commit observer feeds them.
  std::unique_ptr<ServerCache> server_cache_;
  std::unique_ptr<alerts::AlertEngine> alerts_;
  std::unique_ptr<StorageWriter> writer_;
  // Deletes what is past retention, next to the writer's commits.
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<QueryService> query_;
  // With auth.tokens_file: the tokens, and the Query API behind them.
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<AuthenticatedQueryService> authenticated_query_;
  // Acks, silences and retention changes; behind the tokens like the queries.
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<AuthenticatedAdminService> authenticated_admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  const Clock* clock_ = nullptr;
  int port_ = 0;
  bool shut_down_ = false;
};

// The collector's version string.
const char* CollectorVersion();

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_COLLECTOR_SERVER_H_
