#include "common/event_validation.h"

#include <string>

#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch {
namespace {

using ::testing::HasSubstr;

v1::EventBatch OneRunBatch() {
  v1::EventBatch b;
  b.set_seq(1);
  v1::Event* e = b.add_events();
  e->set_source("runs");
  *e->mutable_observed_at() = ToProtoTimestamp(absl::FromUnixSeconds(1700000000));
  v1::RunProfileResult* r = e->mutable_run();
  r->set_connector_name("contoso.com");
  r->set_run_number(7);
  r->set_result("success");
  *r->mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1700000000));
  return b;
}

TEST(ValidateBatch, AcceptsAWellFormedRun) { EXPECT_TRUE(ValidateBatch(OneRunBatch(), {}).ok()); }

TEST(ValidateBatch, NamesTheEventAndFieldAtFault) {
  v1::EventBatch b = OneRunBatch();
  *b.add_events() = b.events(0);
  b.mutable_events(1)->mutable_run()->clear_connector_name();
  absl::Status s = ValidateBatch(b, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("event 1 (run): connector_name is empty"));
}

TEST(ValidateBatch, RejectsSeqZeroEmptyAndOversizedBatches) {
  v1::EventBatch b = OneRunBatch();
  b.set_seq(0);
  EXPECT_THAT(std::string(ValidateBatch(b, {}).message()), HasSubstr("seq is 0"));
  v1::EventBatch empty;
  empty.set_seq(3);
  EXPECT_THAT(std::string(ValidateBatch(empty, {}).message()), HasSubstr("no events"));
  ValidationLimits small;
  small.max_events_per_batch = 1;
  v1::EventBatch two = OneRunBatch();
  *two.add_events() = two.events(0);
  EXPECT_THAT(std::string(ValidateBatch(two, small).message()), HasSubstr("limit 1"));
}

TEST(ValidateBatch, RejectsUnsetKindAndBadTimes) {
  v1::EventBatch b = OneRunBatch();
  b.mutable_events(0)->clear_kind();
  EXPECT_THAT(std::string(ValidateBatch(b, {}).message()), HasSubstr("kind is not set"));
  v1::EventBatch t = OneRunBatch();
  t.mutable_events(0)->mutable_run()->mutable_start_time()->set_seconds(-99999999999999);
  EXPECT_THAT(std::string(ValidateBatch(t, {}).message()),
              HasSubstr("start_time is not a valid time"));
}

TEST(ValidateBatch, RejectsOverlongStrings) {
  ValidationLimits limits;
  limits.max_name_bytes = 8;
  v1::EventBatch b = OneRunBatch();
  b.mutable_events(0)->mutable_run()->set_connector_name("a-very-long-connector");
  EXPECT_THAT(std::string(ValidateBatch(b, limits).message()),
              HasSubstr("connector_name is 21 bytes"));
}

TEST(ValidateBatch, ChecksSnapshotConsistency) {
  v1::EventBatch b = OneRunBatch();
  v1::PendingExportSnapshot* s = b.mutable_events(0)->mutable_pending_exports();
  s->set_snapshot_id("x");
  s->set_connector_name("contoso.onmicrosoft.com - AAD");
  *s->mutable_taken_at() = ToProtoTimestamp(absl::FromUnixSeconds(1700000000));
  s->set_pending_deletes(1);
  s->add_deletes()->set_dn("CN=a");
  EXPECT_TRUE(ValidateBatch(b, {}).ok());
  s->add_deletes()->set_dn("CN=b");
  EXPECT_THAT(std::string(ValidateBatch(b, {}).message()), HasSubstr("pending_deletes is 1"));
}

TEST(ValidateBatch, AcceptsAConfigurationAndNamesTheRuleAtFault) {
  v1::EventBatch b = OneRunBatch();
  v1::ServerConfiguration* c = b.mutable_events(0)->mutable_configuration();
  c->set_digest("ab12");
  *c->mutable_taken_at() = ToProtoTimestamp(absl::FromUnixSeconds(1700000000));
  v1::ConnectorConfiguration* k = c->add_connectors();
  k->set_name("contoso.com");
  k->add_partitions()->set_name("DC=contoso,DC=com");
  v1::SyncRuleConfiguration* r = c->add_rules();
  r->set_name("In from AD - User Join");
  r->set_direction("inbound");
  r->set_precedence(100);
  EXPECT_TRUE(ValidateBatch(b, {}).ok());
  r->set_precedence(-1);
  EXPECT_THAT(std::string(ValidateBatch(b, {}).message()),
              HasSubstr("event 0 (configuration): rule 0 (In from AD - User Join): precedence is "
                        "negative"));
  r->set_precedence(1);
  k->mutable_partitions(0)->add_inclusions("");
  EXPECT_THAT(std::string(ValidateBatch(b, {}).message()),
              HasSubstr("connector 0: partition.inclusions is empty"));
  k->mutable_partitions(0)->clear_inclusions();
  c->clear_digest();
  EXPECT_THAT(std::string(ValidateBatch(b, {}).message()), HasSubstr("digest is empty"));
}

TEST(ValidateHello, RequiresIdentityAndRole) {
  v1::Hello h;
  h.set_agent_id("sync01");
  h.set_server("sync01");
  h.set_spool_epoch("e1");
  EXPECT_THAT(std::string(ValidateHello(h, {}).message()), HasSubstr("role is unspecified"));
  h.set_role(v1::SERVER_ROLE_STAGING);
  EXPECT_TRUE(ValidateHello(h, {}).ok());
  h.clear_server();
  EXPECT_THAT(std::string(ValidateHello(h, {}).message()), HasSubstr("server is empty"));
}

}  // namespace
}  // namespace syncwatch
