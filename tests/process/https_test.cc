// issue 16: the collector's HTTP port over TLS with the collector's own
// certificate, so that the fleet page, /api/v1 and /metrics can leave
// loopback. The real syncwatch-collector against curl, headless Chromium,
// promtool and Prometheus, all on 127.0.0.1; "off loopback" is the start-up
// refusal of plain HTTP on 0.0.0.0.
#include <grpcpp/security/credentials.h>
#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/ingest_client.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::CommandResult;
using ::syncwatch::testing::Subprocess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCurl[] = "/usr/bin/curl";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
// What Prometheus 2.x asks a target for.
constexpr char kPrometheusAccept[] =
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = dir_.Sub("pki");
    std::filesystem::create_directories(pki_);
    ASSERT_TRUE(testing::MakeTestPki(pki_));
    port_ = testing::PickFreePort();
  }

  // Starts the collector with the test PKI's server certificate (re-read
  // every second) and `tls_extra` in its tls: block, `yaml` added to its
  // config, and the HTTP port on 127.0.0.1; waits until it listens.
  void StartCollector(const std::string& tls_extra, const std::string& yaml) {
    const std::string config = dir_.Sub("collector.yaml");
    testing::WriteFile(config,
                       absl::StrCat("tls: {cert: ", pki_, "/server.pem, key: ", pki_,
                                    "/server.key, reload_interval: 1s", tls_extra, "}\n", yaml));
    const std::string out = dir_.Sub("collector.out");
    auto p =
        Subprocess::Start({SYNCWATCH_COLLECTOR_BIN, "--config", config, "--data_dir",
                           dir_.Sub("data"), "--listen", Address(), "--http-listen", "127.0.0.1:0"},
                          out, dir_.Sub("collector.err"));
    ASSERT_TRUE(p.ok()) << p.status();
    collector_.emplace(*std::move(p));
    auto content = testing::WaitForFileContaining(out, "http on port", absl::Seconds(30));
    ASSERT_TRUE(content) << testing::ReadFileOrEmpty(dir_.Sub("collector.err"));
    http_port_ = std::stoi(content->substr(content->find("http on port ") + 13));
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string Url(const std::string& scheme, const std::string& path) const {
    return absl::StrCat(scheme, "://127.0.0.1:", http_port_, path);
  }

  // Sends one run of sync01 over the gRPC port (TLS with the same
  // certificate; the client certificate for sync01 when `mutual`).
  void SendRun(bool mutual) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = testing::ReadFileOrEmpty(pki_ + "/ca.pem");
    if (mutual) {
      ssl.pem_cert_chain = testing::ReadFileOrEmpty(pki_ + "/client.pem");
      ssl.pem_private_key = testing::ReadFileOrEmpty(pki_ + "/client.key");
    }
    v1::Hello hello;
    hello.set_agent_id("agent-sync01");
    hello.set_server("sync01");
    hello.set_tenant("contoso.onmicrosoft.com");
    hello.set_role(v1::SERVER_ROLE_ACTIVE);
    hello.set_agent_version("https-test");
    hello.set_spool_epoch("epoch-1");
    v1::Event e;
    const absl::Time now = absl::Now();
    *e.mutable_observed_at() = ToProtoTimestamp(now);
    v1::RunProfileResult* r = e.mutable_run();
    r->set_run_history_id("contoso.com-1");
    r->set_connector_name("contoso.com");
    r->set_run_profile_name("Delta Import");
    r->set_run_number(1);
    r->set_result("success");
    r->set_is_run_complete(true);
    *r->mutable_start_time() = ToProtoTimestamp(now - absl::Minutes(3));
    *r->mutable_end_time() = ToProtoTimestamp(now - absl::Minutes(2));
    r->add_steps()->set_step_type("delta-import");
    SYNCWATCH_ASSERT_OK(testing::SendBatch(Address(), grpc::SslCredentials(ssl), hello, {e}));
  }

  // Runs `argv`; its output is kept in the test's directory.
  CommandResult Run(const std::vector<std::string>& argv) {
    ++runs_;
    return testing::RunCommand(argv, dir_.path(), absl::StrCat("run-", runs_));
  }

  // curl -sS with `args`; "--cacert CA" is the caller's to add.
  CommandResult Curl(std::vector<std::string> args) {
    args.insert(args.begin(), {kCurl, "-sS", "--max-time", "20"});
    return Run(args);
  }

  // The subject and serial of the certificate the HTTPS port presents now, as
  // `openssl x509 -noout -subject -serial` prints them.
  std::string ServedCertificate() {
    return Run({"/bin/sh", "-c",
                absl::StrCat("openssl s_client -connect 127.0.0.1:", http_port_,
                             " </dev/null 2>/dev/null | openssl x509 -noout -subject -serial")})
        .out;
  }

  std::string CertificateOf(const std::string& pem) {
    return Run({"/usr/bin/openssl", "x509", "-noout", "-subject", "-serial", "-in", pem}).out;
  }

  testing::TempDir dir_;
  std::string pki_;
  int port_ = 0;
  int http_port_ = 0;
  int runs_ = 0;
  std::optional<Subprocess> collector_;
};

