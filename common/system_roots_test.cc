#include "common/system_roots.h"

#ifdef _WIN32
#include <windows.h>
// After windows.h:
#include <wincrypt.h>
#endif
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "common/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch {
namespace {

using ::testing::HasSubstr;

// A fresh self-signed CA certificate (P-256, valid for two days) as PEM and
// DER, made with OpenSSL's API (the Wine tests have no openssl command).
struct TestCa {
  std::string pem;
  std::string der;
};

TestCa MakeTestCa(const std::string& cn) {
  TestCa ca;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::random_device{}() >> 1));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 2 * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(cert, key, EVP_sha256()) > 0) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    ca.pem.assign(data, static_cast<size_t>(len));
    BIO_free(bio);
    unsigned char* der = nullptr;
    const int der_len = i2d_X509(cert, &der);
    if (der_len > 0) ca.der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
    OPENSSL_free(der);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ca;
}

TEST(MakeTestCa, MakesACertificate) {
  const TestCa ca = MakeTestCa("syncwatch-test");
  EXPECT_THAT(ca.pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_GT(ca.der.size(), 100u);
}

// Sets GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (unset for nullptr) for the life of
// the object.
class RootsFileVariable {
 public:
  explicit RootsFileVariable(const char* value) {
    const char* old = std::getenv(kName);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    Set(value);
  }
  ~RootsFileVariable() { Set(had_ ? old_.c_str() : nullptr); }

 private:
  static void Set(const char* value) {
#ifdef _WIN32
    _putenv_s(kName, value == nullptr ? "" : value);  // "" unsets
#else
    if (value == nullptr) {
      ::unsetenv(kName);
    } else {
      ::setenv(kName, value, 1);
    }
#endif
  }
  static constexpr const char* kName = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH";
  std::string old_;
  bool had_ = false;
};

TEST(SystemRootsCredentials, ExcludeACaFile) {
  ClientTls tls;
  tls.ca = "ca.pem";
  tls.system_roots = true;
  grpc::ChannelArguments args;
  auto credentials = MakeChannelCredentials(tls, &args);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(credentials.status().message()),
              HasSubstr("ca and system_roots exclude each other"));
}

#ifdef _WIN32

// gRPC would prefer the variable's file to the store it is given.
TEST(SystemRootsCredentials, RefuseGrpcsRootsFileVariable) {
  ClientTls tls;
  tls.system_roots = true;
  grpc::ChannelArguments args;
  {
    RootsFileVariable env("C:\\roots.pem");
    auto credentials = MakeChannelCredentials(tls, &args);
    EXPECT_EQ(credentials.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(credentials.status().message()),
                HasSubstr("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set (C:\\roots.pem), so gRPC would "
                          "trust that file instead of the Windows ROOT certificate store"));
  }
  RootsFileVariable env(nullptr);
  auto credentials = MakeChannelCredentials(tls, &args);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

// Adds a certificate to the local machine's ROOT store for the life of the
// object (as an administrator, or Group Policy, would).
class RootStoreEntry {
 public:
  explicit RootStoreEntry(const std::string& der) : der_(der) {
    HCERTSTORE store = Open();
    if (store == nullptr) return;
    added_ = ::CertAddEncodedCertificateToStore(
                 store, X509_ASN_ENCODING, reinterpret_cast<const BYTE*>(der_.data()),
                 static_cast<DWORD>(der_.size()), CERT_STORE_ADD_REPLACE_EXISTING, nullptr) != 0;
    ::CertCloseStore(store, 0);
  }
  ~RootStoreEntry() {
    if (added_) {
      EXPECT_TRUE(Remove());
    }
  }
  bool added() const { return added_; }
  bool Remove() {
    HCERTSTORE store = Open();
    if (store == nullptr) return false;
    PCCERT_CONTEXT want = ::CertCreateCertificateContext(X509_ASN_ENCODING,
                                                         reinterpret_cast<const BYTE*>(der_.data()),
                                                         static_cast<DWORD>(der_.size()));
    PCCERT_CONTEXT found = ::CertFindCertificateInStore(store, X509_ASN_ENCODING, 0,
                                                        CERT_FIND_EXISTING, want, nullptr);
    // Commit: Wine 8 writes a deletion to the registry only then (its
    // collection store keeps the deleted context's store open).
    const bool removed = found != nullptr && ::CertDeleteCertificateFromStore(found) != 0 &&
                         ::CertControlStore(store, 0, CERT_STORE_CTRL_COMMIT, nullptr) != 0;
    ::CertFreeCertificateContext(want);
    ::CertCloseStore(store, 0);
    added_ = added_ && !removed;
    return removed;
  }

 private:
  static HCERTSTORE Open() {
    return ::CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE,
                           L"ROOT");
  }
  std::string der_;
  bool added_ = false;
};

