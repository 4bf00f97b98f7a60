// The Query gRPC service over the collector's store. Uses gRPC's synchronous
// API on purpose: every call reads RocksDB (blocking I/O), which must not run
// on a callback reactor; the sync server's thread pool is the worker pool.
#ifndef SYNCWATCH_COLLECTOR_QUERY_SERVICE_H_
#define SYNCWATCH_COLLECTOR_QUERY_SERVICE_H_

#include "collector/store.h"
#include "syncwatch/v1/query.grpc.pb.h"

namespace syncwatch::collector {

// Thread-safe. Page tokens are opaque (the last key returned, base64).
class QueryService final : public v1::Query::Service {
 public:
  // `store` must outlive the service.
  explicit QueryService(const Store& store) : store_(store) {}

  grpc::Status ListServers(grpc::ServerContext* context, const v1::ListServersRequest* request,
                           v1::ListServersResponse* response) override;
  grpc::Status ListRuns(grpc::ServerContext* context, const v1::ListRunsRequest* request,
                        v1::ListRunsResponse* response) override;
  grpc::Status ListPendingExports(grpc::ServerContext* context,
                                  const v1::ListPendingExportsRequest* request,
                                  v1::ListPendingExportsResponse* response) override;
  grpc::Status ListExportErrors(grpc::ServerContext* context,
                                const v1::ListExportErrorsRequest* request,
                                v1::ListExportErrorsResponse* response) override;
  grpc::Status ListAlerts(grpc::ServerContext* context, const v1::ListAlertsRequest* request,
                          v1::ListAlertsResponse* response) override;

 private:
  const Store& store_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_QUERY_SERVICE_H_
