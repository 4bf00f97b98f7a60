#include "collector/config/delete_causes.h"

#include <string>
#include <vector>

#include "collector/config/config_diff.h"
#include "collector/config/test_configuration.h"
#include "collector/config/test_runs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::collector::config {
namespace {

using ::testing::ElementsAre;
using testing::FindRule;
using ::testing::HasSubstr;
using testing::ImportRun;
using testing::kAad;
using testing::kAd;
using testing::kCustom;
using testing::kUserJoin;
using testing::SampleConfiguration;
using testing::SyncCounters;
using testing::SyncRun;

constexpr int64_t k0900 = 1714554000;  // 2024-05-01T09:00:00Z

// The Entra ID connector's snapshot with `deletes` pending under `container`.
v1::PendingExportSnapshot Snapshot(int64_t deletes, const std::string& container) {
  v1::PendingExportSnapshot s;
  s.set_connector_name(kAad);
  s.set_pending_deletes(deletes);
  for (int64_t i = 0; i < deletes && i < 50; ++i) {
    s.add_deletes()->set_dn("CN=User" + std::to_string(i) + "\\, Jr," + container);
  }
  return s;
}

// The changes from the sample configuration to `after` (taken at 08:55).
std::vector<v1::ConfigurationChange> ChangesTo(v1::ServerConfiguration after) {
  after.mutable_taken_at()->set_seconds(k0900 - 300);
  return ChangesBetween("sync01", "contoso", SampleConfiguration("s"), after);
}

std::vector<std::string> KindsOf(const std::vector<v1::DeleteCause>& causes) {
  std::vector<std::string> kinds;
  for (const auto& c : causes) kinds.push_back(c.kind());
  return kinds;
}

TEST(DeleteCausesTest, OuUnselectedInFiltering) {
  v1::ServerConfiguration after = SampleConfiguration("s");
  after.mutable_connectors(1)->mutable_partitions(0)->add_exclusions(
      "OU=Sales,OU=CORP,DC=contoso,DC=com");
  DeleteEvidence e;
  e.snapshot = Snapshot(700, "OU=Sales,OU=CORP,DC=contoso,DC=com");
  e.changes = ChangesTo(after);
  // The full import after the filter change reads the OU's objects, filters
  // them out and stages their deletion; the sync removes them.
  e.runs.push_back(ImportRun(kAd, k0900, "full-import", 700, 700));
  e.runs.push_back(SyncRun(kAd, k0900 + 120, kAad, {0, 0, 700, 700}));
  const auto causes = ExplainDeletes(e);
  ASSERT_FALSE(causes.empty());
  EXPECT_EQ(causes[0].kind(), "ou-unselected");
  EXPECT_EQ(causes[0].summary(),
            "OU=Sales,OU=CORP,DC=contoso,DC=com excluded from contoso.com's OU filtering at "
            "2024-05-01 08:55 UTC (an OU or domain unselected in the connector's filtering)");
  EXPECT_THAT(
      causes[0].evidence(),
      ::testing::Contains(HasSubstr("stage-delete 700: 700 in full-import of contoso.com")));
  EXPECT_THAT(causes[0].evidence(),
              ::testing::Contains("the apply-rules of contoso.com (run 'Delta Synchronization' "
                                  "#120 at 2024-05-01 09:02 UTC) provisioned 700 disconnects "
                                  "towards contoso.onmicrosoft.com - AAD"));
  EXPECT_THAT(causes[0].evidence(),
              ::testing::Contains("pending deletes under OU=Sales,OU=CORP,DC=contoso,DC=com: 50"));
}

TEST(DeleteCausesTest, OuNoLongerIncludedIsUnselectedToo) {
  v1::ServerConfiguration after = SampleConfiguration("s");
  auto* inclusions = after.mutable_connectors(1)->mutable_partitions(0)->mutable_inclusions();
  inclusions->erase(inclusions->begin());
  DeleteEvidence e;
  e.snapshot = Snapshot(900, "OU=Users,OU=CORP,DC=contoso,DC=com");
  e.changes = ChangesTo(after);
  e.runs.push_back(ImportRun(kAd, k0900, "full-import", 900, 900));
  EXPECT_THAT(KindsOf(ExplainDeletes(e)), ElementsAre("ou-unselected", "ou-renamed"));
}

TEST(DeleteCausesTest, AllObjectsOfAnOuDeleted) {
  DeleteEvidence e;
  e.snapshot = Snapshot(600, "OU=Sales,OU=CORP,DC=contoso,DC=com");
  // Deleted in AD: the delta import stages deletes and filters nothing.
  e.runs.push_back(ImportRun(kAd, k0900, "delta-import", 600, 0));
  e.runs.push_back(SyncRun(kAd, k0900 + 120, kAad, {0, 0, 600, 600}));
  const auto causes = ExplainDeletes(e);
  EXPECT_THAT(KindsOf(causes), ElementsAre("ou-objects-deleted"));
  EXPECT_THAT(causes[0].evidence(),
              ::testing::Contains("filtered-objects 0 in every import since the export"));
}

TEST(DeleteCausesTest, OuRenamedOutOfScope) {
  DeleteEvidence e;
  e.snapshot = Snapshot(600, "OU=Sales,OU=CORP,DC=contoso,DC=com");
  // Renamed: the delta import reads the objects under their new DN, outside
  // the selected OUs, filters them out and stages their deletion.
  e.runs.push_back(ImportRun(kAd, k0900, "delta-import", 600, 600));
  e.runs.push_back(SyncRun(kAd, k0900 + 120, kAad, {0, 0, 600, 600}));
  EXPECT_THAT(KindsOf(ExplainDeletes(e)), ElementsAre("ou-renamed"));
}

TEST(DeleteCausesTest, ScopingFilterChanged) {
  v1::ServerConfiguration after = SampleConfiguration("s");
  FindRule(&after, kUserJoin)
      ->set_scoping_filter("(isCriticalSystemObject NOTEQUAL 'TRUE' AND department EQUAL 'IT')");
  DeleteEvidence e;
  e.snapshot = Snapshot(550, "OU=Users,DC=contoso,DC=com");
  e.changes = ChangesTo(after);
  // Nothing deleted in AD: the sync takes the objects out of the rule's scope.
  e.runs.push_back(ImportRun(kAd, k0900, "delta-import", 0, 0));
  e.runs.push_back(SyncRun(kAd, k0900 + 120, kAad, {550, 0, 0, 550}));
  const auto causes = ExplainDeletes(e);
  EXPECT_THAT(KindsOf(causes), ElementsAre("scoping-filter-changed", "rule-scope-left"));
  EXPECT_THAT(causes[0].summary(), HasSubstr("scoping filter: (isCriticalSystemObject NOTEQUAL "
                                             "'TRUE') -> (isCriticalSystemObject NOTEQUAL 'TRUE' "
                                             "AND department EQUAL 'IT') at 2024-05-01 08:55"));
}

TEST(DeleteCausesTest, ProvisioningRuleDisabled) {
  v1::ServerConfiguration after = SampleConfiguration("s");
  FindRule(&after, kUserJoin)->set_disabled(true);
  FindRule(&after, kCustom)->set_disabled(true);  // a Join rule: not a provisioning one
  DeleteEvidence e;
  e.snapshot = Snapshot(800, "OU=Users,DC=contoso,DC=com");
  e.changes = ChangesTo(after);
  e.runs.push_back(SyncRun(kAd, k0900 + 120, kAad, {800, 0, 0, 800}));
  const auto causes = ExplainDeletes(e);
  EXPECT_THAT(KindsOf(causes), ElementsAre("provisioning-rule-disabled", "rule-scope-left"));
  EXPECT_THAT(causes[0].summary(), HasSubstr("'In from AD - User Join'"));
  EXPECT_THAT(causes[0].summary(), ::testing::Not(HasSubstr(kCustom)));
}

TEST(DeleteCausesTest, LinkTypeChangedFromProvisionToJoin) {
  v1::ServerConfiguration after = SampleConfiguration("s");
  FindRule(&after, kUserJoin)->set_link_type("Join");
  DeleteEvidence e;
  e.snapshot = Snapshot(800, "OU=Users,DC=contoso,DC=com");
  e.changes = ChangesTo(after);
  e.runs.push_back(SyncRun(kAd, k0900 + 120, kAad, {800, 0, 0, 800}));
  EXPECT_THAT(KindsOf(ExplainDeletes(e)), ElementsAre("link-type-join", "rule-scope-left"));
  // Join to Provision deletes nothing.
  after = SampleConfiguration("s");
  FindRule(&after, kCustom)->set_link_type("Provision");
  e.changes = ChangesTo(after);
  EXPECT_THAT(KindsOf(ExplainDeletes(e)), ElementsAre("rule-scope-left"));
}

TEST(DeleteCausesTest, NothingPointsAnywhere) {
  DeleteEvidence e;
  e.snapshot = Snapshot(10, "OU=Users,DC=contoso,DC=com");
  e.runs.push_back(ImportRun(kAd, k0900, "delta-import", 0, 0));
  // The target connector's own import deletes are not a cause of its exports.
  e.runs.push_back(ImportRun(kAad, k0900, "delta-import", 10, 0));
  EXPECT_TRUE(ExplainDeletes(e).empty());
}

TEST(DeleteCausesTest, ParentContainer) {
  EXPECT_EQ(ParentContainer("CN=Doe\\, Ann,OU=Sales,DC=contoso,DC=com"),
            "OU=Sales,DC=contoso,DC=com");
  EXPECT_EQ(ParentContainer("DC=com"), "");
  EXPECT_EQ(DeleteCauseKinds().size(), 7u);
}

}  // namespace
}  // namespace syncwatch::collector::config
