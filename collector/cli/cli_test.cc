#include "collector/cli/cli.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "syncwatch/v1/admin.grpc.pb.h"
#include "syncwatch/v1/query.grpc.pb.h"
#include "tests/testutil/grpc_server.h"

namespace syncwatch::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// A collector double: answers every list call with two pages ("" -> "page-2"
// -> end) and remembers the requests. Thread-safe (gRPC's sync server calls it
// from its own threads).
class FakeQueryService final : public v1::Query::Service {
 public:
  // When not OK, every call fails with this status.
  void FailWith(grpc::Status status) {
    MutexLock lock(&mu_);
    failure_ = std::move(status);
  }
  // When set, every page says there is one more page with the same token.
  void RepeatTokenForever() {
    MutexLock lock(&mu_);
    repeat_token_ = true;
  }

  std::vector<v1::ListRunsRequest> runs_requests() {
    MutexLock lock(&mu_);
    return runs_requests_;
  }
  std::vector<v1::ListExportErrorsRequest> errors_requests() {
    MutexLock lock(&mu_);
    return errors_requests_;
  }
  std::vector<v1::ListAlertsRequest> alerts_requests() {
    MutexLock lock(&mu_);
    return alerts_requests_;
  }

  std::vector<v1::FleetSummaryRequest> fleet_requests() {
    MutexLock lock(&mu_);
    return fleet_requests_;
  }

  // v1::Query::Service
  grpc::Status FleetSummary(grpc::ServerContext*, const v1::FleetSummaryRequest* request,
                            v1::FleetSummaryResponse* response) override {
    MutexLock lock(&mu_);
    fleet_requests_.push_back(*request);
    if (!failure_.ok()) return failure_;
    response->set_servers(2);
    response->set_critical(1);
    response->set_ok(1);
    v1::ServerInfo& bad = *response->add_server_list();
    bad.set_server("sync02");
    bad.set_health(v1::HEALTH_CRITICAL);
    bad.set_pending_deletes(612);
    bad.set_deletion_threshold(500);
    bad.set_deletion_threshold_enabled(true);
    v1::ServerInfo& good = *response->add_server_list();
    good.set_server("sync01");
    good.set_health(v1::HEALTH_OK);
    return grpc::Status::OK;
  }

  grpc::Status ListServers(grpc::ServerContext*, const v1::ListServersRequest* request,
                           v1::ListServersResponse* response) override {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    v1::ServerInfo& server = *response->add_servers();
    server.set_server(request->page_token().empty() ? "sync01" : "sync02");
    server.set_role(v1::SERVER_ROLE_ACTIVE);
    SetToken(request->page_token(), response->mutable_next_page_token());
    return grpc::Status::OK;
  }

  grpc::Status ListRuns(grpc::ServerContext*, const v1::ListRunsRequest* request,
                        v1::ListRunsResponse* response) override {
    MutexLock lock(&mu_);
    runs_requests_.push_back(*request);
    if (!failure_.ok()) return failure_;
    const bool first = request->page_token().empty();
    for (int i = 0; i < (first ? 2 : 1); ++i) {
      v1::StoredRun& run = *response->add_runs();
      run.set_server("sync01");
      run.mutable_run()->set_connector_name("contoso.com");
      run.mutable_run()->set_run_profile_name("Delta Import");
      run.mutable_run()->set_run_number(first ? 100 + i : 200);
      run.mutable_run()->set_result("success");
    }
    SetToken(request->page_token(), response->mutable_next_page_token());
    return grpc::Status::OK;
  }

  grpc::Status ListPendingExports(grpc::ServerContext*,
                                  const v1::ListPendingExportsRequest* request,
                                  v1::ListPendingExportsResponse* response) override {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    v1::StoredPendingExports& stored = *response->add_snapshots();
    stored.set_server(request->page_token().empty() ? "sync01" : "sync02");
    stored.mutable_snapshot()->set_connector_name("contoso.onmicrosoft.com - AAD");
    stored.mutable_snapshot()->set_pending_deletes(1);
    stored.mutable_snapshot()->add_deletes()->set_dn("CN=Doe\\, John");
    SetToken(request->page_token(), response->mutable_next_page_token());
    return grpc::Status::OK;
  }

