// Token access control on a real collector: the Query API, the web pages and
// the `syncwatch` CLI need a token from auth.tokens_file; /healthz, /readyz
// and /metrics stay open; the tokens never reach the log.
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/cli/cli.h"
#include "collector/collector_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kReadToken[] = "3f6b1c0e9d2a4b7c8e5f1a0d3c6b9e2f";
constexpr char kAdminToken[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

// Sends this process's stderr (where the collector logs) to a file until
// Restore() or destruction.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() { Restore(); }
  // Stops capturing; returns what was captured.
  std::string Restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
    }
    return testing::ReadFileOrEmpty(path_);
  }

 private:
  const std::string path_;
  int saved_ = -1;
};

// A collector on free loopback ports with its data and tokens file in `dir`.
collector::CollectorOptions OptionsWithTokens(const testing::TempDir& dir) {
  collector::CollectorOptions o;
  o.data_dir = dir.Sub("collector");
  o.listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.sync_writes = false;
  o.auth.tokens_file = dir.Sub("tokens");
  return o;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_.Sub("tokens"),
                       absl::StrCat("# who may query\n", kReadToken, " read grafana\n", kAdminToken,
                                    " admin ops-oncall\n"));
    testing::WriteFile(dir_.Sub("read-token"), absl::StrCat(kReadToken, "\n"));
    auto server = collector::CollectorServer::Start(OptionsWithTokens(dir_), RealClock::Get());
    ASSERT_TRUE(server.ok()) << server.status();
    collector_ = *std::move(server);
  }

  grpc::Status ListServers(const std::string& authorization) {
    auto stub = v1::Query::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", collector_->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::ListServersResponse resp;
    return stub->ListServers(&ctx, v1::ListServersRequest(), &resp);
  }

  httplib::Result Get(const std::string& path, const std::string& token = "") {
    httplib::Client client("127.0.0.1", collector_->http_port());
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client.Get(path.c_str(), headers);
  }

  int Cli(std::vector<std::string> args, std::string* err) {
    args.insert(args.begin(), {"--collector", absl::StrCat("127.0.0.1:", collector_->port())});
    std::ostringstream out;
    std::ostringstream errs;
    const int code = cli::RunCli(args, out, errs);
    *err = errs.str();
    return code;
  }

  testing::TempDir dir_;
  std::unique_ptr<collector::CollectorServer> collector_;
};

TEST_F(AuthTest, QueryApiNeedsAToken) {
  const grpc::Status none = ListServers("");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("requires a token"));
  const grpc::Status wrong = ListServers("Bearer 00000000000000000000000000000000");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), Not(HasSubstr("0000000000")));
  EXPECT_TRUE(ListServers(absl::StrCat("Bearer ", kReadToken)).ok());
  EXPECT_TRUE(ListServers(absl::StrCat("Bearer ", kAdminToken)).ok());
}

TEST_F(AuthTest, WebPagesAndApiNeedATokenHealthAndMetricsDoNot) {
  for (const char* path : {"/", "/api/v1/fleet", "/servers/sync01", "/no-such-page"}) {
    auto res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"syncwatch\"") << path;
    res = Get(path, "wrong-token-but-long-enough");
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
  }
  auto page = Get("/", kReadToken);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  auto api = Get("/api/v1/fleet", kReadToken);
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 200);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
}

TEST_F(AuthTest, CliSendsTheTokenFromTokenFileAndSaysWhatIsMissingWithoutIt) {
  std::string err;
  EXPECT_EQ(Cli({"--token-file", dir_.Sub("read-token"), "servers"}, &err), cli::kExitOk) << err;
  EXPECT_EQ(Cli({"servers"}, &err), cli::kExitFailure);
  EXPECT_THAT(err, HasSubstr("pass --token-file FILE or set SYNCWATCH_TOKEN"));
  // The fleet summary (a raw callback method) behind the same check.
  EXPECT_EQ(Cli({"--token-file", dir_.Sub("read-token"), "fleet"}, &err), cli::kExitOk) << err;
  EXPECT_EQ(Cli({"fleet"}, &err), cli::kExitFailure);
  EXPECT_THAT(err, HasSubstr("pass --token-file FILE or set SYNCWATCH_TOKEN"));
  EXPECT_EQ(Cli({"--token-file", dir_.Sub("no-such-file"), "servers"}, &err), cli::kExitUsage);
  EXPECT_THAT(err, HasSubstr("--token-file: cannot read the file"));
}

// Every read command goes through the token check to the Query service: an
// RPC not forwarded by AuthenticatedQueryService would answer UNIMPLEMENTED.
TEST_F(AuthTest, EveryReadCommandWorksWithAReadTokenAndNoneWithout) {
  const std::vector<std::vector<std::string>> commands = {
      {"fleet"},    {"servers"}, {"runs"},    {"deletes"}, {"deletes", "--explain"},
      {"errors"},   {"alerts"},  {"changes"}, {"drift"},   {"silences"},
      {"retention"}};
  for (const std::vector<std::string>& command : commands) {
    std::string err;
    std::vector<std::string> with_token = {"--token-file", dir_.Sub("read-token")};
    with_token.insert(with_token.end(), command.begin(), command.end());
    EXPECT_EQ(Cli(with_token, &err), cli::kExitOk) << absl::StrJoin(command, " ") << ": " << err;
    EXPECT_EQ(Cli(command, &err), cli::kExitFailure) << absl::StrJoin(command, " ");
    EXPECT_THAT(err, HasSubstr("pass --token-file FILE or set SYNCWATCH_TOKEN"))
        << absl::StrJoin(command, " ");
  }
}

TEST(AuthLogTest, TokensNeverReachTheLogOnlyTheirNames) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("tokens"),
                     absl::StrCat(kReadToken, " read grafana\n", kAdminToken, " admin ops\n"));
  StderrCapture capture(dir.Sub("collector.log"));
  {
    auto server = collector::CollectorServer::Start(OptionsWithTokens(dir), RealClock::Get());
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = v1::Query::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
    // A good call, a refused one with a near-miss token, and a web request.
    for (const std::string& token : {std::string(kReadToken), std::string(kAdminToken) + "x"}) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + token);
      v1::ListServersResponse resp;
      stub->ListServers(&ctx, v1::ListServersRequest(), &resp);
    }
    httplib::Client client("127.0.0.1", (*server)->http_port());
    client.Get("/", {{"Authorization", absl::StrCat("Bearer ", kAdminToken, "y")}});
    (*server)->Shutdown();
  }
  const std::string log = capture.Restore();
  EXPECT_THAT(log, HasSubstr("grafana (read), ops (admin)"));
  EXPECT_THAT(log, HasSubstr("refused ListServers"));
  EXPECT_THAT(log, Not(HasSubstr(kReadToken)));
  EXPECT_THAT(log, Not(HasSubstr(kAdminToken)));
}

}  // namespace
}  // namespace syncwatch
