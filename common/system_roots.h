// The root certificates the operating system trusts, for a TLS client told to
// trust "the system" instead of a CA file (ClientTls::system_roots).
//   Windows (system_roots_win.cc): the certificates of the local machine's
//     ROOT store, read with CryptoAPI. That store is where Group Policy puts
//     the enterprise roots it distributes (Computer Configuration > Public
//     Key Policies > Trusted Root Certification Authorities) and where AD
//     publishes the enterprise CAs.
//   Elsewhere (system_roots_posix.cc): the CA bundle file gRPC itself would
//     use: $GRPC_DEFAULT_SSL_ROOTS_FILE_PATH when set, else the first of the
//     distributions' bundles that exists (/etc/ssl/certs/ca-certificates.crt
//     on Debian and Ubuntu, /etc/pki/tls/certs/ca-bundle.crt on RHEL, ...).
#ifndef SYNCWATCH_COMMON_SYSTEM_ROOTS_H_
#define SYNCWATCH_COMMON_SYSTEM_ROOTS_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace syncwatch {

struct SystemRoots {
  // Every certificate, PEM, one after the other.
  std::string pem;
  size_t count = 0;
  // Where they come from, for messages: the bundle's path, or the Windows
  // store's name.
  std::string source;
  // The bundle file (which a TLS client can watch for changes); empty when
  // the roots come from a store, not a file (Windows).
  std::string file;
};

// Reads the system's roots now. A store or bundle that cannot be read, or
// that holds no certificate OpenSSL can read, is an error naming it.
absl::StatusOr<SystemRoots> ReadSystemRoots();

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_SYSTEM_ROOTS_H_