  grpc::Status ListExportErrors(grpc::ServerContext*, const v1::ListExportErrorsRequest* request,
                                v1::ListExportErrorsResponse* response) override {
    MutexLock lock(&mu_);
    errors_requests_.push_back(*request);
    if (!failure_.ok()) return failure_;
    v1::StoredExportError& stored = *response->add_errors();
    stored.set_server("sync01");
    stored.mutable_error()->set_error_type(request->page_token().empty() ? "InvalidSoftMatch"
                                                                         : "LargeObject");
    SetToken(request->page_token(), response->mutable_next_page_token());
    return grpc::Status::OK;
  }

  // First page: a resolved warning and a firing warning; second page: a
  // firing critical. The CLI must put the critical one first.
  grpc::Status ListAlerts(grpc::ServerContext*, const v1::ListAlertsRequest* request,
                          v1::ListAlertsResponse* response) override {
    MutexLock lock(&mu_);
    alerts_requests_.push_back(*request);
    if (!failure_.ok()) return failure_;
    auto add = [response](const char* name, const char* severity, v1::AlertState state,
                          int64_t started) {
      v1::Alert& a = *response->add_alerts();
      a.set_fingerprint(std::string(name).substr(0, 4));
      a.set_name(name);
      a.set_severity(severity);
      a.set_state(state);
      a.set_server("sync01");
      a.set_tenant("contoso.onmicrosoft.com");
      a.set_summary(std::string(name) + " summary");
      (*a.mutable_labels())["alertname"] = name;
      (*a.mutable_labels())["severity"] = severity;
      a.mutable_started_at()->set_seconds(started);
      if (state == v1::ALERT_STATE_RESOLVED) a.mutable_resolved_at()->set_seconds(started + 60);
    };
    if (request->page_token().empty()) {
      add("SyncCycleOverdue", "warning", v1::ALERT_STATE_RESOLVED, 1714550400);
      add("AgentSilent", "warning", v1::ALERT_STATE_FIRING, 1714550400);
    } else {
      add("PendingDeletesOverThreshold", "critical", v1::ALERT_STATE_FIRING, 1714550000);
    }
    SetToken(request->page_token(), response->mutable_next_page_token());
    return grpc::Status::OK;
  }

 private:
  void SetToken(const std::string& request_token, std::string* next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (repeat_token_) {
      *next = "again";
    } else if (request_token.empty()) {
      *next = "page-2";
    }
  }

  Mutex mu_;
  grpc::Status failure_ ABSL_GUARDED_BY(mu_);
  bool repeat_token_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<v1::FleetSummaryRequest> fleet_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListRunsRequest> runs_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListExportErrorsRequest> errors_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListAlertsRequest> alerts_requests_ ABSL_GUARDED_BY(mu_);
};

// An Admin double: remembers the requests and answers with what they asked
// for; every call fails with failure_ when set.
class FakeAdminService final : public v1::Admin::Service {
 public:
  void FailWith(grpc::Status status) {
    MutexLock lock(&mu_);
    failure_ = std::move(status);
  }
  std::vector<v1::AckAlertRequest> acks() {
    MutexLock lock(&mu_);
    return acks_;
  }
  std::vector<v1::CreateSilenceRequest> silences() {
    MutexLock lock(&mu_);
    return silences_;
  }
  std::vector<v1::SetRetentionRequest> retention_changes() {
    MutexLock lock(&mu_);
    return retention_changes_;
  }

