#include "collector/config/config_diff.h"

#include <string>
#include <vector>

#include "collector/config/test_configuration.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::collector::config {
namespace {

using testing::FindRule;
using testing::kAd;
using testing::kCorp;
using testing::kCustom;
using testing::kOutUserJoin;
using testing::kUserJoin;
using testing::SampleConfiguration;

std::vector<std::string> Kinds(const std::vector<Difference>& diff) {
  std::vector<std::string> kinds;
  for (const Difference& d : diff) kinds.push_back(d.kind + " " + d.rule + d.before + d.after);
  return kinds;
}

TEST(ConfigDiffTest, SameRulesUnderOtherGuidsMatch) {
  const v1::ServerConfiguration a = SampleConfiguration("server-a");
  const v1::ServerConfiguration b = SampleConfiguration("server-b");
  EXPECT_THAT(Kinds(Diff(a, b)), ::testing::IsEmpty());
}

TEST(ConfigDiffTest, OuNoLongerIncluded) {
  const v1::ServerConfiguration before = SampleConfiguration("s");
  v1::ServerConfiguration after = before;
  auto* inclusions = after.mutable_connectors(1)->mutable_partitions(0)->mutable_inclusions();
  inclusions->erase(inclusions->begin());  // OU=CORP
  const std::vector<Difference> diff = Diff(before, after);
  ASSERT_EQ(diff.size(), 1u) << ::testing::PrintToString(Kinds(diff));
  EXPECT_EQ(diff[0].kind, "container-no-longer-included");
  EXPECT_EQ(diff[0].connector, kAd);
  EXPECT_EQ(diff[0].partition, "DC=contoso,DC=com");
  EXPECT_EQ(diff[0].before, kCorp);
  EXPECT_EQ(diff[0].after, "");
  EXPECT_EQ(diff[0].summary,
            "OU=CORP,DC=contoso,DC=com no longer included in contoso.com's OU filtering");
}

TEST(ConfigDiffTest, ExclusionObjectClassAndPartition) {
  const v1::ServerConfiguration before = SampleConfiguration("s");
  v1::ServerConfiguration after = before;
  v1::ConnectorPartition* p = after.mutable_connectors(1)->mutable_partitions(0);
  p->add_exclusions("OU=Sales,OU=CORP,DC=contoso,DC=com");
  p->mutable_object_classes()->RemoveLast();  // user
  v1::ConnectorPartition* child = after.mutable_connectors(1)->add_partitions();
  child->set_name("DC=emea,DC=contoso,DC=com");
  child->set_selected(true);
  EXPECT_THAT(Kinds(Diff(before, after)),
              ::testing::ElementsAre("container-excluded OU=Sales,OU=CORP,DC=contoso,DC=com",
                                     "object-class-removed user",
                                     "partition-selected not selectedselected"));
  EXPECT_THAT(Kinds(Diff(after, before)),
              ::testing::ElementsAre(
                  "container-no-longer-excluded OU=Sales,OU=CORP,DC=contoso,DC=com",
                  "object-class-added user", "partition-unselected selectednot selected"));
}

TEST(ConfigDiffTest, RuleDisabledScopingFilterAndLinkType) {
  const v1::ServerConfiguration before = SampleConfiguration("s");
  v1::ServerConfiguration after = before;
  FindRule(&after, kUserJoin)->set_disabled(true);
  FindRule(&after, kOutUserJoin)
      ->set_scoping_filter("(sourceObjectType EQUAL 'User' AND department EQUAL 'Sales')");
  FindRule(&after, kCustom)->set_link_type("Provision");
  FindRule(&after, kUserJoin)->set_link_type("Join");
  const std::vector<Difference> diff = Diff(before, after);
  ASSERT_EQ(diff.size(), 4u) << ::testing::PrintToString(Kinds(diff));
  // Rules come by match key: the custom rule (by name) first, then by tag.
  EXPECT_EQ(diff[0].kind, "link-type-changed");
  EXPECT_EQ(diff[0].rule, kCustom);
  EXPECT_EQ(diff[0].before, "Join");
  EXPECT_EQ(diff[0].after, "Provision");
  EXPECT_EQ(diff[1].kind, "rule-disabled");
  EXPECT_EQ(diff[1].rule, kUserJoin);
  EXPECT_EQ(diff[1].before, "enabled");
  EXPECT_EQ(diff[1].after, "disabled");
  EXPECT_EQ(diff[1].summary, "sync rule 'In from AD - User Join' (contoso.com, inbound) disabled");
  EXPECT_EQ(diff[2].kind, "link-type-changed");
  EXPECT_EQ(diff[2].rule, kUserJoin);
  EXPECT_EQ(diff[2].before, "Provision");
  EXPECT_EQ(diff[2].after, "Join");
  EXPECT_EQ(diff[2].link_type, "Provision");
  EXPECT_EQ(diff[3].kind, "scoping-filter-changed");
  EXPECT_EQ(diff[3].rule, kOutUserJoin);
  EXPECT_EQ(diff[3].before, "(sourceObjectType EQUAL 'User' AND cloudFiltered NOTEQUAL 'true')");
  EXPECT_EQ(diff[3].after, "(sourceObjectType EQUAL 'User' AND department EQUAL 'Sales')");
}

TEST(ConfigDiffTest, RulesMatchByTagThenNameNeverGuid) {
  const v1::ServerConfiguration before = SampleConfiguration("s");
  v1::ServerConfiguration after = SampleConfiguration("other");
  // A built-in rule renamed keeps its tag: the same rule.
  FindRule(&after, kUserJoin)->set_name("In from AD - User Join (renamed)");
  EXPECT_THAT(Kinds(Diff(before, after)), ::testing::IsEmpty());
  // A custom rule renamed is another rule.
  FindRule(&after, kCustom)->set_name("In from AD - Contractors v2");
  EXPECT_THAT(Kinds(Diff(before, after)),
              ::testing::ElementsAre("rule-removed In from AD - ContractorsJoin",
                                     "rule-added In from AD - Contractors v2Join"));
}

TEST(ConfigDiffTest, PrecedenceFlowsJoinCriteriaAndConnectors) {
  const v1::ServerConfiguration before = SampleConfiguration("s");
  v1::ServerConfiguration after = before;
  v1::SyncRuleConfiguration* r = FindRule(&after, kUserJoin);
  r->set_precedence(99);
  r->set_attribute_flow_count(13);
  r->set_attribute_flows_digest("ffff");
  r->set_join_criteria("(mail = mail)");
  after.mutable_connectors()->RemoveLast();  // contoso.com
  v1::ConnectorConfiguration* fabrikam = after.add_connectors();
  fabrikam->set_name("fabrikam.com");
  fabrikam->set_type("AD");
  const std::vector<Difference> diff = Diff(before, after);
  EXPECT_THAT(Kinds(diff), ::testing::ElementsAre(
                               "connector-removed contoso.com", "connector-added fabrikam.com",
                               "join-criteria-changed In from AD - User Join"
                               "(objectGUID = sourceAnchorBinary)(mail = mail)",
                               "precedence-changed In from AD - User Join10499",
                               "attribute-flows-changed In from AD - User Join12 flows, digest "
                               "aa11bb22cc3313 flows, digest ffff"));
}

TEST(ConfigDiffTest, ChangesCarryServerAndTime) {
  const v1::ServerConfiguration before = SampleConfiguration("s");
  v1::ServerConfiguration after = before;
  after.mutable_taken_at()->set_seconds(1714553700);
  FindRule(&after, kUserJoin)->set_disabled(true);
  const auto changes = ChangesBetween("sync01", "contoso", before, after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].server(), "sync01");
  EXPECT_EQ(changes[0].tenant(), "contoso");
  EXPECT_EQ(changes[0].detected_at().seconds(), 1714553700);
  EXPECT_EQ(changes[0].kind(), "rule-disabled");
  EXPECT_EQ(changes[0].link_type(), "Provision");
}

TEST(ConfigDriftTest, OneChangedRuleIsExactlyThatRule) {
  const v1::ServerConfiguration active = SampleConfiguration("active");
  v1::ServerConfiguration staging = SampleConfiguration("staging");
  EXPECT_TRUE(DriftBetween("contoso", "sync01", active, "sync02", staging).empty());
  FindRule(&staging, kOutUserJoin)->set_disabled(true);
  const auto drift = DriftBetween("contoso", "sync01", active, "sync02", staging);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_EQ(drift[0].kind(), "rule-disabled");
  EXPECT_EQ(drift[0].rule(), kOutUserJoin);
  EXPECT_EQ(drift[0].server(), "sync02");
  EXPECT_EQ(drift[0].reference_server(), "sync01");
  EXPECT_EQ(drift[0].reference_value(), "enabled");
  EXPECT_EQ(drift[0].value(), "disabled");
  EXPECT_EQ(drift[0].summary(),
            "sync02 differs from sync01: sync rule 'Out to AAD - User Join' "
            "(contoso.onmicrosoft.com - AAD, outbound) disabled");
}

}  // namespace
}  // namespace syncwatch::collector::config
