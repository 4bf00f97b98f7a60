#include "collector/api/auth.h"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/time/clock.h"
#include "collector/api/admin_service.h"
#include "common/grpc_status.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/grpc_server.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kReadToken[] = "read-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";

std::string TokensFile() {
  return absl::StrCat("# token role name\n\n", kReadToken, " read grafana\n", kAdminToken,
                      "\tadmin\tops-oncall  \n");
}

TEST(TokenSet, ParsesTokensRolesAndNamesSkippingCommentsAndBlankLines) {
  auto tokens = TokenSet::Parse(TokensFile(), "tokens");
  SYNCWATCH_ASSERT_OK(tokens);
  ASSERT_EQ(tokens->size(), 2u);
  const Principal* read = tokens->Find(kReadToken);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->name, "grafana");
  EXPECT_EQ(read->role, Role::kRead);
  const Principal* admin = tokens->Find(kAdminToken);
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->name, "ops-oncall");
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(tokens->Find(""), nullptr);
  EXPECT_EQ(tokens->Find("read-token-0123456789abcde"), nullptr);  // a prefix
  EXPECT_EQ(tokens->Find("read-token-0123456789abcdefX"), nullptr);
  EXPECT_THAT(tokens->Names(), ::testing::ElementsAre("grafana (read)", "ops-oncall (admin)"));
}

TEST(TokenSet, BadFilesNameTheLineAndNeverTheToken) {
  const std::string token = "secret-token-0123456789";
  auto expect_error = [&](const std::string& text, const std::string& what) {
    EXPECT_THAT(
        TokenSet::Parse(text, "/etc/tokens"),
        StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr(what), Not(HasSubstr(token)))))
        << text;
  };
  expect_error("# only a comment\n", "/etc/tokens: no tokens");
  expect_error(absl::StrCat("\n", token, " read\n"), "/etc/tokens:2: want \"TOKEN ROLE NAME\"");
  expect_error(absl::StrCat(token, " read a b\n"), "/etc/tokens:1: want \"TOKEN ROLE NAME\"");
  expect_error("short read grafana\n", "/etc/tokens:1: the token is shorter than 16");
  expect_error(absl::StrCat(token, " write grafana\n"),
               "/etc/tokens:1: unknown role \"write\"; want read or admin");
  expect_error(absl::StrCat(kReadToken, " read grafana\n", token, " admin grafana\n"),
               "/etc/tokens:2: the name \"grafana\" is used twice");
  expect_error(absl::StrCat(token, " read grafana\n", token, " admin ops\n"),
               "/etc/tokens:2: the token of \"ops\" is also the token of \"grafana\"");
}

TEST(Authenticator, AcceptsBearerTokensOnly) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("tokens"), TokensFile());
  auto auth = Authenticator::Create(dir.Sub("tokens"));
  SYNCWATCH_ASSERT_OK(auth);
  auto principal = (*auth)->Authenticate(absl::StrCat("Bearer ", kAdminToken));
  SYNCWATCH_ASSERT_OK(principal);
  EXPECT_EQ(principal->name, "ops-oncall");
  EXPECT_THAT((*auth)->Authenticate(""),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("requires a token")));
  EXPECT_THAT((*auth)->Authenticate(kReadToken),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not \"Bearer TOKEN\"")));
  EXPECT_THAT((*auth)->Authenticate("Bearer not-a-known-token-at-all"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("unknown token"), Not(HasSubstr("not-a-known")))));
  EXPECT_THAT(Authenticator::Create(dir.Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir.Sub("missing"))));
}

TEST(Authenticator, ReReadsTheFileWhenItChangesAndKeepsTheOldTokensWhenItIsBroken) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("tokens"), TokensFile());
  auto auth = Authenticator::Create(dir.Sub("tokens"));
  SYNCWATCH_ASSERT_OK(auth);
  const std::string added = "added-token-0123456789abcdef";
  testing::WriteFile(dir.Sub("tokens"), absl::StrCat(added, " read newcomer\n"));
  // Looked at no more than once a second.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!(*auth)->Authenticate("Bearer " + added).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  SYNCWATCH_EXPECT_OK((*auth)->Authenticate("Bearer " + added));
  EXPECT_THAT((*auth)->Authenticate(absl::StrCat("Bearer ", kReadToken)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  testing::WriteFile(dir.Sub("tokens"), "this is not a tokens file at all\n");
  absl::SleepFor(absl::Milliseconds(1100));
  SYNCWATCH_EXPECT_OK((*auth)->Authenticate("Bearer " + added));
}

TEST(RequireRole, AdminMayDoWhatReadMayNotTheOtherWayRound) {
  SYNCWATCH_EXPECT_OK(RequireRole(Principal{"ops", Role::kAdmin}, Role::kRead));
  SYNCWATCH_EXPECT_OK(RequireRole(Principal{"ops", Role::kAdmin}, Role::kAdmin));
  SYNCWATCH_EXPECT_OK(RequireRole(Principal{"grafana", Role::kRead}, Role::kRead));
  EXPECT_THAT(RequireRole(Principal{"grafana", Role::kRead}, Role::kAdmin),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("\"grafana\" has role read; this needs admin")));
}

