#include "common/tls.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace syncwatch {

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
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
  grpc::SslCredentialsOptions ssl;
  SYNCWATCH_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile(tls.ca, "tls ca"));
  if (!tls.cert.empty()) {
    SYNCWATCH_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPemFile(tls.cert, "tls cert"));
    SYNCWATCH_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPemFile(tls.key, "tls key"));
  }
  if (!tls.server_name.empty()) args->SetSslTargetNameOverride(tls.server_name);
  return grpc::SslCredentials(ssl);
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
  grpc::SslServerCredentialsOptions ssl(
      tls.client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  SYNCWATCH_ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(tls.cert, "tls cert"));
  SYNCWATCH_ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(tls.key, "tls key"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca.empty()) {
    SYNCWATCH_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile(tls.client_ca, "tls client_ca"));
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace syncwatch
