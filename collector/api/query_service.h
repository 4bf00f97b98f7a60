// The Query gRPC service over the collector's store. Uses gRPC's synchronous
// API on purpose: the calls read RocksDB (blocking I/O), which must not run
// on a callback reactor; the sync server's thread pool is the worker pool.
// FleetSummary is the exception: it answers from the server records in memory
// (ServerCache), assembling the answer from bytes kept per server, and is
// served as a raw callback method, which spares the busiest call the sync
// API's thread hand-offs and a parse and serialisation of each server.
#ifndef SYNCWATCH_COLLECTOR_API_QUERY_SERVICE_H_
#define SYNCWATCH_COLLECTOR_API_QUERY_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collector/alerts/alert_store.h"
#include "collector/storage/server_cache.h"
#include "collector/storage/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "syncwatch/v1/query.grpc.pb.h"

namespace syncwatch::collector {

// The Query service as registered: FleetSummary is a raw callback method
// (request and answer as bytes), every other call synchronous.
using QueryServiceBase = v1::Query::WithRawCallbackMethod_FleetSummary<v1::Query::Service>;

// Thread-safe. Page tokens are opaque (the last key returned, base64).
class QueryService final : public QueryServiceBase {
 public:
  struct Options {
    // The server records from memory; nullptr reads them from the store on
    // each call. Must outlive the service. Default: none.
    ServerCache* cache = nullptr;
    // The alerts firing now, for open_alerts and health; nullptr: none.
    // Must outlive the service. Default: none.
    const alerts::AlertStore* alerts = nullptr;
    // The deletion threshold the rules apply to a server when no agent of its
    // tenant reported one. Default: 500 for every server.
    std::function<int64_t(const v1::ServerInfo&)> default_threshold;
  };

  // `store` and `clock` must outlive the service.
  QueryService(const Store& store, const Clock& clock, Options options);

  using QueryServiceBase::FleetSummary;  // the sync one, which the raw method replaces

  // The bodies of the FleetSummary and GetServer calls, for the web page.
  absl::StatusOr<v1::FleetSummaryResponse> FleetSummary(
      const v1::FleetSummaryRequest& request) const;
  absl::StatusOr<v1::GetServerResponse> GetServer(const v1::GetServerRequest& request) const;
  // FleetSummary's answer, serialized (what the call sends).
  absl::StatusOr<std::string> FleetSummaryBytes(const v1::FleetSummaryRequest& request) const;

  // Runs on the callback thread: it reads memory, and the store only for the
  // records changed since the previous call (point reads of fresh writes).
  grpc::ServerUnaryReactor* FleetSummary(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::Status GetServer(grpc::ServerContext* context, const v1::GetServerRequest* request,
                         v1::GetServerResponse* response) override;

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
  grpc::Status ListConfigurationChanges(grpc::ServerContext* context,
                                        const v1::ListConfigurationChangesRequest* request,
                                        v1::ListConfigurationChangesResponse* response) override;
  grpc::Status ListConfigurationDrift(grpc::ServerContext* context,
                                      const v1::ListConfigurationDriftRequest* request,
                                      v1::ListConfigurationDriftResponse* response) override;
  grpc::Status ExplainDeletes(grpc::ServerContext* context,
                              const v1::ExplainDeletesRequest* request,
                              v1::ExplainDeletesResponse* response) override;

 private:
  // Every server record, by name.
  absl::StatusOr<ServerRecords> Servers() const;
  // The alerts firing now (none without an alert store).
  std::vector<FiringAlert> FiringAlerts() const;
  // Judges every server of `all` the filter matches (health, threshold,
  // alerts), by name: calls `take` with its entry and a message holding only
  // the query-time fields (valid during the call).
  absl::Status JudgeEach(
      const ServerRecords& all, const v1::Filter& filter, const std::vector<FiringAlert>& firing,
      const std::function<void(const ServerEntry&, const v1::ServerInfo&)>& take) const;
  // The records `filter` matches, by name, with the query-time fields filled
  // in from `firing`.
  absl::StatusOr<std::vector<v1::ServerInfo>> JudgedServers(
      const v1::Filter& filter, const std::vector<FiringAlert>& firing) const;

  const Store& store_;
  const Clock& clock_;
  const Options options_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_API_QUERY_SERVICE_H_