// curl trusting the collector's CA reads the pages, the API and /metrics over
// HTTPS, by IP address and by the certificate's DNS name; the tokens still
// guard the pages. The gRPC port's mutual TLS does not extend to the HTTP
// port: browsers and curl present no client certificate. Without the CA, or
// for another name, curl refuses the certificate, and plain HTTP gets no
// answer from the port.
TEST_F(HttpsTest, CurlWithTheCaReadsPagesApiAndMetricsAndPlainHttpGetsNothing) {
  testing::WriteFile(dir_.Sub("tokens"), absl::StrCat(kToken, " read ops\n"));
  ASSERT_NO_FATAL_FAILURE(
      StartCollector(absl::StrCat(", client_ca: ", pki_, "/ca.pem"),
                     absl::StrCat("auth: {tokens_file: ", dir_.Sub("tokens"), "}\n")));
  ASSERT_NO_FATAL_FAILURE(SendRun(/*mutual=*/true));
  const std::string ca = pki_ + "/ca.pem";
  const std::string bearer = absl::StrCat("Authorization: Bearer ", kToken);

  CommandResult health = Curl({"--cacert", ca, Url("https", "/healthz")});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "ok\n");

  CommandResult fleet = Curl({"--cacert", ca, "-H", bearer, Url("https", "/api/v1/fleet")});
  ASSERT_EQ(fleet.exit_code, 0) << fleet.err;
  const nlohmann::json summary = nlohmann::json::parse(fleet.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << fleet.out;
  ASSERT_EQ(summary["server_list"].size(), 1u) << fleet.out;
  EXPECT_EQ(summary["server_list"][0]["server"], "sync01");

  CommandResult page = Curl({"--cacert", ca, "-H", bearer, Url("https", "/")});
  EXPECT_EQ(page.exit_code, 0) << page.err;
  EXPECT_THAT(page.out, HasSubstr("data-server=\"sync01\""));

  // By the DNS name in the certificate, as an ops team would browse to it.
  CommandResult by_name =
      Curl({"--cacert", ca, "--resolve", absl::StrCat("collector.test:", http_port_, ":127.0.0.1"),
            "-H", bearer, absl::StrCat("https://collector.test:", http_port_, "/servers/sync01")});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_THAT(by_name.out, HasSubstr("data-server=\"sync01\""));

  // Over TLS the token is still needed for the pages; /metrics stays open.
  CommandResult no_token =
      Curl({"--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", Url("https", "/")});
  EXPECT_EQ(no_token.out, "401");
  CommandResult metrics = Curl({"--cacert", ca, Url("https", "/metrics")});
  EXPECT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_THAT(metrics.out, HasSubstr("syncwatch_ingest_events_stored_total 1\n"));

  // Without the CA the certificate is not trusted (curl's exit code 60), nor
  // for a name it does not carry.
  CommandResult untrusted = Curl({Url("https", "/healthz")});
  EXPECT_EQ(untrusted.exit_code, 60) << untrusted.err;
  CommandResult wrong_name =
      Curl({"--cacert", ca, "--resolve", absl::StrCat("impostor.test:", http_port_, ":127.0.0.1"),
            absl::StrCat("https://impostor.test:", http_port_, "/healthz")});
  EXPECT_EQ(wrong_name.exit_code, 60) << wrong_name.err;
  // Plain HTTP on the HTTPS port gets no HTTP answer at all.
  CommandResult plain = Curl({"-H", bearer, Url("http", "/api/v1/fleet")});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_THAT(plain.out, Not(HasSubstr("sync01")));
  EXPECT_THAT(testing::ReadFileOrEmpty(dir_.Sub("collector.err")),
              HasSubstr(absl::StrCat("https on 127.0.0.1:0 (port ", http_port_, ")")));
}

