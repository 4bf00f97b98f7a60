#include "common/tls.h"

#include <grpc/grpc_security.h>
#include <grpc/support/string_util.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/system_roots.h"

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

// The roots gRPC's default-roots callback hands out; set once, never freed.
std::atomic<const std::string*> g_default_roots{nullptr};

grpc_ssl_roots_override_result DefaultRoots(char** pem) {
  const std::string* roots = g_default_roots.load();
  if (roots == nullptr) return GRPC_SSL_ROOTS_OVERRIDE_FAIL;
  *pem = gpr_strdup(roots->c_str());  // gRPC frees it
  return GRPC_SSL_ROOTS_OVERRIDE_OK;
}

// Makes `roots` (from a store, not a file) gRPC's default roots, which a TLS
// channel without a root certificate provider verifies against. gRPC 1.51
// has no per-channel way to give PEM roots next to a file-watched client
// certificate, and this keeps the certificate's reload. gRPC prefers the file
// named by GRPC_DEFAULT_SSL_ROOTS_FILE_PATH to this callback: that would
// silently replace the store, so it is an error.
absl::Status UseAsDefaultRoots(const SystemRoots& roots) {
  const char* env = std::getenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH");
  if (env != nullptr && *env != '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat("tls: system_roots: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set (", env,
                     "), so gRPC would trust that file instead of ", roots.source,
                     "; unset it, or name that file in tls.ca"));
  }
  static std::once_flag once;
  std::call_once(once, [&roots] {
    g_default_roots.store(new std::string(roots.pem));
    grpc_set_ssl_roots_override_callback(DefaultRoots);
  });
  return absl::OkStatus();
}

}  // namespace

unsigned int TlsReloadSeconds(absl::Duration reload_interval) {
  return static_cast<unsigned int>(std::clamp<int64_t>(
      absl::ToInt64Seconds(absl::Ceil(reload_interval, absl::Seconds(1))), 1, int64_t{24} * 3600));
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what) {
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  // "WHAT: cannot open PATH: <the OS's reason>", its code as InputFile gives it.
  if (!pem.ok())
    return absl::Status(pem.status().code(), absl::StrCat(what, ": ", pem.status().message()));
  if (pem->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not a PEM file"));
  }
  return std::move(*pem);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTls& tls, grpc::ChannelArguments* args) {
  if (!tls.enabled()) {
    if (!tls.cert.empty() || !tls.key.empty()) {
      return absl::InvalidArgumentError("tls: cert and key need ca (or system_roots) as well");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (!tls.ca.empty() && tls.system_roots) {
    return absl::InvalidArgumentError(
        "tls: ca and system_roots exclude each other (trust a CA file or the system's roots)");
  }
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("tls: cert and key go together (mutual TLS needs both)");
  }
  SYNCWATCH_RETURN_IF_ERROR(
      CheckReadable({{"tls ca", tls.ca}, {"tls cert", tls.cert}, {"tls key", tls.key}}));
  // The roots: the ca file, the system's bundle file, or (from a store)
  // gRPC's default roots.
  std::string roots_file = tls.ca;
  if (tls.system_roots) {
    SYNCWATCH_ASSIGN_OR_RETURN(SystemRoots roots, ReadSystemRoots());
    if (roots.file.empty()) {
      SYNCWATCH_RETURN_IF_ERROR(UseAsDefaultRoots(roots));
    } else {
      roots_file = roots.file;
    }
    SYNCWATCH_LOG(kInfo, "tls: trusting the ", roots.count, " certificates of ", roots.source);
  }
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!roots_file.empty() || !tls.cert.empty()) {
    options.set_certificate_provider(std::make_shared<FileWatcherCertificateProvider>(
        tls.key, tls.cert, roots_file, TlsReloadSeconds(tls.reload_interval)));
  }
  if (!roots_file.empty()) options.watch_root_certs();
  if (!tls.cert.empty()) options.watch_identity_key_cert_pairs();
  // The collector's certificate must chain to the roots and name the host
  // (or server_name), as with SslCredentials.
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
