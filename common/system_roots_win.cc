// ReadSystemRoots (common/system_roots.h) on Windows: the local machine's ROOT
// certificate store, read with CryptoAPI.
//
// Which store: the local machine's ROOT (CERT_SYSTEM_STORE_LOCAL_MACHINE), not
// the current user's (CertOpenSystemStoreW(0, L"ROOT")). The local machine's
// ROOT is a logical store that gathers the roots an administrator installed
// (.Default), the ones Group Policy pushes from Computer Configuration
// (.GroupPolicy, HKLM\SOFTWARE\Policies\Microsoft\SystemCertificates\Root)
// and the enterprise CAs published in Active Directory (.Enterprise); only
// administrators can change it. The current user's store would be the profile
// of whoever runs the agent: for the service, the virtual account
// NT SERVICE\syncwatch-agent; in a console, the administrator, whose own
// user-added roots the service would not see. The machine's store gives the
// service and `--once` in a console the same roots.
//
// The roots are read once; gRPC gets them as its default roots
// (MakeChannelCredentials, common/tls.cc).
#include <windows.h>
// After windows.h:
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <wincrypt.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/system_roots.h"
#include "common/win_util.h"

namespace syncwatch {
namespace {

constexpr char kStoreName[] = "the Windows ROOT certificate store (local machine)";

// Appends the certificate `der` as PEM to `pem`; false when OpenSSL cannot
// read it (gRPC would stop loading roots at such a certificate).
bool AppendPem(const BYTE* der, DWORD size, std::string* pem) {
  const unsigned char* p = der;
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(size));
  if (cert == nullptr) return false;
  BIO* bio = BIO_new(BIO_s_mem());
  const bool ok = PEM_write_bio_X509(bio, cert) == 1;
  if (ok) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    pem->append(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  X509_free(cert);
  return ok;
}

}  // namespace

absl::StatusOr<SystemRoots> ReadSystemRoots() {
  HCERTSTORE store = ::CertOpenStore(
      CERT_STORE_PROV_SYSTEM_W, 0, 0,
      CERT_SYSTEM_STORE_LOCAL_MACHINE | CERT_STORE_OPEN_EXISTING_FLAG | CERT_STORE_READONLY_FLAG,
      L"ROOT");
  if (store == nullptr) {
    return absl::UnavailableError(absl::StrCat("system roots: cannot open ", kStoreName, ": ",
                                               win::ErrorText(::GetLastError())));
  }
  SystemRoots roots;
  roots.source = kStoreName;
  size_t unreadable = 0;
  PCCERT_CONTEXT cert = nullptr;
  while ((cert = ::CertEnumCertificatesInStore(store, cert)) != nullptr) {
    if (AppendPem(cert->pbCertEncoded, cert->cbCertEncoded, &roots.pem)) {
      ++roots.count;
    } else {
      ++unreadable;
    }
  }
  ::CertCloseStore(store, 0);
  if (roots.count == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "system roots: ", kStoreName, " holds no certificate",
        unreadable > 0 ? absl::StrCat(" OpenSSL can read (", unreadable, " it cannot)") : ""));
  }
  return roots;
}

}  // namespace syncwatch