// Headless Chromium loads the fleet page over HTTPS trusting only the
// collector's key (its SPKI hash), and shows the fleet; without that it
// shows no fleet.
TEST_F(HttpsTest, ChromiumShowsTheFleetPageOverHttps) {
  if (!std::filesystem::exists(testing::kChromiumPath)) {
    GTEST_SKIP() << testing::kChromiumPath << " is missing (scripts/deps.txt: chromium)";
  }
  ASSERT_NO_FATAL_FAILURE(StartCollector("", ""));
  ASSERT_NO_FATAL_FAILURE(SendRun(/*mutual=*/false));
  const CommandResult spki =
      Run({"/bin/sh", "-c",
           absl::StrCat("openssl x509 -in ", pki_,
                        "/server.pem -pubkey -noout | openssl pkey -pubin -outform der | "
                        "openssl dgst -sha256 -binary | base64")});
  ASSERT_EQ(spki.exit_code, 0) << spki.err;
  const std::string hash = std::string(absl::StripTrailingAsciiWhitespace(spki.out));
  ASSERT_EQ(hash.size(), 44u) << spki.out;

  const CommandResult trusted = Run(testing::HeadlessChromium(
      dir_.Sub("profile-trusted"), {"--ignore-certificate-errors-spki-list=" + hash, "--dump-dom"},
      Url("https", "/")));
  ASSERT_EQ(trusted.exit_code, 0) << trusted.err;
  const size_t table = trusted.out.find("<table id=\"fleet\">");
  ASSERT_NE(table, std::string::npos) << trusted.out;
  EXPECT_THAT(trusted.out.substr(table), HasSubstr("data-server=\"sync01\""));

  const CommandResult untrusted = Run(
      testing::HeadlessChromium(dir_.Sub("profile-untrusted"), {"--dump-dom"}, Url("https", "/")));
  EXPECT_THAT(untrusted.out, Not(HasSubstr("data-server=\"sync01\"")));
}

// A Prometheus-style scrape: /metrics over HTTPS with the CA and the Accept
// header Prometheus sends gets the text format, which promtool accepts; and
// the real Prometheus (`scheme: https`, `tls_config: {ca_file}`) scrapes it,
// while a plain-HTTP job against the same port is down.
TEST_F(HttpsTest, PrometheusScrapesMetricsOverHttps) {
  ASSERT_NO_FATAL_FAILURE(StartCollector("", ""));
  ASSERT_NO_FATAL_FAILURE(SendRun(/*mutual=*/false));
  const std::string ca = pki_ + "/ca.pem";
  const CommandResult scrape = Curl({"--cacert", ca, "-H", kPrometheusAccept, "-D",
                                     dir_.Sub("headers"), Url("https", "/metrics")});
  ASSERT_EQ(scrape.exit_code, 0) << scrape.err;
  EXPECT_THAT(testing::ReadFileOrEmpty(dir_.Sub("headers")),
              HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(scrape.out, HasSubstr("syncwatch_ingest_events_stored_total 1\n"));

  if (!std::filesystem::exists("/usr/bin/promtool") ||
      !std::filesystem::exists("/usr/bin/prometheus")) {
    GTEST_SKIP() << "promtool and prometheus (Debian package prometheus) are not installed; "
                    "scripts/setup installs them";
  }
  testing::WriteFile(dir_.Sub("metrics.txt"), scrape.out);
  const CommandResult check =
      Run({"/bin/sh", "-c", "exec /usr/bin/promtool check metrics < " + dir_.Sub("metrics.txt")});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "");

  const int prometheus_port = testing::PickFreePort();
  const std::string target = absl::StrCat("127.0.0.1:", http_port_);
  testing::WriteFile(
      dir_.Sub("prometheus.yml"),
      absl::StrCat("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                   "scrape_configs:\n"
                   "  - job_name: syncwatch\n    scheme: https\n    tls_config: {ca_file: ",
                   ca, "}\n    static_configs: [{targets: ['", target,
                   "']}]\n"
                   "  - job_name: plain\n    scheme: http\n    static_configs: [{targets: ['",
                   target, "']}]\n"));
  auto prometheus =
      Subprocess::Start({"/usr/bin/prometheus", "--config.file=" + dir_.Sub("prometheus.yml"),
                         "--storage.tsdb.path=" + dir_.Sub("prometheus-data"),
                         absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port)},
                        dir_.Sub("prometheus.out"), dir_.Sub("prometheus.err"));
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  httplib::Client api("127.0.0.1", prometheus_port);
  std::string healths;
  nlohmann::json targets;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (healths != "plain=down syncwatch=up " && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(500));
    auto res = api.Get("/api/v1/targets");
    if (!res || res->status != 200) continue;
    targets = nlohmann::json::parse(res->body, nullptr, false);
    if (targets.is_discarded()) continue;
    std::map<std::string, std::string> by_job;
    for (const auto& t : targets["data"]["activeTargets"]) {
      by_job[t["labels"]["job"].get<std::string>()] = t["health"].get<std::string>();
    }
    healths.clear();
    for (const auto& [job, health] : by_job) absl::StrAppend(&healths, job, "=", health, " ");
  }
  ASSERT_EQ(healths, "plain=down syncwatch=up ")
      << targets.dump(2) << testing::ReadFileOrEmpty(dir_.Sub("prometheus.err"));
  auto query = api.Get("/api/v1/query?query=syncwatch_ingest_events_stored_total");
  ASSERT_TRUE(query && query->status == 200);
  const nlohmann::json result = nlohmann::json::parse(query->body, nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << query->body;
  ASSERT_EQ(result["data"]["result"].size(), 1u) << query->body;
  EXPECT_EQ(result["data"]["result"][0]["value"][1], "1") << query->body;
}

