#include "collector/web/http_server.h"

#include <httplib.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(testing::MakeTestPki(dir_.path())); }

  ServerTls Tls(const std::string& cert, const std::string& key) const {
    ServerTls tls;
    tls.cert = dir_.Sub(cert);
    tls.key = dir_.Sub(key);
    return tls;
  }

  testing::TempDir dir_;
};

TEST_F(HttpsServerTest, ServesHttpsOnlyWithTheCertificate) {
  auto server = HttpServer::Start("127.0.0.1:0", HttpHandlers(), Tls("server.pem", "server.key"));
  SYNCWATCH_ASSERT_OK(server);
  EXPECT_STREQ((*server)->scheme(), "https");
  httplib::SSLClient https("127.0.0.1", (*server)->port());
  https.set_ca_cert_path(dir_.Sub("ca.pem"));
  https.enable_server_certificate_verification(true);
  auto health = https.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  // A client that does not trust the CA gets no answer.
  httplib::SSLClient untrusting("127.0.0.1", (*server)->port());
  untrusting.set_ca_cert_path(dir_.Sub("client.pem"));
  untrusting.enable_server_certificate_verification(true);
  EXPECT_FALSE(untrusting.Get("/healthz"));
  // Nor does plain HTTP.
  httplib::Client plain("127.0.0.1", (*server)->port());
  plain.set_read_timeout(5, 0);
  EXPECT_FALSE(plain.Get("/healthz"));
}

TEST_F(HttpsServerTest, WithoutACertificateItIsPlainHttp) {
  auto server = HttpServer::Start("127.0.0.1:0", HttpHandlers());
  SYNCWATCH_ASSERT_OK(server);
  EXPECT_STREQ((*server)->scheme(), "http");
  httplib::Client plain("127.0.0.1", (*server)->port());
  auto health = plain.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(HttpsServerTest, StartupErrorsNameTheFile) {
  EXPECT_THAT(HttpServer::Start("127.0.0.1:0", HttpHandlers(), Tls("missing.pem", "server.key")),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("tls cert: cannot open " + dir_.Sub("missing.pem") + ": ")));
  testing::WriteFile(dir_.Sub("empty.pem"), "-----BEGIN CERTIFICATE-----\nnonsense\n");
  EXPECT_THAT(
      HttpServer::Start("127.0.0.1:0", HttpHandlers(), Tls("empty.pem", "server.key")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tls cert " + dir_.Sub("empty.pem") + " holds no readable certificate")));
  EXPECT_THAT(
      HttpServer::Start("127.0.0.1:0", HttpHandlers(), Tls("server.pem", "server.pem")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tls key " + dir_.Sub("server.pem") + " holds no readable private key")));
  EXPECT_THAT(HttpServer::Start("127.0.0.1:0", HttpHandlers(), Tls("server.pem", "client.key")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tls key " + dir_.Sub("client.key") +
                                 " is not the key of tls cert " + dir_.Sub("server.pem"))));
}

}  // namespace
}  // namespace syncwatch::collector
