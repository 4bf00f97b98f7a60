// Issue 18 on the real sample: the agent's parser reads the bundled
// Get-ADSyncServerConfiguration folder and edited copies of it, and the
// collector's diff lists each edit with its before and after; the same folder
// read twice (as another server with the same rules would be) shows no drift.
#include <string>
#include <vector>

#include "agent/parsers/server_configuration.h"
#include "collector/config/config_diff.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/config_fixtures.h"
#include "tests/testutil/test_util.h"

namespace syncwatch {
namespace {

namespace fx = ::syncwatch::testing;
using ::testing::ElementsAre;

class SampleConfigurationChangesTest : public ::testing::Test {
 protected:
  v1::ServerConfiguration Read(const std::string& dir) {
    auto c = agent::ReadServerConfigurationFolder(dir);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::ServerConfiguration();
  }

  // The sample with `edits`, read by the agent's parser.
  v1::ServerConfiguration Edited(const std::string& name,
                                 const std::vector<fx::ConfigEdit>& edits) {
    const std::string dir = dir_.Sub(name);
    const absl::Status st = fx::CopyConfiguration(fx::SampleConfigurationDir(), dir, edits);
    EXPECT_TRUE(st.ok()) << st;
    return Read(dir);
  }

  static std::vector<std::string> Lines(const std::vector<v1::ConfigurationChange>& changes) {
    std::vector<std::string> lines;
    for (const auto& c : changes) {
      lines.push_back(c.kind() + " | " + c.connector() + " | " + c.rule() + " | " + c.before() +
                      " | " + c.after());
    }
    return lines;
  }

  fx::TempDir dir_;
};

TEST_F(SampleConfigurationChangesTest, EachEditIsListedWithBeforeAndAfter) {
  const v1::ServerConfiguration sample = Read(fx::SampleConfigurationDir());
  ASSERT_GT(sample.rules_size(), 0);
  EXPECT_TRUE(collector::config::ChangesBetween("sync01", "", sample, sample).empty());

  EXPECT_THAT(
      Lines(collector::config::ChangesBetween(
          "sync01", "", sample, Edited("a", {fx::RemoveInclusion("OU=CORP,DC=contoso,DC=com")}))),
      ElementsAre("container-no-longer-included | contoso.com |  | "
                  "OU=CORP,DC=contoso,DC=com | "));
  EXPECT_THAT(Lines(collector::config::ChangesBetween(
                  "sync01", "", sample, Edited("b", {fx::DisableRule("In from AD - User Join")}))),
              ElementsAre("rule-disabled | contoso.com | In from AD - User Join | enabled | "
                          "disabled"));
  const auto scoping = collector::config::ChangesBetween(
      "sync01", "", sample,
      Edited("c", {fx::EditRule("In from AD - User Join", "<csValue>User_</csValue>",
                                "<csValue>Usr_</csValue>")}));
  ASSERT_EQ(scoping.size(), 1u) << ::testing::PrintToString(Lines(scoping));
  EXPECT_EQ(scoping[0].kind(), "scoping-filter-changed");
  EXPECT_EQ(scoping[0].rule(), "In from AD - User Join");
  EXPECT_THAT(scoping[0].before(), ::testing::HasSubstr("User_"));
  EXPECT_THAT(scoping[0].after(), ::testing::HasSubstr("Usr_"));
  EXPECT_THAT(
      Lines(collector::config::ChangesBetween(
          "sync01", "", sample,
          Edited("d", {fx::SetLinkType("Out to AAD - Group Join", "Provision", "Join")}))),
      ElementsAre("link-type-changed | contoso.onmicrosoft.com - AAD | Out to AAD - Group Join | "
                  "Provision | Join"));
}

TEST_F(SampleConfigurationChangesTest, TheSameFolderOnAnotherServerShowsNoDrift) {
  const v1::ServerConfiguration active = Read(fx::SampleConfigurationDir());
  const v1::ServerConfiguration staging = Edited("copy", {});
  EXPECT_TRUE(
      collector::config::DriftBetween("contoso", "sync01", active, "sync02", staging).empty());
  const auto drift = collector::config::DriftBetween(
      "contoso", "sync01", active, "sync02",
      Edited("drifted", {fx::DisableRule("In from AD - User Join")}));
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_EQ(drift[0].kind(), "rule-disabled");
  EXPECT_EQ(drift[0].rule(), "In from AD - User Join");
}

}  // namespace
}  // namespace syncwatch
