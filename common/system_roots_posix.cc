// ReadSystemRoots (common/system_roots.h) outside Windows: the CA bundle gRPC
// would use by default, found as gRPC 1.51 finds it
// (src/core/lib/security/security_connector/load_system_roots_supported.cc).
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/system_roots.h"
#include "common/tls.h"

namespace syncwatch {
namespace {

// The distributions' bundles, in gRPC's order.
constexpr const char* kBundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",                            // openSUSE
    "/etc/pki/tls/cacert.pem",                           // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"  // CentOS, RHEL 7
};

// The certificates at the start of `pem` that OpenSSL reads (gRPC stops at
// the first one it cannot read, too).
size_t CountCertificates(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  size_t n = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++n;
  }
  BIO_free(bio);
  return n;
}

}  // namespace

absl::StatusOr<SystemRoots> ReadSystemRoots() {
  SystemRoots roots;
  const char* env = std::getenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH");
  if (env != nullptr && *env != '\0') {
    roots.file = env;
    roots.source = absl::StrCat(roots.file, " (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH)");
  } else {
    for (const char* bundle : kBundles) {
      struct stat st {};
      if (::stat(bundle, &st) == 0 && S_ISREG(st.st_mode)) {
        roots.file = roots.source = bundle;
        break;
      }
    }
    if (roots.file.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "system roots: no CA bundle found (looked for ", absl::StrJoin(kBundles, ", "),
          "; install the ca-certificates package, or set tls.ca)"));
    }
  }
  SYNCWATCH_ASSIGN_OR_RETURN(roots.pem, ReadPemFile(roots.file, "system roots"));
  roots.count = CountCertificates(roots.pem);
  if (roots.count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("system roots: ", roots.source, " holds no certificate"));
  }
  return roots;
}

}  // namespace syncwatch
