// TLS settings shared by the agent and the CLI (clients) and the collector
// (server): PEM files on disk, read at start-up (a missing or unreadable file
// is a start-up error) and re-read every `reload_interval` afterwards, so that
// renewed certificates and CAs take effect without a restart. A client may
// trust the system's roots instead of a CA file (common/system_roots.h).
#ifndef SYNCWATCH_COMMON_TLS_H_
#define SYNCWATCH_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace syncwatch {

struct ClientTls {
  // CA bundle that signed the collector's certificate.
  std::string ca;
  // Instead of `ca`: trust the system's root certificates (ReadSystemRoots:
  // on Windows the local machine's ROOT store, read once at start; elsewhere
  // gRPC's default CA bundle, re-read like `ca`). Neither: TLS is off.
  bool system_roots = false;
  // Client certificate and key for mutual TLS (both or neither).
  std::string cert;
  std::string key;
  // Expected name in the collector's certificate when it differs from the
  // host in the address.
  std::string server_name;
  // How often the files are checked for changes; rounded up to whole
  // seconds, at least 1 s. Default: 60 s.
  absl::Duration reload_interval = absl::Seconds(60);

  bool enabled() const { return !ca.empty() || system_roots; }
};

struct ServerTls {
  // The collector's certificate chain and key. Empty: plain text.
  std::string cert;
  std::string key;
  // When set, clients must present a certificate signed by this CA (mTLS).
  std::string client_ca;
  // How often the files are checked for changes (a new file applies to new
  // connections); rounded up to whole seconds, at least 1 s. Replace files
  // atomically (write then rename) so that a half-written file is never read;
  // a cert and key that do not match are ignored until both are new.
  // Default: 60 s.
  absl::Duration reload_interval = absl::Seconds(60);

  bool enabled() const { return !cert.empty(); }
};

// `reload_interval` in whole seconds as the file watchers use it: rounded up,
// between 1 s and a day. (The collector's HTTPS port re-reads its files on
// the same schedule as the gRPC port.)
unsigned int TlsReloadSeconds(absl::Duration reload_interval);

// Reads a whole file; NotFound / PermissionDenied naming `what` and the path.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what);

// Credentials for a client channel (insecure when TLS is off); adds the
// server-name override to `args`. The files are watched for changes (see
// ClientTls::reload_interval). Errors name the file that could not be read,
// or the system store. With system roots from a store (Windows), the roots
// become gRPC's default roots for the whole process: gRPC reads them once, at
// the first handshake that uses default roots, so they must be the only
// default roots a process asks for.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTls& tls, grpc::ChannelArguments* args);

// Credentials for the collector's port (insecure when TLS is off). With
// client_ca, clients must present a certificate that CA signed. The files are
// watched for changes (see ServerTls::reload_interval). Errors name the file
// that could not be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTls& tls);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_TLS_H_