TEST(SystemRoots, AreTheLocalMachineRootStore) {
  const TestCa ca = MakeTestCa("syncwatch-test-enterprise-root");
  ASSERT_FALSE(ca.der.empty());
  auto before = ReadSystemRoots();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_THAT(before->source, HasSubstr("Windows ROOT certificate store (local machine)"));
  EXPECT_TRUE(before->file.empty());
  EXPECT_FALSE(absl::StrContains(before->pem, ca.pem));

  RootStoreEntry entry(ca.der);
  ASSERT_TRUE(entry.added()) << "CertAddEncodedCertificateToStore: " << ::GetLastError();
  auto with = ReadSystemRoots();
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(absl::StrContains(with->pem, ca.pem))
      << "the added root is not among the " << with->count << " read";
  EXPECT_EQ(with->count, before->count + 1);

  ASSERT_TRUE(entry.Remove());
  auto after = ReadSystemRoots();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(absl::StrContains(after->pem, ca.pem)) << "the removed root is still read";
  EXPECT_EQ(after->count, before->count);
}

#else  // !_WIN32

std::string WriteTempFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/system_roots_test_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(SystemRoots, AreTheBundleGrpcWouldUse) {
  const TestCa a = MakeTestCa("syncwatch-test-a");
  const TestCa b = MakeTestCa("syncwatch-test-b");
  const std::string bundle = WriteTempFile("bundle.pem", a.pem + b.pem);
  RootsFileVariable env(bundle.c_str());
  auto roots = ReadSystemRoots();
  ASSERT_TRUE(roots.ok()) << roots.status();
  EXPECT_EQ(roots->file, bundle);
  EXPECT_THAT(roots->source, HasSubstr("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"));
  EXPECT_EQ(roots->count, 2u);
  EXPECT_THAT(roots->pem, HasSubstr(a.pem));
  EXPECT_THAT(roots->pem, HasSubstr(b.pem));
}

TEST(SystemRoots, WithoutTheVariableAreTheDistributionsBundle) {
  RootsFileVariable env(nullptr);
  auto roots = ReadSystemRoots();
  ASSERT_TRUE(roots.ok()) << roots.status();  // Debian: ca-certificates (scripts/deps.txt)
  EXPECT_EQ(roots->file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_GT(roots->count, 10u);
}

TEST(SystemRoots, AnUnreadableOrEmptyBundleIsAnErrorNamingIt) {
  const std::string missing = ::testing::TempDir() + "/system_roots_test_no-such-bundle.pem";
  {
    RootsFileVariable env(missing.c_str());
    auto roots = ReadSystemRoots();
    EXPECT_EQ(roots.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(roots.status().message()), HasSubstr(missing));
  }
  const std::string empty = WriteTempFile(
      "empty.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  {
    RootsFileVariable env(empty.c_str());
    auto roots = ReadSystemRoots();
    EXPECT_EQ(roots.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(roots.status().message()),
                HasSubstr(empty + " (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) holds no certificate"));
  }
}

TEST(SystemRootsCredentials, NameTheBundleThatCannotBeRead) {
  const std::string missing = ::testing::TempDir() + "/system_roots_test_no-such-bundle.pem";
  RootsFileVariable env(missing.c_str());
  ClientTls tls;
  tls.system_roots = true;
  grpc::ChannelArguments args;
  auto credentials = MakeChannelCredentials(tls, &args);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(credentials.status().message()),
              HasSubstr("system roots: cannot open " + missing + ": "));
}

#endif  // _WIN32

}  // namespace
}  // namespace syncwatch