  // v1::Admin::Service
  grpc::Status AckAlert(grpc::ServerContext*, const v1::AckAlertRequest* request,
                        v1::AckAlertResponse* response) override {
    MutexLock lock(&mu_);
    acks_.push_back(*request);
    if (!failure_.ok()) return failure_;
    v1::Alert& a = *response->mutable_alert();
    a.set_fingerprint(request->fingerprint());
    a.set_name("AgentSilent");
    a.set_state(v1::ALERT_STATE_FIRING);
    a.mutable_ack()->set_by("ops");
    a.mutable_ack()->set_comment(request->comment());
    return grpc::Status::OK;
  }
  grpc::Status CreateSilence(grpc::ServerContext*, const v1::CreateSilenceRequest* request,
                             v1::CreateSilenceResponse* response) override {
    MutexLock lock(&mu_);
    silences_.push_back(*request);
    if (!failure_.ok()) return failure_;
    *response->mutable_silence() = request->silence();
    if (request->silence().id().empty()) response->mutable_silence()->set_id("00000000000000aa");
    return grpc::Status::OK;
  }
  grpc::Status SetRetention(grpc::ServerContext*, const v1::SetRetentionRequest* request,
                            v1::GetRetentionResponse* response) override {
    MutexLock lock(&mu_);
    retention_changes_.push_back(*request);
    if (!failure_.ok()) return failure_;
    *response->mutable_windows() = request->windows();
    *response->mutable_admin_override()->mutable_windows() = request->windows();
    response->mutable_admin_override()->set_changed_by("ops");
    return grpc::Status::OK;
  }

 private:
  Mutex mu_;
  grpc::Status failure_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::AckAlertRequest> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::CreateSilenceRequest> silences_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SetRetentionRequest> retention_changes_ ABSL_GUARDED_BY(mu_);
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::StartLocalGrpcServer({&service_, &admin_service_});
    ASSERT_NE(server_, nullptr);
    port_ = server_->port;
    stub_ = v1::Query::NewStub(server_->channel);
    admin_stub_ = v1::Admin::NewStub(server_->channel);
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", port_); }

  // Runs `args` against the double; out_/err_ hold what was printed.
  int Run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    return RunCommand(args, *stub_, *admin_stub_, out_, err_);
  }

  FakeQueryService service_;
  FakeAdminService admin_service_;
  int port_ = 0;
  std::unique_ptr<testing::LocalGrpcServer> server_;
  std::unique_ptr<v1::Query::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_stub_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CliTest, RunsWalksEveryPage) {
  ASSERT_EQ(Run({"runs", "--output", "json"}), kExitOk) << err_.str();
  const nlohmann::json runs = nlohmann::json::parse(out_.str());
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0]["run_number"], 100);
  EXPECT_EQ(runs[1]["run_number"], 101);
  EXPECT_EQ(runs[2]["run_number"], 200);
  const std::vector<v1::ListRunsRequest> requests = service_.runs_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].page_token(), "");
  EXPECT_EQ(requests[1].page_token(), "page-2");
  EXPECT_THAT(err_.str(), IsEmpty());
}

TEST_F(CliTest, RunsTableHasOneLinePerRun) {
  ASSERT_EQ(Run({"runs"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "SERVER  CONNECTOR    PROFILE       RUN  RESULT   START  END\n"
            "sync01  contoso.com  Delta Import  100  success  -      -\n"
            "sync01  contoso.com  Delta Import  101  success  -      -\n"
            "sync01  contoso.com  Delta Import  200  success  -      -\n");
}

TEST_F(CliTest, FiltersReachTheCollectorOnEveryPage) {
  ASSERT_EQ(Run({"--server", "sync01", "runs", "--tenant=contoso", "--connector", "contoso.com",
                 "--type", "stopped-", "--since", "2024-05-01T00:00:00Z"}),
            kExitOk)
      << err_.str();
  const std::vector<v1::ListRunsRequest> requests = service_.runs_requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const v1::ListRunsRequest& request : requests) {
    EXPECT_EQ(request.filter().server(), "sync01");
    EXPECT_EQ(request.filter().tenant(), "contoso");
    EXPECT_EQ(request.filter().connector(), "contoso.com");
    EXPECT_EQ(request.filter().result(), "stopped-");
    EXPECT_EQ(request.filter().error_type(), "");
    EXPECT_EQ(FormatIso8601(FromProtoTimestamp(request.filter().since())),
              "2024-05-01T00:00:00.000Z");
  }
}

TEST_F(CliTest, ErrorsTypeFiltersTheErrorTypeAndAddsCategories) {
  ASSERT_EQ(Run({"errors", "--type", "InvalidSoftMatch", "--output", "json"}), kExitOk)
      << err_.str();
  const std::vector<v1::ListExportErrorsRequest> requests = service_.errors_requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests[0].filter().error_type(), "InvalidSoftMatch");
  EXPECT_EQ(requests[0].filter().result(), "");
  const nlohmann::json errors = nlohmann::json::parse(out_.str());
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0]["category"], "data-mismatch");
  EXPECT_EQ(errors[1]["category"], "large-attribute");
}

