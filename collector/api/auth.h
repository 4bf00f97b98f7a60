// Bearer-token access control for the collector's Query API and HTTP port.
//
// The tokens live in a file (YAML `auth: {tokens_file: PATH}`), one per line:
//
//   # token                             role   name
//   4f0c3e9a1b7d2c6e8f5a0b3c9d1e7f2a    read   grafana
//   9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d    admin  ops-oncall
//
// Roles are `read` (every query, the web pages, reading silences and
// retention) and `admin` (read, plus the Admin service's actions: ack an
// alert, silences, changing retention). A token is what a client sends; its
// name is what logs and errors show. Tokens are compared in constant time and
// never logged.
#ifndef SYNCWATCH_COLLECTOR_API_AUTH_H_
#define SYNCWATCH_COLLECTOR_API_AUTH_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/api/query_service.h"
#include "common/mutex.h"
#include "syncwatch/v1/admin.grpc.pb.h"
#include "syncwatch/v1/query.grpc.pb.h"

namespace syncwatch::collector {

// Ordered: a higher role may do everything a lower one may.
enum class Role { kRead = 0, kAdmin = 1 };

// "read" | "admin".
absl::string_view RoleName(Role role);

// Who a request authenticated as.
struct Principal {
  std::string name;
  Role role = Role::kRead;
};

// The tokens of one tokens file. Immutable once parsed.
class TokenSet {
 public:
  // Parses a tokens file's `text`; `path` only names it in errors. An
  // InvalidArgument error names the file and line ("PATH:LINE: …") but never
  // the token itself. Tokens are at least 16 characters; names and tokens are
  // unique.
  static absl::StatusOr<TokenSet> Parse(absl::string_view text, absl::string_view path);
  // Reads and parses `path`; NotFound / PermissionDenied naming it.
  static absl::StatusOr<TokenSet> Load(const std::string& path);

  // The principal `token` belongs to, or nullptr. Takes the same time whichever
  // token matches, or none.
  const Principal* Find(absl::string_view token) const;

  size_t size() const { return entries_.size(); }
  // The names, in file order (for logs).
  std::vector<std::string> Names() const;

 private:
  struct Entry {
    std::string token;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

// Authenticates "Bearer <token>" header values against a tokens file, which
// it re-reads when its modification time or size changes (checked at most
// once a second). A changed file that does not parse is logged and the tokens
// read before stay in force. Thread-safe.
class Authenticator {
 public:
  // Loads `tokens_file`; its error when it cannot be read or parsed.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(std::string tokens_file);

  // The principal of the token in `authorization` (an Authorization header or
  // gRPC `authorization` metadata value), or UNAUTHENTICATED saying what is
  // missing, never echoing the token.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization);

 private:
  explicit Authenticator(std::string path) : path_(std::move(path)) {}
  // Re-reads the file when it changed since the last look (at most once a second).
  void MaybeReload();

  const std::string path_;
  Mutex mu_;
  std::shared_ptr<const TokenSet> tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t size_ ABSL_GUARDED_BY(mu_) = -1;
};

// OK when `principal` has at least `role`; PERMISSION_DENIED naming the
// principal and the role needed otherwise.
absl::Status RequireRole(const Principal& principal, Role role);

// The same for a gRPC call that went through AuthenticatedQueryService:
// UNAUTHENTICATED when the call carries no principal. Calls on a collector
// without a tokens file have no principal and pass (access is then not
// controlled).
absl::Status RequireRole(const grpc::ServerContextBase& context, Role role);

// Who is calling, for the records an admin action leaves (an ack's `by`, a
// silence's `created_by`): the token's name on a call that went through an
// Authenticated*Service, else the client certificate's name under mutual
// TLS, else "anonymous".
std::string CallerName(const grpc::ServerContextBase& context);

// The Query API behind a token check: every call needs a token with role
// `read` or higher in its `authorization` metadata and gets UNAUTHENTICATED
// otherwise, then goes to `inner`. A Query RPC added to the proto and not
// forwarded here answers UNIMPLEMENTED, so access stays closed by default.
// FleetSummary is a raw callback method, as in QueryService.
class AuthenticatedQueryService final : public QueryServiceBase {
 public:
  // `inner` and `auth` must outlive the service.
  AuthenticatedQueryService(QueryServiceBase& inner, Authenticator& auth)
      : inner_(inner), auth_(auth) {}

  using QueryServiceBase::FleetSummary;  // the sync one, which the raw method replaces

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
  QueryServiceBase& inner_;
  Authenticator& auth_;
};

// The Admin API behind the same token check, with the role each RPC needs
// checked here as well as by `inner` (RequireRole): `admin` for the actions,
// `read` for ListSilences and GetRetention. An Admin RPC added to the proto
// and not forwarded here answers UNIMPLEMENTED.
class AuthenticatedAdminService final : public v1::Admin::Service {
 public:
  // `inner` and `auth` must outlive the service.
  AuthenticatedAdminService(v1::Admin::Service& inner, Authenticator& auth)
      : inner_(inner), auth_(auth) {}

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
  v1::Admin::Service& inner_;
  Authenticator& auth_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_API_AUTH_H_
