#include "collector/api/admin_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collector/api/auth.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/time_util.h"

namespace syncwatch::collector {
namespace {

// The longest a silence may last: one a typo made endless should not hide
// alerts for good.
constexpr absl::Duration kMaxSilence = absl::Hours(24 * 366);

v1::RetentionWindows WindowsOf(const RetentionOptions& options) {
  v1::RetentionWindows w;
  *w.mutable_runs() = ToProtoDuration(options.runs);
  *w.mutable_export_errors() = ToProtoDuration(options.export_errors);
  *w.mutable_snapshots() = ToProtoDuration(options.snapshots);
  return w;
}

}  // namespace

grpc::Status AdminService::AckAlert(grpc::ServerContext* context,
                                    const v1::AckAlertRequest* request,
                                    v1::AckAlertResponse* response) {
  const absl::Status allowed = RequireRole(*context, Role::kAdmin);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  if (request->fingerprint().empty()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("AckAlert: the alert id (fingerprint) is empty"));
  }
  const std::string by = CallerName(*context);
  absl::StatusOr<v1::Alert> alert =
      alerts_.Ack(request->fingerprint(), by, request->comment(), clock_.Now());
  if (!alert.ok()) return ToGrpcStatus(alert.status());
  SYNCWATCH_LOG(kInfo, by, " acknowledged alert ", alert->fingerprint(), " (", alert->name(), ")");
  alerts_.MarkSilenced(&*alert, clock_.Now());
  *response->mutable_alert() = *std::move(alert);
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateSilence(grpc::ServerContext* context,
                                         const v1::CreateSilenceRequest* request,
                                         v1::CreateSilenceResponse* response) {
  const absl::Status allowed = RequireRole(*context, Role::kAdmin);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  const absl::Time now = clock_.Now();
  if (request->has_duration() == request->has_ends_at()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "CreateSilence: give either a duration or an end time (ends_at), not both or neither"));
  }
  const absl::Time ends_at = request->has_duration() ? now + FromProtoDuration(request->duration())
                                                     : FromProtoTimestamp(request->ends_at());
  if (ends_at - now > kMaxSilence) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "a silence may last at most 366 days; this one would end at ", FormatIso8601(ends_at))));
  }
  v1::Silence silence;
  silence.set_id(request->silence().id());
  silence.set_server(request->silence().server());
  silence.set_tenant(request->silence().tenant());
  silence.set_alert_name(request->silence().alert_name());
  silence.set_comment(request->silence().comment());
  silence.set_created_by(CallerName(*context));
  *silence.mutable_ends_at() = ToProtoTimestamp(ends_at);
  bool existed = false;
  absl::StatusOr<v1::Silence> stored = alerts_.AddSilence(std::move(silence), now, &existed);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  response->set_already_existed(existed);
  int matching = 0;
  absl::StatusOr<std::vector<v1::Alert>> firing = alerts_.List("", v1::ALERT_STATE_FIRING);
  if (firing.ok()) {
    for (const v1::Alert& a : *firing) matching += alerts::SilenceMatches(*stored, a) ? 1 : 0;
  }
  SYNCWATCH_LOG(kInfo, CallerName(*context), existed ? " repeated silence " : " created silence ",
                stored->id(), " (server \"", stored->server(), "\", tenant \"", stored->tenant(),
                "\", alert \"", stored->alert_name(), "\") until ", FormatIso8601(ends_at));
  *response->mutable_silence() = *std::move(stored);
  response->set_matching_firing_alerts(matching);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListSilences(grpc::ServerContext* context,
                                        const v1::ListSilencesRequest*,
                                        v1::ListSilencesResponse* response) {
  const absl::Status allowed = RequireRole(*context, Role::kRead);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  for (v1::Silence& s : alerts_.Silences(clock_.Now())) *response->add_silences() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status AdminService::DeleteSilence(grpc::ServerContext* context,
                                         const v1::DeleteSilenceRequest* request,
                                         v1::DeleteSilenceResponse* response) {
  const absl::Status allowed = RequireRole(*context, Role::kAdmin);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  bool already_ended = false;
  absl::StatusOr<v1::Silence> removed =
      alerts_.RemoveSilence(request->id(), clock_.Now(), &already_ended);
  if (!removed.ok()) return ToGrpcStatus(removed.status());
  response->set_already_ended(already_ended);
  SYNCWATCH_LOG(kInfo, CallerName(*context),
                already_ended ? " repeated the end of silence " : " ended silence ", removed->id());
  *response->mutable_silence() = *std::move(removed);
  return grpc::Status::OK;
}

v1::GetRetentionResponse AdminService::RetentionNow() const {
  v1::GetRetentionResponse response;
  *response.mutable_windows() = WindowsOf(retention_.options());
  *response.mutable_config() = WindowsOf(retention_.config());
  if (auto o = retention_.override_windows()) *response.mutable_admin_override() = *std::move(o);
  return response;
}

grpc::Status AdminService::GetRetention(grpc::ServerContext* context,
                                        const v1::GetRetentionRequest*,
                                        v1::GetRetentionResponse* response) {
  const absl::Status allowed = RequireRole(*context, Role::kRead);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  *response = RetentionNow();
  return grpc::Status::OK;
}

grpc::Status AdminService::SetRetention(grpc::ServerContext* context,
                                        const v1::SetRetentionRequest* request,
                                        v1::GetRetentionResponse* response) {
  const absl::Status allowed = RequireRole(*context, Role::kAdmin);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  const v1::RetentionWindows& w = request->windows();
  const bool any = w.has_runs() || w.has_export_errors() || w.has_snapshots();
  if (request->reset_to_config() == any) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "SetRetention: give the windows to change (runs, export_errors, snapshots) or "
        "reset_to_config, not both or neither"));
  }
  const absl::Status changed = request->reset_to_config()
                                   ? retention_.ClearOverride()
                                   : retention_.SetOverride(w, CallerName(*context), clock_.Now());
  if (!changed.ok()) return ToGrpcStatus(changed);
  *response = RetentionNow();
  return grpc::Status::OK;
}

}  // namespace syncwatch::collector
