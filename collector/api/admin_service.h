// The Admin gRPC service (proto/syncwatch/v1/admin.proto): acknowledging
// alerts, silences and the retention windows. The state lives in the
// AlertStore (acks, silences) and in Retention (windows); this is the API
// over them. Every action checks RequireRole(context, Role::kAdmin) itself,
// so a collector that puts this service behind AuthenticatedAdminService
// refuses read tokens twice over; without a tokens file there is no principal
// and every call is allowed (see SECURITY.md). Synchronous API, like the
// Query service: the calls write RocksDB.
#ifndef SYNCWATCH_COLLECTOR_API_ADMIN_SERVICE_H_
#define SYNCWATCH_COLLECTOR_API_ADMIN_SERVICE_H_

#include "collector/alerts/alert_store.h"
#include "collector/storage/retention.h"
#include "common/clock.h"
#include "syncwatch/v1/admin.grpc.pb.h"

namespace syncwatch::collector {

// Thread-safe.
class AdminService final : public v1::Admin::Service {
 public:
  // `alerts`, `retention` and `clock` must outlive the service.
  AdminService(alerts::AlertStore& alerts, Retention& retention, const Clock& clock)
      : alerts_(alerts), retention_(retention), clock_(clock) {}
  AdminService(const AdminService&) = delete;
  AdminService& operator=(const AdminService&) = delete;

  grpc::Status AckAlert(grpc::ServerContext* context, const v1::AckAlertRequest* request,
                        v1::AckAlertResponse* response) override;
  grpc::Status CreateSilence(grpc::ServerContext* context, const v1::CreateSilenceRequest* request,
                             v1::CreateSilenceResponse* response) override;
  grpc::Status ListSilences(grpc::ServerContext* context, const v1::ListSilencesRequest* request,
                            v1::ListSilencesResponse* response) override;
  grpc::Status DeleteSilence(grpc::ServerContext* context, const v1::DeleteSilenceRequest* request,
                             v1::DeleteSilenceResponse* response) override;
  grpc::Status GetRetention(grpc::ServerContext* context, const v1::GetRetentionRequest* request,
                            v1::GetRetentionResponse* response) override;
  grpc::Status SetRetention(grpc::ServerContext* context, const v1::SetRetentionRequest* request,
                            v1::GetRetentionResponse* response) override;

 private:
  v1::GetRetentionResponse RetentionNow() const;

  alerts::AlertStore& alerts_;
  Retention& retention_;
  const Clock& clock_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_API_ADMIN_SERVICE_H_
