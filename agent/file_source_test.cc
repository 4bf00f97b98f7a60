#include "agent/file_source.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::agent {
namespace {

TEST(WildcardMatch, MatchesStarsAndQuestionMarks) {
  EXPECT_TRUE(WildcardMatch("*.xml", "runs-1.xml"));
  EXPECT_FALSE(WildcardMatch("*.xml", "runs-1.xml.tmp"));
  EXPECT_TRUE(WildcardMatch("run?.json", "run1.json"));
  EXPECT_FALSE(WildcardMatch("run?.json", "run12.json"));
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_TRUE(WildcardMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "aXXbYY"));
}

TEST(FindFiles, ListsMatchingFilesSortedWithFingerprints) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("in/b.xml"), "<b/>");
  testing::WriteFile(dir.Sub("in/a.xml"), "<a/>");
  testing::WriteFile(dir.Sub("in/a.xml.tmp"), "partial");
  std::filesystem::create_directories(dir.Sub("in/sub.xml"));  // a directory is skipped
  auto files = FindFiles(dir.Sub("in/*.xml"));
  SYNCWATCH_ASSERT_OK(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, dir.Sub("in/a.xml"));
  EXPECT_EQ((*files)[1].path, dir.Sub("in/b.xml"));
  const std::string before = (*files)[0].fingerprint;
  testing::WriteFile(dir.Sub("in/a.xml"), "<a>changed</a>");
  files = FindFiles(dir.Sub("in/*.xml"));
  SYNCWATCH_ASSERT_OK(files);
  EXPECT_NE((*files)[0].fingerprint, before);
}

TEST(FindFiles, MissingDirectoryYieldsNothing) {
  testing::TempDir dir;
  auto files = FindFiles(dir.Sub("not-there/*.xml"));
  SYNCWATCH_ASSERT_OK(files);
  EXPECT_TRUE(files->empty());
}

TEST(ReadSourceFile, StampsEventsWithSourceAndTime) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "runs";
  source.format = SourceFormat::kJson;
  testing::WriteFile(dir.Sub("r.json"), R"({"RunHistoryId":"81d206e6-392a-4485-9834-4c241723332d",
    "ConnectorName":"contoso.com","RunProfileName":"Export","RunNumber":3,"Result":"success",
    "StartDate":"\/Date(1649391053843)\/","EndDate":"\/Date(1649391074963)\/","IsRunComplete":true})");
  auto events = ReadSourceFile(source, dir.Sub("r.json"), absl::FromUnixSeconds(1700000000));
  SYNCWATCH_ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].source(), "runs");
  EXPECT_EQ((*events)[0].observed_at().seconds(), 1700000000);
  EXPECT_EQ((*events)[0].run().connector_name(), "contoso.com");
}

TEST(ReadSourceFile, ErrorNamesTheFile) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "runs";
  testing::WriteFile(dir.Sub("bad.xml"), "<run-history><run-details>");
  auto events = ReadSourceFile(source, dir.Sub("bad.xml"), absl::Now());
  EXPECT_FALSE(events.ok());
  EXPECT_THAT(std::string(events.status().message()), ::testing::HasSubstr("bad.xml"));
}

}  // namespace
}  // namespace syncwatch::agent