TEST_F(CliTest, FleetPassesItsFiltersAndPrintsWorstFirstInEveryFormat) {
  ASSERT_EQ(Run({"fleet", "--tenant", "contoso.onmicrosoft.com", "--output", "json"}), kExitOk)
      << err_.str();
  const std::vector<v1::FleetSummaryRequest> requests = service_.fleet_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].filter().tenant(), "contoso.onmicrosoft.com");
  const nlohmann::json fleet = nlohmann::json::parse(out_.str());
  EXPECT_EQ(fleet["servers"], 2);
  EXPECT_EQ(fleet["critical"], 1);
  ASSERT_EQ(fleet["server_list"].size(), 2u);
  EXPECT_EQ(fleet["server_list"][0]["server"], "sync02");
  EXPECT_EQ(fleet["server_list"][0]["health"], "critical");

  ASSERT_EQ(Run({"fleet"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("1 critical, 0 warning, 0 unknown, 1 ok"));
  EXPECT_THAT(out_.str(), HasSubstr("612 / 500"));
  EXPECT_LT(out_.str().find("sync02"), out_.str().find("sync01"));

  ASSERT_EQ(Run({"fleet", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("server,tenant,role,"));
  EXPECT_THAT(out_.str(), HasSubstr("\r\nsync02,"));

  EXPECT_EQ(Run({"fleet", "--since", "24h"}), kExitUsage);
}

TEST_F(CliTest, ServersAndDeletesWalkEveryPage) {
  ASSERT_EQ(Run({"servers", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("server,tenant,role,"));
  EXPECT_THAT(out_.str(), HasSubstr("\r\nsync01,,active,"));
  EXPECT_THAT(out_.str(), HasSubstr("\r\nsync02,,active,"));

  ASSERT_EQ(Run({"deletes", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(),
              HasSubstr("sync01,contoso.onmicrosoft.com - AAD,,0,0,1,\"CN=Doe\\, John\""));
  EXPECT_THAT(out_.str(), HasSubstr("sync02,contoso.onmicrosoft.com - AAD,"));

  ASSERT_EQ(Run({"deletes"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(),
              HasSubstr("To be deleted on sync02 by contoso.onmicrosoft.com - AAD (1):"));
}

TEST_F(CliTest, AlertsListFiringByDefaultMostUrgentFirst) {
  ASSERT_EQ(Run({"alerts", "--output", "json", "--server", "sync01"}), kExitOk) << err_.str();
  const std::vector<v1::ListAlertsRequest> requests = service_.alerts_requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const v1::ListAlertsRequest& request : requests) {
    EXPECT_EQ(request.state(), v1::ALERT_STATE_FIRING);
    EXPECT_EQ(request.filter().server(), "sync01");
  }
  const nlohmann::json alerts = nlohmann::json::parse(out_.str());
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0]["name"], "PendingDeletesOverThreshold");
  EXPECT_EQ(alerts[0]["severity"], "critical");
  EXPECT_EQ(alerts[0]["state"], "firing");
  EXPECT_EQ(alerts[0]["server"], "sync01");
  EXPECT_EQ(alerts[0]["tenant"], "contoso.onmicrosoft.com");
  EXPECT_EQ(alerts[0]["summary"], "PendingDeletesOverThreshold summary");
  EXPECT_EQ(alerts[0]["labels"]["alertname"], "PendingDeletesOverThreshold");
  EXPECT_TRUE(alerts[0]["resolved_at"].is_null());
  EXPECT_EQ(alerts[1]["name"], "AgentSilent");
  EXPECT_EQ(alerts[2]["state"], "resolved");
  EXPECT_EQ(alerts[2]["resolved_at"], "2024-05-01T08:01:00.000Z");
}

TEST_F(CliTest, AlertsStateFlagReachesTheCollector) {
  ASSERT_EQ(Run({"alerts", "--state", "resolved"}), kExitOk) << err_.str();
  ASSERT_EQ(Run({"alerts", "--state=all", "--output", "csv"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("name,severity,state,server,tenant,connector,summary,labels,"
                                     "started_at,resolved_at,"));
  const std::vector<v1::ListAlertsRequest> requests = service_.alerts_requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(requests[2].state(), v1::ALERT_STATE_UNSPECIFIED);

  ASSERT_EQ(Run({"alerts"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(),
              StartsWith("ID    STATE     SEVERITY  NAME                         SCOPE   STARTED"));
  EXPECT_THAT(out_.str(), HasSubstr("\nPend  firing    critical  PendingDeletesOverThreshold  "
                                    "sync01  2024-05-01T07:53:20.000Z"));

  EXPECT_EQ(Run({"alerts", "--state", "open"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("bad value \"open\" for --state"));
  EXPECT_EQ(Run({"runs", "--state", "firing"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--state does not apply to runs (only to alerts)"));
}

TEST_F(CliTest, RpcErrorExitsOneWithOneLine) {
  service_.FailWith(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not for you"));
  EXPECT_EQ(Run({"runs"}), kExitFailure);
  EXPECT_THAT(out_.str(), IsEmpty());
  EXPECT_EQ(err_.str(),
            "syncwatch: the collector at 127.0.0.1:7443 failed ListRuns: "
            "PERMISSION_DENIED: not for you\n");
}

TEST_F(CliTest, RepeatedPageTokenIsAnErrorNotALoop) {
  service_.RepeatTokenForever();
  EXPECT_EQ(Run({"runs"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("returned the same ListRuns page token twice"));
}

TEST_F(CliTest, UnknownCommandExitsTwo) {
  EXPECT_EQ(Run({"frobnicate"}), kExitUsage);
  EXPECT_THAT(err_.str(), StartsWith("syncwatch: unknown command \"frobnicate\""));
  EXPECT_THAT(err_.str(), HasSubstr("servers, runs, deletes, errors, alerts"));
  EXPECT_TRUE(service_.runs_requests().empty());
}

TEST_F(CliTest, BadFlagValueExitsTwo) {
  EXPECT_EQ(Run({"runs", "--output", "yaml"}), kExitUsage);
  EXPECT_THAT(err_.str(), StartsWith("syncwatch: bad value \"yaml\" for --output"));
  EXPECT_EQ(Run({"runs", "--since", "soon"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--since"));
  EXPECT_EQ(Run({"runs", "--verbose"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("unknown flag --verbose"));
  EXPECT_TRUE(service_.runs_requests().empty());
}

TEST_F(CliTest, FilterThatDoesNotApplyExitsTwo) {
  EXPECT_EQ(Run({"servers", "--type", "stopped-"}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "syncwatch: --type does not apply to servers (only to runs, errors) "
            "(see syncwatch --help)\n");
}

TEST_F(CliTest, HelpPrintsUsageAndExitsZero) {
  EXPECT_EQ(Run({"--help"}), kExitOk);
  EXPECT_THAT(out_.str(), StartsWith("Usage: syncwatch [--collector ADDR[,ADDR...]] <command>"));
  for (const char* word :
       {"servers", "runs", "deletes", "errors", "alerts", "--since", "--output", "--state"}) {
    EXPECT_THAT(out_.str(), HasSubstr(word));
  }
  EXPECT_THAT(err_.str(), IsEmpty());
}

TEST_F(CliTest, NoCommandPrintsUsageAndExitsTwo) {
  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("no command given"));
  EXPECT_THAT(err_.str(), HasSubstr("Usage: syncwatch"));
}

TEST_F(CliTest, RunCliTalksToTheCollectorFlag) {
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(RunCli({"errors", "--collector", Address(), "--output", "json"}, out, err), kExitOk)
      << err.str();
  EXPECT_EQ(nlohmann::json::parse(out.str()).size(), 2u);
}

// A TCP port bound but never listening refuses connections, and stays ours
// for the whole test, so no other process can take it.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~ClosedPort() {
    if (fd_ >= 0) close(fd_);
  }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(RunCli, UnreachableCollectorExitsOneWithOneClearLine) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  const std::string address = absl::StrCat("127.0.0.1:", closed.port());
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunCli({"--collector", address, "runs", "--timeout", "5s"}, out, err), kExitFailure);
  EXPECT_THAT(out.str(), IsEmpty());
  EXPECT_THAT(err.str(),
              StartsWith(absl::StrCat("syncwatch: cannot reach the collector at ", address, ": ")));
  EXPECT_EQ(err.str().find('\n'), err.str().size() - 1) << err.str();
}

TEST_F(CliTest, AckSendsTheIdAndCommentAndPrintsTheAlert) {
  ASSERT_EQ(Run({"ack", "0123456789abcdef", "--comment", "on it", "--output", "json"}), kExitOk)
      << err_.str();
  const std::vector<v1::AckAlertRequest> acks = admin_service_.acks();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].fingerprint(), "0123456789abcdef");
  EXPECT_EQ(acks[0].comment(), "on it");
  const nlohmann::json alerts = nlohmann::json::parse(out_.str());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["acked_by"], "ops");
  EXPECT_EQ(alerts[0]["ack_comment"], "on it");
}

TEST_F(CliTest, AdminCommandsCheckTheirArgumentsBeforeCallingTheCollector) {
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"ack"}, "ack needs ALERT_ID"},
      {{"ack", "a", "b"}, "unexpected argument \"b\" after the command \"ack\""},
      {{"runs", "errors"}, "unexpected argument \"errors\" after the command \"runs\""},
      {{"silence", "--for", "4h"}, "silence needs at least one matcher"},
      {{"silence", "--server", "sync01"}, "either --for DURATION"},
      {{"silence", "--server", "sync01", "--for", "soon"}, "bad value \"soon\" for --for"},
      {{"silence", "--server", "sync01", "--for", "0"}, "the duration must be positive"},
      {{"silence", "--server", "sync01", "--until", "2001-01-01T00:00:00Z"}, "not in the future"},
      {{"ack", "x", "--server", "sync01"}, "--server does not apply to ack"},
      {{"retention", "set"}, "retention set needs at least one of --runs"},
      {{"retention", "--runs", "200d"}, "only apply to `retention set`"},
      {{"retention", "grow"}, "unknown retention action \"grow\""},
      {{"retention", "set", "--runs", "forever"}, "bad value \"forever\" for --runs"},
      {{"unsilence"}, "unsilence needs SILENCE_ID"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Run(c.args), kExitUsage) << c.message;
    EXPECT_THAT(err_.str(), HasSubstr(c.message));
  }
  EXPECT_TRUE(admin_service_.acks().empty());
  EXPECT_TRUE(admin_service_.silences().empty());
  EXPECT_TRUE(admin_service_.retention_changes().empty());
}

TEST_F(CliTest, SilenceSendsTheMatchersAndHowLong) {
  ASSERT_EQ(Run({"silence", "--server", "sync01", "--alert", "AgentSilent", "--for", "1d2h",
                 "--comment", "patching"}),
            kExitOk)
      << err_.str();
  const std::vector<v1::CreateSilenceRequest> silences = admin_service_.silences();
  ASSERT_EQ(silences.size(), 1u);
  EXPECT_EQ(silences[0].silence().server(), "sync01");
  EXPECT_EQ(silences[0].silence().tenant(), "");
  EXPECT_EQ(silences[0].silence().alert_name(), "AgentSilent");
  EXPECT_EQ(silences[0].silence().comment(), "patching");
  // An absolute end and an id chosen here, so that every collector (and a
  // re-run) stores the same silence.
  EXPECT_FALSE(silences[0].has_duration());
  EXPECT_LE(absl::AbsDuration(FromProtoTimestamp(silences[0].ends_at()) -
                              (absl::Now() + absl::Hours(26))),
            absl::Minutes(1));
  const std::string id = silences[0].silence().id();
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  EXPECT_THAT(out_.str(), StartsWith("ID                SERVER  TENANT  ALERT        ENDS"));
  EXPECT_THAT(out_.str(), HasSubstr(absl::StrCat(id, "  sync01  -       AgentSilent")));
}

TEST_F(CliTest, RetentionSetSendsOnlyTheWindowsGiven) {
  ASSERT_EQ(Run({"retention", "set", "--runs", "200d", "--snapshots", "off", "--output", "csv"}),
            kExitOk)
      << err_.str();
  const std::vector<v1::SetRetentionRequest> changes = admin_service_.retention_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].windows().runs().seconds(), 200 * 24 * 3600);
  EXPECT_FALSE(changes[0].windows().has_export_errors());
  ASSERT_TRUE(changes[0].windows().has_snapshots());
  EXPECT_EQ(changes[0].windows().snapshots().seconds(), 0);
  EXPECT_FALSE(changes[0].reset_to_config());
  EXPECT_THAT(out_.str(), StartsWith("kind,window,config,overridden,changed_by,changed_at\r\n"
                                     "runs,200d,off,true,ops,"));
}

TEST_F(CliTest, ARefusedAdminCallSaysAnAdminTokenIsNeeded) {
  admin_service_.FailWith(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                       "\"grafana\" has role read; this needs admin"));
  EXPECT_EQ(Run({"ack", "0123456789abcdef"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("failed AckAlert: PERMISSION_DENIED: \"grafana\" has role "
                                    "read; this needs admin (pass a token with the admin role"));
}

// Two collector doubles over real gRPC, driven through RunCli's --collector.
class TwoCollectorsTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    second_ = testing::StartLocalGrpcServer({&second_query_, &second_admin_});
    ASSERT_NE(second_, nullptr);
  }

  std::string Second() const { return absl::StrCat("127.0.0.1:", second_->port); }

  int RunBoth(const std::string& collectors, std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    args.insert(args.begin(), {"--collector", collectors});
    return RunCli(args, out_, err_);
  }

  FakeQueryService second_query_;
  FakeAdminService second_admin_;
  std::unique_ptr<testing::LocalGrpcServer> second_;
};

TEST_F(TwoCollectorsTest, ASilenceIsMadeOnEveryCollectorWithOneIdAndOneEnd) {
  ASSERT_EQ(RunBoth(absl::StrCat(Address(), ",", Second()),
                    {"silence", "--server", "sync01", "--for", "4h", "--output", "json"}),
            kExitOk)
      << err_.str();
  const std::vector<v1::CreateSilenceRequest> first = admin_service_.silences();
  const std::vector<v1::CreateSilenceRequest> second = second_admin_.silences();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].silence().id(), second[0].silence().id());
  EXPECT_EQ(first[0].ends_at().seconds(), second[0].ends_at().seconds());
  EXPECT_EQ(first[0].silence().server(), second[0].silence().server());
  // The result once (valid JSON for a script), one line per collector on stderr.
  const nlohmann::json printed = nlohmann::json::parse(out_.str());
  ASSERT_EQ(printed.size(), 1u);
  EXPECT_EQ(printed[0]["id"], first[0].silence().id());
  EXPECT_EQ(err_.str(), absl::StrCat("syncwatch: ", Address(), ": created\nsyncwatch: ", Second(),
                                     ": created\n"));
}

TEST_F(TwoCollectorsTest, RetentionSetGoesToEachCollectorAndShowingItToTheFirst) {
  ASSERT_EQ(RunBoth(absl::StrCat(Address(), ",", Second()), {"retention", "set", "--runs", "200d"}),
            kExitOk)
      << err_.str();
  ASSERT_EQ(admin_service_.retention_changes().size(), 1u);
  ASSERT_EQ(second_admin_.retention_changes().size(), 1u);
  EXPECT_EQ(second_admin_.retention_changes()[0].windows().runs().seconds(), 200 * 24 * 3600);
  EXPECT_THAT(err_.str(), HasSubstr(absl::StrCat("syncwatch: ", Second(), ": changed\n")));
  // Showing it is a read: the first collector answers (the double does not
  // implement GetRetention), and that answer stands.
  EXPECT_EQ(RunBoth(absl::StrCat(Address(), ",", Second()), {"retention"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr(absl::StrCat("the collector at ", Address(),
                                                 " does not support GetRetention")));
  EXPECT_THAT(err_.str(), Not(HasSubstr(Second())));
}

TEST_F(TwoCollectorsTest, AChangeThatFailsOnOneCollectorIsMadeOnTheOthersAndNamesIt) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  const std::string down = absl::StrCat("127.0.0.1:", closed.port());
  EXPECT_EQ(RunBoth(absl::StrCat(down, ",", Second()),
                    {"silence", "--alert", "AgentSilent", "--for", "2h", "--timeout", "5s"}),
            kExitFailure);
  const std::vector<v1::CreateSilenceRequest> made = second_admin_.silences();
  ASSERT_EQ(made.size(), 1u);
  EXPECT_THAT(out_.str(), HasSubstr(made[0].silence().id()));
  EXPECT_THAT(err_.str(), HasSubstr(absl::StrCat("cannot reach the collector at ", down)));
  EXPECT_THAT(err_.str(), HasSubstr(absl::StrCat("syncwatch: ", Second(), ": created\n")));
  // How to finish it: the same id and end, so that the re-run is the same silence.
  EXPECT_THAT(err_.str(),
              HasSubstr(absl::StrCat(
                  "not done on ", down,
                  " (done on 1 of 2 collectors); run it "
                  "with --id ",
                  made[0].silence().id(), " --until ",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTimestamp(made[0].ends_at()),
                                   absl::UTCTimeZone()))));

  // An ack fails on the collector that refuses it and is made on the other.
  admin_service_.FailWith(grpc::Status(grpc::StatusCode::NOT_FOUND, "no alert has the id"));
  EXPECT_EQ(RunBoth(absl::StrCat(Address(), ",", Second()), {"ack", "0123456789abcdef"}),
            kExitFailure);
  EXPECT_EQ(admin_service_.acks().size(), 1u);
  EXPECT_EQ(second_admin_.acks().size(), 1u);
  EXPECT_THAT(err_.str(), HasSubstr(absl::StrCat("not done on ", Address(),
                                                 " (done on 1 of 2 collectors); run the same "
                                                 "command again")));
}

TEST_F(TwoCollectorsTest, AReadAsksTheFirstCollectorThatAnswers) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  const std::string down = absl::StrCat("127.0.0.1:", closed.port());
  ASSERT_EQ(RunBoth(absl::StrCat(down, ",", Second()), {"runs", "--output", "json"}), kExitOk)
      << err_.str();
  EXPECT_EQ(nlohmann::json::parse(out_.str()).size(), 3u);
  EXPECT_THAT(err_.str(), HasSubstr(absl::StrCat("; asking ", Second(), "\n")));
  // Only one collector is asked when it answers.
  ASSERT_EQ(RunBoth(absl::StrCat(Address(), ",", Second()), {"errors"}), kExitOk);
  EXPECT_EQ(service_.errors_requests().size(), 2u);  // two pages
  EXPECT_TRUE(second_query_.errors_requests().empty());
  // A refusal is an answer: not passed over.
  service_.FailWith(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no"));
  EXPECT_EQ(RunBoth(absl::StrCat(Address(), ",", Second()), {"errors"}), kExitFailure);
  EXPECT_TRUE(second_query_.errors_requests().empty());
}

}  // namespace
}  // namespace syncwatch::cli