// A Query service whose ListAlerts stands for an admin-only action and whose
// ListServers and FleetSummary (a raw callback method) for read ones.
class FakeQuery final : public QueryServiceBase {
 public:
  grpc::ServerUnaryReactor* FleetSummary(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer*,
                                         grpc::ByteBuffer* response) override {
    ++calls;
    grpc::Slice empty;  // an empty FleetSummaryResponse
    *response = grpc::ByteBuffer(&empty, 1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(RequireRole(*context, Role::kRead)));
    return reactor;
  }
  grpc::Status ListAlerts(grpc::ServerContext* context, const v1::ListAlertsRequest*,
                          v1::ListAlertsResponse*) override {
    ++calls;
    return ToGrpcStatus(RequireRole(*context, Role::kAdmin));
  }
  grpc::Status ListServers(grpc::ServerContext*, const v1::ListServersRequest*,
                           v1::ListServersResponse*) override {
    ++calls;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

TEST(AuthenticatedQueryService, NeedsATokenAndPassesItsRoleToRequireRole) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("tokens"), TokensFile());
  auto auth = Authenticator::Create(dir.Sub("tokens"));
  SYNCWATCH_ASSERT_OK(auth);
  FakeQuery inner;
  AuthenticatedQueryService service(inner, **auth);
  auto server = testing::StartLocalGrpcServer({&service});
  ASSERT_NE(server, nullptr);
  auto stub = v1::Query::NewStub(server->channel);
  auto call_servers = [&](const std::string& token) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::ListServersResponse resp;
    return stub->ListServers(&ctx, v1::ListServersRequest(), &resp);
  };
  auto call_alerts = [&](const std::string& token) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::ListAlertsResponse resp;
    return stub->ListAlerts(&ctx, v1::ListAlertsRequest(), &resp);
  };
  EXPECT_EQ(call_servers("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call_servers("wrong-token-0123456789abcdef").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(inner.calls.load(), 0);
  EXPECT_TRUE(call_servers(kReadToken).ok());
  EXPECT_TRUE(call_servers(kAdminToken).ok());
  const grpc::Status read_admin = call_alerts(kReadToken);
  EXPECT_EQ(read_admin.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(read_admin.error_message(), HasSubstr("\"grafana\" has role read; this needs admin"));
  EXPECT_TRUE(call_alerts(kAdminToken).ok());

  // FleetSummary, a raw callback method, is checked the same way.
  auto call_fleet = [&](const std::string& token) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::FleetSummaryResponse resp;
    return stub->FleetSummary(&ctx, v1::FleetSummaryRequest(), &resp);
  };
  const int before = inner.calls.load();
  EXPECT_EQ(call_fleet("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call_fleet("wrong-token-0123456789abcdef").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(inner.calls.load(), before);
  EXPECT_TRUE(call_fleet(kReadToken).ok());
  EXPECT_EQ(inner.calls.load(), before + 1);
}

// The real Admin service over a real store, behind the token check.
class AuthenticatedAdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_.Sub("tokens"), TokensFile());
    auto auth = Authenticator::Create(dir_.Sub("tokens"));
    SYNCWATCH_ASSERT_OK(auth);
    auth_ = *std::move(auth);
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    SYNCWATCH_ASSERT_OK(store);
    store_ = *std::move(store);
    auto alerts = alerts::AlertStore::Open(*store_, {});
    SYNCWATCH_ASSERT_OK(alerts);
    alerts_ = *std::move(alerts);
    retention_ = std::make_unique<Retention>(*store_, RealClock::Get(), RetentionOptions(),
                                             Retention::Options());
    admin_ = std::make_unique<AdminService>(*alerts_, *retention_, RealClock::Get());
    service_ = std::make_unique<AuthenticatedAdminService>(*admin_, *auth_);
    server_ = testing::StartLocalGrpcServer({service_.get()});
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Admin::NewStub(server_->channel);
  }

  // Calls every Admin RPC with `token`; the statuses by RPC name.
  std::map<std::string, grpc::Status> CallEach(const std::string& token) {
    auto context = [&](grpc::ClientContext* ctx) {
      if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    };
    std::map<std::string, grpc::Status> out;
    {
      grpc::ClientContext ctx;
      context(&ctx);
      v1::AckAlertRequest req;
      req.set_fingerprint("0123456789abcdef");
      v1::AckAlertResponse resp;
      out["AckAlert"] = stub_->AckAlert(&ctx, req, &resp);
    }
    {
      grpc::ClientContext ctx;
      context(&ctx);
      v1::CreateSilenceRequest req;
      req.mutable_silence()->set_server("sync01");
      *req.mutable_duration() = ToProtoDuration(absl::Hours(1));
      v1::CreateSilenceResponse resp;
      out["CreateSilence"] = stub_->CreateSilence(&ctx, req, &resp);
      if (out["CreateSilence"].ok()) silence_id_ = resp.silence().id();
      if (out["CreateSilence"].ok()) created_by_ = resp.silence().created_by();
    }
    {
      grpc::ClientContext ctx;
      context(&ctx);
      v1::ListSilencesResponse resp;
      out["ListSilences"] = stub_->ListSilences(&ctx, v1::ListSilencesRequest(), &resp);
    }
    {
      grpc::ClientContext ctx;
      context(&ctx);
      v1::DeleteSilenceRequest req;
      req.set_id(silence_id_);
      v1::DeleteSilenceResponse resp;
      out["DeleteSilence"] = stub_->DeleteSilence(&ctx, req, &resp);
    }
    {
      grpc::ClientContext ctx;
      context(&ctx);
      v1::GetRetentionResponse resp;
      out["GetRetention"] = stub_->GetRetention(&ctx, v1::GetRetentionRequest(), &resp);
    }
    {
      grpc::ClientContext ctx;
      context(&ctx);
      v1::SetRetentionRequest req;
      *req.mutable_windows()->mutable_runs() = ToProtoDuration(absl::Hours(24 * 200));
      v1::GetRetentionResponse resp;
      out["SetRetention"] = stub_->SetRetention(&ctx, req, &resp);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<alerts::AlertStore> alerts_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<AuthenticatedAdminService> service_;
  std::unique_ptr<testing::LocalGrpcServer> server_;
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::string silence_id_ = "no-such-silence";
  std::string created_by_;
};

TEST_F(AuthenticatedAdminServiceTest, EveryRpcIsCheckedAndActionsNeedTheAdminRole) {
  // A new Admin RPC must be added to CallEach (and to AuthenticatedAdminService).
  ASSERT_EQ(v1::Admin::service_full_name(), std::string("syncwatch.v1.Admin"));
  ASSERT_EQ(v1::AckAlertRequest::descriptor()->file()->FindServiceByName("Admin")->method_count(),
            6);
  for (const auto& [rpc, status] : CallEach("")) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << rpc;
  }
  const std::set<std::string> actions = {"AckAlert", "CreateSilence", "DeleteSilence",
                                         "SetRetention"};
  for (const auto& [rpc, status] : CallEach(kReadToken)) {
    if (actions.count(rpc) > 0) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << rpc;
      EXPECT_THAT(status.error_message(), HasSubstr("\"grafana\" has role read; this needs admin"))
          << rpc;
    } else {
      EXPECT_TRUE(status.ok()) << rpc << ": " << status.error_message();
    }
  }
  EXPECT_FALSE(retention_->override_windows().has_value());
  EXPECT_THAT(alerts_->Silences(absl::Now()), ::testing::IsEmpty());

  const std::map<std::string, grpc::Status> admin = CallEach(kAdminToken);
  EXPECT_EQ(admin.at("AckAlert").error_code(), grpc::StatusCode::NOT_FOUND);  // no such alert
  for (const char* rpc :
       {"CreateSilence", "ListSilences", "DeleteSilence", "GetRetention", "SetRetention"}) {
    EXPECT_TRUE(admin.at(rpc).ok()) << rpc << ": " << admin.at(rpc).error_message();
  }
  EXPECT_EQ(created_by_, "ops-oncall");
  ASSERT_TRUE(retention_->override_windows().has_value());
  EXPECT_EQ(retention_->override_windows()->changed_by(), "ops-oncall");
}

}  // namespace
}  // namespace syncwatch::collector
