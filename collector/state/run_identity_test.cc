#include "collector/state/run_identity.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace syncwatch::collector {
namespace {

TEST(RunIdentityTest, SameRunFollowsRunNaturalId) {
  std::vector<v1::RunProfileResult> runs;
  auto add = [&runs](const std::string& id, const std::string& connector_id,
                     const std::string& connector_name, int64_t number) {
    v1::RunProfileResult& r = runs.emplace_back();
    r.set_run_history_id(id);
    r.set_connector_id(connector_id);
    r.set_connector_name(connector_name);
    r.set_run_number(number);
  };
  add("{9B3F0D2A-0001}", "", "contoso.com", 1);
  add("{9B3F0D2A-0001}", "", "fabrikam.com", 2);  // the same id elsewhere: the same run
  add("{9B3F0D2A-0002}", "", "contoso.com", 1);
  add("", "", "contoso.com", 1);
  add("", "", "contoso.com", 2);
  add("", "", "contoso.com#1", 2);
  add("", "{C0FFEE}", "contoso.com", 1);  // numbered in the connector id
  add("", "{C0FFEE}", "other name", 1);
  add("run#contoso.com#1", "", "x", 9);  // an id that reads like a made-up one
  for (const v1::RunProfileResult& a : runs) {
    for (const v1::RunProfileResult& b : runs) {
      EXPECT_EQ(SameRun(a, b), RunNaturalId(a) == RunNaturalId(b))
          << RunNaturalId(a) << " / " << RunNaturalId(b);
    }
  }
  EXPECT_EQ(RunNaturalId(runs[0]), "{9B3F0D2A-0001}");
  EXPECT_EQ(RunNaturalId(runs[3]), "run#contoso.com#1");
  EXPECT_EQ(RunNaturalId(runs[6]), "run#{C0FFEE}#1");
  EXPECT_TRUE(SameRun(runs[0], runs[1]));
  EXPECT_TRUE(SameRun(runs[6], runs[7]));
  EXPECT_TRUE(SameRun(runs[3], runs[8]));
  EXPECT_FALSE(SameRun(runs[4], runs[5]));
}

}  // namespace
}  // namespace syncwatch::collector
