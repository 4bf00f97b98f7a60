#include "collector/cli/config_commands.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <sstream>
#include <string>

#include "absl/time/time.h"
#include "collector/cli/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::cli {
namespace {

using ::testing::HasSubstr;

TEST(ConfigCommandsTest, ChangesJsonHasTheDocumentedFields) {
  v1::ListConfigurationChangesResponse r;
  v1::ConfigurationChange* c = r.add_changes();
  c->set_server("sync01");
  c->set_tenant("contoso");
  c->mutable_detected_at()->set_seconds(1714553700);
  c->set_kind("link-type-changed");
  c->set_connector("contoso.com");
  c->set_rule("In from AD - User Join");
  c->set_before("Provision");
  c->set_after("Join");
  c->set_summary("sync rule ... link type: Provision -> Join");
  const Json json = ChangesToJson(r);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["server"], "sync01");
  EXPECT_EQ(json[0]["tenant"], "contoso");
  EXPECT_EQ(json[0]["detected_at"], "2024-05-01T08:55:00.000Z");
  EXPECT_EQ(json[0]["kind"], "link-type-changed");
  EXPECT_EQ(json[0]["connector"], "contoso.com");
  EXPECT_EQ(json[0]["rule"], "In from AD - User Join");
  EXPECT_EQ(json[0]["before"], "Provision");
  EXPECT_EQ(json[0]["after"], "Join");
  EXPECT_TRUE(json[0]["partition"].is_null());
  const std::string table = RenderTable(ChangesTable(r));
  EXPECT_THAT(table, HasSubstr("link-type-changed"));
  EXPECT_THAT(table, HasSubstr("Provision"));
}

TEST(ConfigCommandsTest, DriftJsonHasTheDocumentedFields) {
  v1::ListConfigurationDriftResponse r;
  v1::ConfigurationDrift* d = r.add_drift();
  d->set_tenant("contoso");
  d->set_server("sync02");
  d->set_reference_server("sync01");
  d->set_kind("rule-disabled");
  d->set_rule("Out to AAD - User Join");
  d->set_reference_value("enabled");
  d->set_value("disabled");
  const Json json = DriftToJson(r);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["reference_server"], "sync01");
  EXPECT_EQ(json[0]["reference_value"], "enabled");
  EXPECT_EQ(json[0]["value"], "disabled");
  EXPECT_TRUE(json[0]["connector"].is_null());
}

TEST(ConfigCommandsTest, ExplanationsRenderCausesWithEvidence) {
  v1::ExplainDeletesResponse r;
  v1::DeleteExplanation* e = r.add_explanations();
  e->set_server("sync01");
  e->set_connector("contoso.onmicrosoft.com - AAD");
  e->set_pending_deletes(700);
  v1::DeleteCause* c = e->add_causes();
  c->set_kind("ou-renamed");
  c->set_summary("an OU renamed");
  c->add_evidence("stage-delete 700");
  c->add_evidence("filtered-objects 700");
  EXPECT_EQ(RenderExplanations(r),
            "sync01 / contoso.onmicrosoft.com - AAD: 700 pending deletes\n"
            "  ou-renamed: an OU renamed\n"
            "    - stage-delete 700\n"
            "    - filtered-objects 700\n");
  const Json json = ExplanationsToJson(r);
  EXPECT_EQ(json[0]["causes"][0]["evidence"][1], "filtered-objects 700");
  const Table csv = ExplanationsCsvTable(r);
  ASSERT_EQ(csv.rows.size(), 1u);
  EXPECT_EQ(csv.rows[0][6], "stage-delete 700; filtered-objects 700");
}

TEST(ConfigCommandsTest, ExplainAppliesToDeletesOnlyAndNotWithSince) {
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  auto query = v1::Query::NewStub(channel);
  auto admin = v1::Admin::NewStub(channel);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunCommand({"runs", "--explain"}, *query, *admin, out, err), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("--explain does not apply to runs (only to deletes)"));
  err.str("");
  EXPECT_EQ(RunCommand({"deletes", "--explain", "--since", "1h"}, *query, *admin, out, err),
            kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("--since does not apply to deletes --explain"));
  err.str("");
  EXPECT_EQ(RunCommand({"drift", "--connector", "x"}, *query, *admin, out, err), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("--connector does not apply to drift"));
}

}  // namespace
}  // namespace syncwatch::cli
