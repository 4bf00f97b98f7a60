#include "common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace syncwatch {
namespace {

using ::grpc::experimental::FileWatcherCertificateProvider;

// Reads each named file once so that a missing or unreadable one is an error
// naming it now; gRPC's file watcher would only log it and fail handshakes.
absl::Status CheckReadable(std::initializer_list<std::pair<const char*, std::string>> files) {
  for (const auto& [what, path] : files) {
    if (!path.empty()) SYNCWATCH_RETURN_IF_ERROR(ReadPemFile(path, what).status());
  }
  return absl::OkStatus();
}

}  // namespace

unsigned int TlsReloadSeconds(absl::Duration reload_interval) {
  return static_cast<unsigned int>(std::clamp<int64_t>(
      absl::ToInt64Seconds(absl::Ceil(reload_interval, absl::Seconds(1))), 1, int64_t{24} * 3600));
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what) {
  std::ifstream in(Utf8Path(path), std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string msg = absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(msg) : absl::NotFoundError(msg);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string pem = buf.str();
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not a PEM file"));
  }
  return pem;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTls& tls, grpc::ChannelArguments* args) {
  if (!tls.enabled()) {
    if (!tls.cert.empty() || !tls.key.empty()) {
      return absl::InvalidArgumentError("tls: cert and key need ca as well");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("tls: cert and key go together (mutual TLS needs both)");
  }
  SYNCWATCH_RETURN_IF_ERROR(
      CheckReadable({{"tls ca", tls.ca}, {"tls cert", tls.cert}, {"tls key", tls.key}}));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::make_shared<FileWatcherCertificateProvider>(
      tls.key, tls.cert, tls.ca, TlsReloadSeconds(tls.reload_interval)));
  options.watch_root_certs();
  if (!tls.cert.empty()) options.watch_identity_key_cert_pairs();
  // The collector's certificate must chain to `ca` and name the host (or
  // server_name), as with SslCredentials.
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  if (!tls.server_name.empty()) args->SetSslTargetNameOverride(tls.server_name);
  return grpc::experimental::TlsCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTls& tls) {
  if (!tls.enabled()) {
    if (!tls.key.empty() || !tls.client_ca.empty()) {
      return absl::InvalidArgumentError("tls: key and client_ca need cert as well");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.key.empty()) return absl::InvalidArgumentError("tls: cert needs key");
  SYNCWATCH_RETURN_IF_ERROR(CheckReadable(
      {{"tls cert", tls.cert}, {"tls key", tls.key}, {"tls client_ca", tls.client_ca}}));
  grpc::experimental::TlsServerCredentialsOptions options(
      std::make_shared<FileWatcherCertificateProvider>(tls.key, tls.cert, tls.client_ca,
                                                       TlsReloadSeconds(tls.reload_interval)));
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace syncwatch
