// TLS settings shared by the agent and the CLI (clients) and the collector
// (server): PEM files on disk, read once at start-up.
#ifndef SYNCWATCH_COMMON_TLS_H_
#define SYNCWATCH_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace syncwatch {

struct ClientTls {
  // CA bundle that signed the collector's certificate. Empty: TLS is off.
  std::string ca;
  // Client certificate and key for mutual TLS (both or neither).
  std::string cert;
  std::string key;
  // Expected name in the collector's certificate when it differs from the
  // host in the address.
  std::string server_name;

  bool enabled() const { return !ca.empty(); }
};

struct ServerTls {
  // The collector's certificate chain and key. Empty: plain text.
  std::string cert;
  std::string key;
  // When set, clients must present a certificate signed by this CA (mTLS).
  std::string client_ca;

  bool enabled() const { return !cert.empty(); }
};

// Reads a whole file; NotFound / PermissionDenied naming `what` and the path.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what);

// Credentials for a client channel (insecure when TLS is off); adds the
// server-name override to `args`. Errors name the file that could not be read.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTls& tls, grpc::ChannelArguments* args);

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTls& tls);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_TLS_H_