// A certificate replaced on disk (another CA, another name) is served after
// the reload interval, without a restart: its subject and serial come back
// from a handshake, curl trusts it with the new CA and no longer with the old.
TEST_F(HttpsTest, ACertificateReplacedOnDiskIsServedAfterTheReloadInterval) {
  ASSERT_NO_FATAL_FAILURE(StartCollector("", ""));
  const std::string first = CertificateOf(pki_ + "/server.pem");
  ASSERT_THAT(first, HasSubstr("CN = collector.test"));
  EXPECT_EQ(ServedCertificate(), first);

  ASSERT_TRUE(testing::MakeTestCa(pki_, "ca2"));
  ASSERT_TRUE(testing::MakeTestCert(pki_, "ca2", "server2", "collector2.test",
                                    "DNS:collector2.test,IP:127.0.0.1"));
  const std::string second = CertificateOf(pki_ + "/server2.pem");
  ASSERT_THAT(second, HasSubstr("CN = collector2.test"));
  // Atomically, as SECURITY.md says: each file renamed over the old one.
  std::filesystem::rename(pki_ + "/server2.key", pki_ + "/server.key");
  std::filesystem::rename(pki_ + "/server2.pem", pki_ + "/server.pem");

  std::string served;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while ((served = ServedCertificate()) != second && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(served, second);
  CommandResult new_ca = Curl({"--cacert", pki_ + "/ca2.pem", Url("https", "/healthz")});
  EXPECT_EQ(new_ca.exit_code, 0) << new_ca.err;
  EXPECT_EQ(new_ca.out, "ok\n");
  CommandResult old_ca = Curl({"--cacert", pki_ + "/ca.pem", Url("https", "/healthz")});
  EXPECT_EQ(old_ca.exit_code, 60) << old_ca.err;
  EXPECT_THAT(testing::ReadFileOrEmpty(dir_.Sub("collector.err")),
              HasSubstr("HTTPS: new certificate /CN=collector2.test"));
  EXPECT_TRUE(collector_->running());
}

// Off loopback, plain HTTP (or HTTPS without tokens) stops start-up with an
// error naming the setting and the flags; nothing listens.
TEST_F(HttpsTest, PlainHttpOffLoopbackIsRefusedAtStartup) {
  const CommandResult plain = Run({SYNCWATCH_COLLECTOR_BIN, "--data_dir", dir_.Sub("data"),
                                   "--listen", Address(), "--http-listen", "0.0.0.0:0"});
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_THAT(plain.err, HasSubstr("http_listen: 0.0.0.0:0 is not a loopback address and the "
                                   "HTTP port would be plain HTTP"));
  EXPECT_THAT(plain.err, HasSubstr("--tls_cert"));
  EXPECT_THAT(plain.err, HasSubstr("--insecure"));

  const CommandResult no_tokens =
      Run({SYNCWATCH_COLLECTOR_BIN, "--data_dir", dir_.Sub("data"), "--listen", Address(),
           "--http-listen", "0.0.0.0:0", "--tls_cert", pki_ + "/server.pem", "--tls_key",
           pki_ + "/server.key"});
  EXPECT_EQ(no_tokens.exit_code, 2);
  EXPECT_THAT(no_tokens.err, HasSubstr("has no access control. Configure auth.tokens_file"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data"))) << "it got as far as opening the store";
}

}  // namespace
}  // namespace syncwatch
