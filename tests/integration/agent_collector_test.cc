// The agent library against a real collector: gRPC over TCP on 127.0.0.1 and
// RocksDB in temp dirs, both in this process.
#include <grpcpp/create_channel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/collector_link.h"
#include "agent/spool.h"
#include "collector/collector_server.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncwatch/v1/query.grpc.pb.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;

class AgentCollectorTest : public ::testing::Test {
 protected:
  std::unique_ptr<collector::CollectorServer> StartCollector(
      const std::string& name, int port = 0, const ServerTls& tls = {},
      const collector::AgentLimits& limits = {}) {
    collector::CollectorOptions o;
    o.tls = tls;
    o.agent_limits = limits;
    o.data_dir = dir_.Sub(name);
    o.listen = "127.0.0.1:" + std::to_string(port);
    o.http_listen = "127.0.0.1:0";
    // The fixtures' runs date from 2023: past the default retention.
    o.retention.runs = o.retention.export_errors = o.retention.snapshots = absl::ZeroDuration();
    auto server = collector::CollectorServer::Start(o, RealClock::Get());
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  // Stops the collector whose store is "live", copies the store to "backup"
  // and starts it again on `port`.
  std::unique_ptr<collector::CollectorServer> BackUpAndRestart(
      std::unique_ptr<collector::CollectorServer> collector, int port) {
    collector.reset();
    std::filesystem::copy(dir_.Sub("live"), dir_.Sub("backup"),
                          std::filesystem::copy_options::recursive);
    return StartCollector("live", port);
  }

  agent::AgentOptions SampleAgent(const std::string& name, std::vector<int> ports) {
    agent::AgentOptions o;
    o.server = "sync01";
    o.agent_id = "sync01";
    o.tenant = "mcardletech.onmicrosoft.com";
    o.data_dir = dir_.Sub(name);
    o.collectors.clear();
    for (int p : ports) o.collectors.push_back("127.0.0.1:" + std::to_string(p));
    agent::SourceOptions xml;
    xml.name = "runs-xml";
    xml.format = agent::SourceFormat::kXml;
    xml.path = testing::SamplesDir() + "/mim-run-history-xml/*.xml";
    agent::SourceOptions json;
    json.name = "runs-json";
    json.format = agent::SourceFormat::kJson;
    json.path = testing::SamplesDir() + "/get-adsyncrunprofileresult-json/*.json";
    o.sources = {xml, json};
    return o;
  }

  static std::vector<v1::StoredRun> Runs(int port) {
    auto stub = v1::Query::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                       grpc::InsecureChannelCredentials()));
    std::vector<v1::StoredRun> out;
    v1::ListRunsRequest req;
    req.set_page_size(2);  // exercise paging
    do {
      grpc::ClientContext ctx;
      v1::ListRunsResponse resp;
      grpc::Status s = stub->ListRuns(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      out.insert(out.end(), resp.runs().begin(), resp.runs().end());
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(AgentCollectorTest, SamplesArriveAsTheEngineWroteThem) {
  auto collector = StartCollector("collector");
  auto agent = agent::Agent::Create(SampleAgent("agent", {collector->port()}), RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  agent::ScanReport report = (*agent)->ScanOnce();
  EXPECT_THAT(report.failures, ::testing::IsEmpty());
  EXPECT_EQ(report.files_read, 3);
  EXPECT_EQ(report.events_spooled, 6);
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));

  auto runs = Runs(collector->port());
  ASSERT_EQ(runs.size(), 6u);
  std::map<std::string, v1::RunProfileResult> by_key;
  for (const auto& r : runs) {
    EXPECT_EQ(r.server(), "sync01");
    EXPECT_EQ(r.tenant(), "mcardletech.onmicrosoft.com");
    by_key[r.run().connector_name() + "#" + std::to_string(r.run().run_number()) + "#" +
           r.run().run_profile_name()] = r.run();
  }
  const v1::RunProfileResult& export_run = by_key.at("garage.mcardletech.com#26147#Export");
  EXPECT_EQ(export_run.run_history_id(), "81d206e6-392a-4485-9834-4c241723332d");
  EXPECT_EQ(export_run.result(), "no-start-connection");
  EXPECT_EQ(FormatIso8601(FromProtoTimestamp(export_run.start_time())), "2022-04-08T04:10:53.843Z");
  EXPECT_EQ(FormatIso8601(FromProtoTimestamp(export_run.end_time())), "2022-04-08T04:11:14.963Z");
  const v1::RunProfileResult& import_run = by_key.at("MOSSAD-company#1879#DS_DELTAIMPORT");
  EXPECT_EQ(import_run.result(), "stopped-connectivity");
  EXPECT_EQ(import_run.connector_id(), "85098734-66bc-4938-8122-c5f585f463d0");
  ASSERT_EQ(import_run.steps_size(), 2);
  EXPECT_EQ(import_run.steps(1).connection_result(), "failed-search");

  // The export error inside the run history is listed on its own too.
  auto stub = v1::Query::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(collector->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::ListExportErrorsRequest req;
  v1::ListExportErrorsResponse resp;
  ASSERT_TRUE(stub->ListExportErrors(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_EQ(resp.errors(0).error().connector_name(), "MOSS-UserProfile");
  EXPECT_EQ(resp.errors(0).error().error_type(), "ma-extension-error");
  EXPECT_EQ(resp.errors(0).error().retry_count(), 77);
}

TEST_F(AgentCollectorTest, FilesAreReadOnceAndANewSpoolDoesNotDuplicateRuns) {
  auto collector = StartCollector("collector");
  {
    auto agent = agent::Agent::Create(SampleAgent("agent", {collector->port()}), RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    (*agent)->ScanOnce();
    SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  }
  {
    // Restarted on the same data dir: the files were read already.
    auto agent = agent::Agent::Create(SampleAgent("agent", {collector->port()}), RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    EXPECT_EQ((*agent)->ScanOnce().files_read, 0);
  }
  {
    // A wiped data dir (new spool epoch) sends everything again; natural keys
    // keep the collector from storing it twice.
    auto agent =
        agent::Agent::Create(SampleAgent("agent-wiped", {collector->port()}), RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    EXPECT_EQ((*agent)->ScanOnce().files_read, 3);
    SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  }
  EXPECT_EQ(Runs(collector->port()).size(), 6u);
}

TEST_F(AgentCollectorTest, SpoolsWhileTheCollectorIsDownAndDeliversWhenItIsBack) {
  const int port = testing::PickFreePort();
  auto agent = agent::Agent::Create(SampleAgent("agent", {port}), RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  EXPECT_EQ((*agent)->ScanOnce().events_spooled, 6);
  EXPECT_THAT((*agent)->WaitDelivered(absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("127.0.0.1:" + std::to_string(port))));
  auto collector = StartCollector("collector", port);
  ASSERT_NE(collector, nullptr);
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(60)));
  EXPECT_EQ(Runs(port).size(), 6u);
}

TEST_F(AgentCollectorTest, EveryCollectorGetsEveryEvent) {
  auto first = StartCollector("c1");
  auto second = StartCollector("c2");
  auto agent =
      agent::Agent::Create(SampleAgent("agent", {first->port(), second->port()}), RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  (*agent)->ScanOnce();
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  EXPECT_EQ(Runs(first->port()).size(), 6u);
  EXPECT_EQ(Runs(second->port()).size(), 6u);
}

TEST_F(AgentCollectorTest, ABrokenFileIsReportedAndTheOthersStillArrive) {
  auto collector = StartCollector("collector");
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  agent::SourceOptions extra;
  extra.name = "more-xml";
  extra.path = dir_.Sub("in/*.xml");
  o.sources.push_back(extra);
  testing::WriteFile(dir_.Sub("in/good.xml"), testing::RunHistoryXml("contoso.com", 1, 3));
  testing::WriteFile(dir_.Sub("in/truncated.xml"),
                     testing::RunHistoryXml("contoso.com", 10, 3).substr(0, 700));
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  agent::ScanReport report = (*agent)->ScanOnce();
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_THAT(report.failures[0], HasSubstr("truncated.xml"));
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  EXPECT_EQ(Runs(collector->port()).size(), 9u);  // 6 samples + 3 good, none of the truncated file
}

TEST_F(AgentCollectorTest, CommandSourceOutputIsParsedAndUnchangedOutputNotResent) {
  auto collector = StartCollector("collector");
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  agent::SourceOptions cmd;
  cmd.name = "runs-cmd";
  cmd.format = agent::SourceFormat::kJson;
  cmd.command = {"cat",
                 testing::SamplesDir() + "/get-adsyncrunprofileresult-json/TestRunHistory.json"};
  o.sources = {cmd};
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  agent::ScanReport first = (*agent)->ScanOnce();
  EXPECT_THAT(first.failures, ::testing::IsEmpty());
  EXPECT_EQ(first.events_spooled, 4);
  EXPECT_EQ((*agent)->ScanOnce().events_spooled, 0);  // same output: nothing new
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  EXPECT_EQ(Runs(collector->port()).size(), 4u);

  agent::AgentOptions failing = SampleAgent("agent2", {collector->port()});
  cmd.command = {"sh", "-c", "echo 'Get-ADSyncRunProfileResult : not recognized' >&2; exit 1"};
  failing.sources = {cmd};
  auto agent2 = agent::Agent::Create(failing, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent2);
  agent::ScanReport report = (*agent2)->ScanOnce();
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_THAT(report.failures[0],
              HasSubstr("exited with 1: Get-ADSyncRunProfileResult : not recognized"));
}

// issue 3: every source kind read from files as the Windows exporter writes
// them, and stored by the collector.
TEST_F(AgentCollectorTest, PendingDeletesExportErrorsAndSettingsArrive) {
  auto collector = StartCollector("collector");
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  const std::string in = dir_.Sub("in");
  const std::string testdata = std::string(SYNCWATCH_SOURCE_DIR) + "/agent/parsers/testdata";
  testing::WriteFile(in + "/pending/20240301T093012123Z_b891884f-051e-4a83-95af-2544101c9083_"
                          "fabrikam.onmicrosoft.com - AAD.xml",
                     testing::CsExportPendingXml("fabrikam.onmicrosoft.com - AAD", 2500, 40));
  testing::WriteFile(in + "/errors/errors.xml",
                     testing::ReadFileOrEmpty(testdata + "/csexport-errors.xml"));
  testing::WriteFile(in + "/settings/settings.json",
                     testing::ReadFileOrEmpty(testdata + "/settings-combined.json"));
  agent::SourceOptions pending;
  pending.name = "pending";
  pending.kind = agent::SourceKind::kPendingExports;
  pending.format = agent::SourceFormat::kCsexport;
  pending.path = in + "/pending/*.xml";
  agent::SourceOptions errors = pending;
  errors.name = "errors";
  errors.kind = agent::SourceKind::kExportErrors;
  errors.path = in + "/errors/*.xml";
  agent::SourceOptions settings;
  settings.name = "settings";
  settings.kind = agent::SourceKind::kSettings;
  settings.format = agent::SourceFormat::kJson;
  settings.path = in + "/settings/*.json";
  o.sources = {pending, errors, settings};
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  agent::ScanReport report = (*agent)->ScanOnce();
  EXPECT_THAT(report.failures, ::testing::IsEmpty());
  EXPECT_EQ(report.files_read, 3);
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(60)));

  auto stub = v1::Query::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(collector->port()), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    v1::ListPendingExportsResponse resp;
    ASSERT_TRUE(stub->ListPendingExports(&ctx, v1::ListPendingExportsRequest(), &resp).ok());
    ASSERT_EQ(resp.snapshots_size(), 1);
    const v1::PendingExportSnapshot& s = resp.snapshots(0).snapshot();
    EXPECT_EQ(s.connector_name(), "fabrikam.onmicrosoft.com - AAD");
    EXPECT_EQ(s.connector_id(), "b891884f-051e-4a83-95af-2544101c9083");
    EXPECT_EQ(s.pending_deletes(), 2500);
    EXPECT_EQ(s.pending_adds(), 40);
    ASSERT_EQ(s.deletes_size(), 2500);
    EXPECT_EQ(s.deletes(7).user_principal_name(), "user7@contoso.com");
    EXPECT_EQ(s.deletes(7).source_anchor(), "anchor7");
    EXPECT_EQ(s.deletes(7).display_name(), "User 7");
    EXPECT_FALSE(s.snapshot_id().empty());
    EXPECT_TRUE(s.has_taken_at());
  }
  {
    grpc::ClientContext ctx;
    v1::ListExportErrorsResponse resp;
    ASSERT_TRUE(stub->ListExportErrors(&ctx, v1::ListExportErrorsRequest(), &resp).ok());
    ASSERT_GT(resp.errors_size(), 0);
    bool conflict = false;
    for (const auto& e : resp.errors()) {
      EXPECT_FALSE(e.error().connector_name().empty());
      conflict = conflict || !e.error().conflict_attribute().empty();
    }
    EXPECT_TRUE(conflict) << "no export error carried its conflicting attribute";
  }
  {
    grpc::ClientContext ctx;
    v1::ListServersResponse resp;
    ASSERT_TRUE(stub->ListServers(&ctx, v1::ListServersRequest(), &resp).ok());
    ASSERT_EQ(resp.servers_size(), 1);
    EXPECT_TRUE(resp.servers(0).has_settings());
    EXPECT_TRUE(resp.servers(0).settings().deletion_threshold_known());
    EXPECT_GT(resp.servers(0).settings().deletion_threshold(), 0);
  }
}

TEST_F(AgentCollectorTest, DeliversOverTlsAndMutualTls) {
  ASSERT_TRUE(testing::MakeTestPki(dir_.path()));
  const std::string pki = dir_.path() + "/";
  ServerTls server_tls{pki + "server.pem", pki + "server.key", ""};
  auto collector = StartCollector("tls-collector", 0, server_tls);
  ASSERT_NE(collector, nullptr);
  agent::AgentOptions o = SampleAgent("tls-agent", {collector->port()});
  o.tls.ca = pki + "ca.pem";
  o.tls.server_name = "collector.test";
  {
    auto agent = agent::Agent::Create(o, RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    (*agent)->ScanOnce();
    SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  }
  collector.reset();

  // Mutual TLS: an agent without a client certificate gets nowhere...
  server_tls.client_ca = pki + "ca.pem";
  auto mtls = StartCollector("mtls-collector", 0, server_tls);
  ASSERT_NE(mtls, nullptr);
  agent::AgentOptions anonymous = SampleAgent("anonymous-agent", {mtls->port()});
  anonymous.tls = o.tls;
  {
    auto agent = agent::Agent::Create(anonymous, RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    (*agent)->ScanOnce();
    EXPECT_THAT((*agent)->WaitDelivered(absl::Seconds(2)),
                StatusIs(absl::StatusCode::kDeadlineExceeded));
  }
  // ...and one with a certificate from the CA delivers.
  agent::AgentOptions with_cert = SampleAgent("cert-agent", {mtls->port()});
  with_cert.tls = o.tls;
  with_cert.tls.cert = pki + "client.pem";
  with_cert.tls.key = pki + "client.key";
  auto agent = agent::Agent::Create(with_cert, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  (*agent)->ScanOnce();
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
}

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// tls.system_roots on Linux: the agent trusts the CA bundle gRPC would use,
// which GRPC_DEFAULT_SSL_ROOTS_FILE_PATH names (common/system_roots.h).
TEST_F(AgentCollectorTest, DeliversOverTlsTrustingTheSystemRoots) {
  ASSERT_TRUE(testing::MakeTestPki(dir_.path()));
  ASSERT_TRUE(testing::MakeTestCa(dir_.path(), "other-ca"));
  const std::string pki = dir_.path() + "/";
  auto collector =
      StartCollector("tls-collector", 0, ServerTls{pki + "server.pem", pki + "server.key", ""});
  ASSERT_NE(collector, nullptr);
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  o.tls.system_roots = true;
  o.tls.server_name = "collector.test";
  {
    // The system's roots lack the collector's CA: the handshake fails.
    ScopedEnv roots("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", pki + "other-ca.pem");
    auto agent = agent::Agent::Create(o, RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    EXPECT_EQ((*agent)->ScanOnce().events_spooled, 6);
    EXPECT_THAT((*agent)->WaitDelivered(absl::Seconds(2)),
                StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("handshake")));
    EXPECT_EQ(collector->ingest_stats().streams_total.load(), 0u);
  }
  ScopedEnv roots("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", pki + "ca.pem");
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
  EXPECT_GE(collector->writer_stats().batches_stored.load(), 1u);
}

TEST_F(AgentCollectorTest, MissingTlsFileIsAClearStartupError) {
  agent::AgentOptions o = SampleAgent("agent", {1});
  o.tls.ca = dir_.Sub("no-such-ca.pem");
  EXPECT_THAT(agent::Agent::Create(o, RealClock::Get()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no-such-ca.pem")));
}

// A fresh TLS connection to `port` trusting only `ca` (with the client
// certificate `pki`<client>.pem/.key if given); the status of a query.
grpc::Status QueryOverTls(int port, const std::string& ca, const std::string& client = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = testing::ReadFileOrEmpty(ca);
  if (!client.empty()) {
    ssl.pem_cert_chain = testing::ReadFileOrEmpty(client + ".pem");
    ssl.pem_private_key = testing::ReadFileOrEmpty(client + ".key");
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("collector.test");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // no connection from before
  auto stub = v1::Query::NewStub(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::SslCredentials(ssl), args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListServersResponse resp;
  return stub->ListServers(&ctx, v1::ListServersRequest(), &resp);
}

// Retries QueryOverTls until it succeeds or 20 s have passed (gRPC re-reads
// the files on its own schedule); its last status.
grpc::Status QueryOverTlsOnceReloaded(int port, const std::string& ca,
                                      const std::string& client = "") {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  grpc::Status status;
  do {
    status = QueryOverTls(port, ca, client);
  } while (!status.ok() && absl::Now() < deadline);
  return status;
}

// MakeTestPki, plus a second CA "ca2" and the collector's renewed
// certificate from it, server2.pem/.key, for the same names.
bool MakeRenewedTestPki(const std::string& dir) {
  return testing::MakeTestPki(dir) && testing::MakeTestCa(dir, "ca2") &&
         testing::MakeTestCert(dir, "ca2", "server2", "collector.test",
                               "DNS:collector.test,IP:127.0.0.1");
}

// Replaces `to` with a copy of `from` as an operator would: write aside, then
// rename over.
void ReplaceFile(const std::string& from, const std::string& to) {
  testing::WriteFile(to + ".new", testing::ReadFileOrEmpty(from));
  ASSERT_EQ(std::rename((to + ".new").c_str(), to.c_str()), 0);
}

// issue 6: an agent whose certificate names sync01 cannot write for sync02.
TEST_F(AgentCollectorTest, AgentCannotWriteForAServerItsCertificateDoesNotName) {
  ASSERT_TRUE(testing::MakeTestPki(dir_.path()));
  const std::string pki = dir_.path() + "/";
  auto mtls = StartCollector("mtls-collector", 0,
                             ServerTls{pki + "server.pem", pki + "server.key", pki + "ca.pem"});
  ASSERT_NE(mtls, nullptr);
  agent::AgentOptions forger = SampleAgent("forger", {mtls->port()});
  forger.server = forger.agent_id = "sync02";
  forger.tls.ca = pki + "ca.pem";
  forger.tls.server_name = "collector.test";
  forger.tls.cert = pki + "client.pem";  // names sync01
  forger.tls.key = pki + "client.key";
  auto agent = agent::Agent::Create(forger, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  EXPECT_EQ((*agent)->ScanOnce().events_spooled, 6);
  EXPECT_THAT((*agent)->WaitDelivered(absl::Seconds(2)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("not server sync02")));
  EXPECT_GE(mtls->ingest_stats().identity_rejections.load(), 1u);
  EXPECT_EQ(mtls->writer_stats().batches_stored.load(), 0u);
}

TEST_F(AgentCollectorTest, AgentRefusesACollectorCertificateForAnotherName) {
  ASSERT_TRUE(testing::MakeTestPki(dir_.path()));
  const std::string pki = dir_.path() + "/";
  auto collector =
      StartCollector("tls-collector", 0, ServerTls{pki + "server.pem", pki + "server.key", ""});
  ASSERT_NE(collector, nullptr);
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  o.tls.ca = pki + "ca.pem";
  o.tls.server_name = "impostor.test";  // the certificate names collector.test
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  (*agent)->ScanOnce();
  EXPECT_THAT((*agent)->WaitDelivered(absl::Seconds(2)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(collector->ingest_stats().streams_total.load(), 0u);
}

// issue 6: certificates are re-read without a restart.
TEST_F(AgentCollectorTest, CollectorPicksUpANewCertificateAndCaWithoutRestart) {
  const std::string pki = dir_.path() + "/";
  ASSERT_TRUE(MakeRenewedTestPki(dir_.path()));
  const std::string live = dir_.Sub("live") + "/";
  testing::WriteFile(live + "server.pem", testing::ReadFileOrEmpty(pki + "server.pem"));
  testing::WriteFile(live + "server.key", testing::ReadFileOrEmpty(pki + "server.key"));
  ServerTls tls{live + "server.pem", live + "server.key", ""};
  tls.reload_interval = absl::Seconds(1);
  auto collector = StartCollector("collector", 0, tls);
  ASSERT_NE(collector, nullptr);
  const int port = collector->port();
  ASSERT_TRUE(QueryOverTls(port, pki + "ca.pem").ok());
  EXPECT_FALSE(QueryOverTls(port, pki + "ca2.pem").ok());

  ReplaceFile(pki + "server2.key", live + "server.key");
  ReplaceFile(pki + "server2.pem", live + "server.pem");
  grpc::Status with_new_ca = QueryOverTlsOnceReloaded(port, pki + "ca2.pem");
  EXPECT_TRUE(with_new_ca.ok()) << with_new_ca.error_message();
  EXPECT_FALSE(QueryOverTls(port, pki + "ca.pem").ok());
}

TEST_F(AgentCollectorTest, CollectorPicksUpANewClientCaWithoutRestart) {
  const std::string pki = dir_.path() + "/";
  ASSERT_TRUE(testing::MakeTestPki(dir_.path()));
  ASSERT_TRUE(testing::MakeTestCa(dir_.path(), "agents2"));
  ASSERT_TRUE(testing::MakeTestCert(dir_.path(), "agents2", "sync01-2", "sync01", "DNS:sync01"));
  const std::string live = dir_.Sub("live") + "/";
  testing::WriteFile(live + "clients.pem", testing::ReadFileOrEmpty(pki + "ca.pem"));
  ServerTls tls{pki + "server.pem", pki + "server.key", live + "clients.pem"};
  tls.reload_interval = absl::Seconds(1);
  auto collector = StartCollector("collector", 0, tls);
  ASSERT_NE(collector, nullptr);
  const int port = collector->port();
  ASSERT_TRUE(QueryOverTls(port, pki + "ca.pem", pki + "client").ok());
  EXPECT_FALSE(QueryOverTls(port, pki + "ca.pem", pki + "sync01-2").ok());

  ReplaceFile(pki + "agents2.pem", live + "clients.pem");
  grpc::Status with_new_cert = QueryOverTlsOnceReloaded(port, pki + "ca.pem", pki + "sync01-2");
  EXPECT_TRUE(with_new_cert.ok()) << with_new_cert.error_message();
  EXPECT_FALSE(QueryOverTls(port, pki + "ca.pem", pki + "client").ok());
}

TEST_F(AgentCollectorTest, AgentPicksUpANewCaWithoutRestart) {
  const std::string pki = dir_.path() + "/";
  ASSERT_TRUE(MakeRenewedTestPki(dir_.path()));
  // The collector already has its renewed certificate; the agent still
  // trusts the old CA only.
  auto collector =
      StartCollector("collector", 0, ServerTls{pki + "server2.pem", pki + "server2.key", ""});
  ASSERT_NE(collector, nullptr);
  const std::string live = dir_.Sub("live") + "/";
  testing::WriteFile(live + "ca.pem", testing::ReadFileOrEmpty(pki + "ca.pem"));
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  o.tls.ca = live + "ca.pem";
  o.tls.server_name = "collector.test";
  o.tls.reload_interval = absl::Seconds(1);
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  (*agent)->ScanOnce();
  EXPECT_THAT((*agent)->WaitDelivered(absl::Seconds(2)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  ReplaceFile(pki + "ca2.pem", live + "ca.pem");
  SYNCWATCH_EXPECT_OK((*agent)->WaitDelivered(absl::Seconds(30)));
}

// issue 6: over its rate an agent is slowed down, and everything arrives.
TEST_F(AgentCollectorTest, ThrottledAgentStillDeliversEveryEvent) {
  collector::AgentLimits limits;
  limits.agent_events_per_second = 20;  // bursts of 40
  auto collector = StartCollector("collector", 0, {}, limits);
  ASSERT_NE(collector, nullptr);
  agent::AgentOptions o = SampleAgent("agent", {collector->port()});
  agent::SourceOptions extra;
  extra.name = "more-xml";
  extra.path = dir_.Sub("in/*.xml");
  o.sources.push_back(extra);
  testing::WriteFile(dir_.Sub("in/many.xml"), testing::RunHistoryXml("contoso.com", 1, 94));
  // 50 batches: far more than the burst and the agent's window of 8 batches
  // sent ahead, so that it has to wait.
  o.batch_max_events = 2;
  auto agent = agent::Agent::Create(o, RealClock::Get());
  SYNCWATCH_ASSERT_OK(agent);
  const absl::Time start = absl::Now();
  EXPECT_EQ((*agent)->ScanOnce().events_spooled, 100);
  SYNCWATCH_ASSERT_OK((*agent)->WaitDelivered(absl::Seconds(60)));
  // 100 events at 20/s after a burst of 40: about 3 s of pauses; the agent
  // can only overshoot by its window before the first Throttle reaches it.
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(Runs(collector->port()).size(), 100u);
  EXPECT_GE(collector->ingest_stats().throttles.load(), 2u);
}

// A link of agent sync01 delivering `spool` to `address`, started.
std::unique_ptr<agent::CollectorLink> StartLink(const std::string& address, agent::Spool& spool) {
  agent::LinkOptions o;
  o.address = address;
  o.hello.set_agent_id("sync01");
  o.hello.set_server("sync01");
  o.hello.set_tenant("contoso.onmicrosoft.com");
  o.hello.set_role(v1::SERVER_ROLE_ACTIVE);
  o.hello.set_agent_version("test");
  o.hello.set_spool_epoch(spool.epoch());
  o.initial_backoff = absl::Milliseconds(50);
  o.max_backoff = absl::Milliseconds(200);
  auto link = agent::CollectorLink::Create(o, spool);
  EXPECT_TRUE(link.ok()) << link.status();
  if (!link.ok()) return nullptr;
  (*link)->Start();
  return *std::move(link);
}

// Polls `done` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// `n` runs with ids "<prefix>-<i>".
std::vector<v1::Event> RunEvents(const std::string& prefix, int n) {
  std::vector<v1::Event> events;
  for (int i = 0; i < n; ++i) {
    v1::Event& e = events.emplace_back();
    e.set_source("runs");
    *e.mutable_observed_at() = ToProtoTimestamp(absl::FromUnixSeconds(1649391100));
    v1::RunProfileResult* r = e.mutable_run();
    r->set_run_history_id(absl::StrCat(prefix, "-", i));
    r->set_connector_name("contoso.com");
    r->set_run_profile_name("Delta Import");
    r->set_run_number(i + 1);
    r->set_result("success");
    *r->mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1649391000 + i));
  }
  return events;
}

// issue 16: a collector stores batches only in sequence, so one whose store
// lost batches it had acknowledged (restored from a backup) must get them
// again: the agent re-sends from the seq its Welcome says it holds, out of
// the spool, and what follows stays in sequence.
TEST_F(AgentCollectorTest, AgentResendsFromTheSeqACollectorRestoredFromABackupExpects) {
  const int port = testing::PickFreePort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto collector = StartCollector("live", port);
  ASSERT_NE(collector, nullptr);
  agent::Spool::Options spool_options;
  spool_options.batch_max_events = 2;
  // A second collector, away all along, keeps every batch in the spool.
  auto spool = agent::Spool::Open(dir_.Sub("spool"), {address, "127.0.0.1:1"}, spool_options);
  SYNCWATCH_ASSERT_OK(spool);
  auto link = StartLink(address, **spool);
  ASSERT_NE(link, nullptr);
  auto acked = [&spool, &address](uint64_t seq) {
    return Eventually([&] { return (*spool)->AckedSeq(address) == seq; }, absl::Seconds(30));
  };

  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("a", 2), std::nullopt));  // batch 1
  ASSERT_TRUE(acked(1));
  // The backup: the collector's store with batch 1.
  collector = BackUpAndRestart(std::move(collector), port);
  ASSERT_NE(collector, nullptr);
  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("b", 4), std::nullopt));  // batches 2, 3
  ASSERT_TRUE(acked(3));
  EXPECT_EQ(Runs(port).size(), 6u);

  // Restored from the backup, the collector holds batch 1 only.
  collector.reset();
  collector = StartCollector("backup", port);
  ASSERT_NE(collector, nullptr);
  EXPECT_TRUE(Eventually([&] { return Runs(port).size() == 6u; }, absl::Seconds(30)))
      << "the batches the restored collector lost were not sent again: " << Runs(port).size()
      << " runs";
  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("c", 2), std::nullopt));  // batch 4
  ASSERT_TRUE(acked(4));
  EXPECT_EQ(Runs(port).size(), 8u);
  // The agent never sent a batch out of sequence.
  EXPECT_EQ(collector->writer_stats().batches_out_of_order.load(), 0u);
  EXPECT_EQ(collector->writer_stats().batches_stored.load(), 3u);  // 2, 3, 4
  link->Stop();
}

// When a collector restored from a backup needs batches the spool deleted
// (every collector had acknowledged them), the agent's Hello states the first
// seq it still holds: the collector records the seqs between as lost and the
// agent delivers everything it still holds, in sequence.
TEST_F(AgentCollectorTest, AgentDeliversWhatItStillHoldsWhenTheSpoolLostWhatTheCollectorNeeds) {
  const int port = testing::PickFreePort();
  const int other_port = testing::PickFreePort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string other_address = "127.0.0.1:" + std::to_string(other_port);
  auto collector = StartCollector("live", port);
  ASSERT_NE(collector, nullptr);
  auto other = StartCollector("other", other_port);
  ASSERT_NE(other, nullptr);
  agent::Spool::Options spool_options;
  spool_options.batch_max_events = 2;
  auto spool = agent::Spool::Open(dir_.Sub("spool"), {address, other_address}, spool_options);
  SYNCWATCH_ASSERT_OK(spool);
  auto link = StartLink(address, **spool);
  ASSERT_NE(link, nullptr);
  auto other_link = StartLink(other_address, **spool);
  ASSERT_NE(other_link, nullptr);
  auto acked = [&spool](const std::string& collector_address, uint64_t seq) {
    return Eventually([&] { return (*spool)->AckedSeq(collector_address) == seq; },
                      absl::Seconds(30));
  };

  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("a", 2), std::nullopt));  // batch 1
  ASSERT_TRUE(acked(address, 1));
  // The backup: the collector's store with batch 1.
  collector = BackUpAndRestart(std::move(collector), port);
  ASSERT_NE(collector, nullptr);
  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("b", 4), std::nullopt));  // batches 2, 3
  ASSERT_TRUE(acked(address, 3));
  ASSERT_TRUE(acked(other_address, 3));
  // Both collectors have 1 to 3: the spool deleted them.
  ASSERT_TRUE(Eventually([&] { return (*spool)->FirstSeq() == 4; }, absl::Seconds(30)));
  // The other collector goes away, so the spool keeps what follows.
  other_link->Stop();
  other.reset();
  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("c", 4), std::nullopt));  // batches 4, 5
  ASSERT_TRUE(acked(address, 5));
  EXPECT_EQ((*spool)->FirstSeq(), 4u);

  // Restored from the backup, the collector holds batch 1 only and needs 2,
  // which no spool holds any more.
  collector.reset();
  ::testing::internal::CaptureStderr();
  collector = StartCollector("backup", port);
  ASSERT_NE(collector, nullptr);
  const bool delivered = Eventually([&] { return Runs(port).size() == 6u; }, absl::Seconds(30));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(delivered) << "the batches the spool still holds were not delivered: "
                         << Runs(port).size() << " runs; link: " << link->last_error();
  EXPECT_THAT(log, HasSubstr("agent sync01 (spool epoch \"" + (*spool)->epoch() +
                             "\") lost 2 batches, seqs 2 through 3"));
  EXPECT_EQ(collector->writer_stats().batches_lost.load(), 2u);
  // Runs a (batch 1, from the backup) and c (batches 4 and 5); b is lost.
  int a = 0, b = 0, c = 0;
  for (const v1::StoredRun& run : Runs(port)) {
    const std::string& id = run.run().run_history_id();
    a += absl::StartsWith(id, "a") ? 1 : 0;
    b += absl::StartsWith(id, "b") ? 1 : 0;
    c += absl::StartsWith(id, "c") ? 1 : 0;
  }
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(c, 4);
  // What follows is delivered in sequence.
  SYNCWATCH_ASSERT_OK((*spool)->Append(RunEvents("d", 2), std::nullopt));  // batch 6
  ASSERT_TRUE(acked(address, 6));
  EXPECT_EQ(Runs(port).size(), 8u);
  EXPECT_EQ(collector->writer_stats().batches_out_of_order.load(), 0u);
  EXPECT_EQ(collector->writer_stats().batches_stored.load(), 3u);  // 4, 5, 6
  link->Stop();
}

}  // namespace
}  // namespace syncwatch
