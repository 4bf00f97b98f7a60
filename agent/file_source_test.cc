#include "agent/file_source.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fixtures.h"
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
  auto files = FindFiles(dir.Sub("*.json"));
  SYNCWATCH_ASSERT_OK(files);
  ASSERT_EQ(files->size(), 1u);
  auto events = ReadSourceFile(source, (*files)[0], absl::FromUnixSeconds(1700000000));
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
  auto events =
      ReadSourceFile(source, FoundFile{dir.Sub("bad.xml"), "x", absl::Now()}, absl::Now());
  EXPECT_FALSE(events.ok());
  EXPECT_THAT(std::string(events.status().message()), ::testing::HasSubstr("bad.xml"));
}

TEST(ConnectorFromFileName, ReadsTheExportersNames) {
  std::string id, name;
  ASSERT_TRUE(ConnectorFromFileName(
      "/in/pending/"
      "20240301T093012123Z_B891884F-051E-4A83-95AF-2544101C9083_contoso.onmicrosoft.com - AAD.xml",
      &id, &name));
  EXPECT_EQ(id, "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(name, "contoso.onmicrosoft.com - AAD");
  EXPECT_FALSE(ConnectorFromFileName("/in/pending/export.xml", &id, &name));
  EXPECT_FALSE(ConnectorFromFileName("/in/x/20240301T093012123Z_notaguid_c.xml", &id, &name));
}

TEST(ReadSourceFile, PendingExportsNeedAConnectorFromSomewhere) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "pending";
  source.kind = SourceKind::kPendingExports;
  source.format = SourceFormat::kCsexport;
  testing::WriteFile(dir.Sub("empty.xml"), "<cs-objects/>");
  const FoundFile file{dir.Sub("empty.xml"), "1", absl::FromUnixSeconds(1700000000)};
  auto none = ReadSourceFile(source, file, absl::Now());
  EXPECT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()),
              ::testing::HasSubstr("cannot tell which connector"));
  // An empty export for a configured connector is a snapshot with nothing pending.
  source.connector = "contoso.onmicrosoft.com - AAD";
  auto events = ReadSourceFile(source, file, absl::Now());
  SYNCWATCH_ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  const v1::PendingExportSnapshot& s = (*events)[0].pending_exports();
  EXPECT_EQ(s.connector_name(), "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(s.pending_deletes(), 0);
  EXPECT_EQ(s.taken_at().seconds(), 1700000000);
  EXPECT_FALSE(s.snapshot_id().empty());
}

TEST(ReadSourceFile, CutsHugeErrorLiteralsToWhatTheCollectorTakes) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "runs";
  std::string xml = testing::RunHistoryXml("contoso.com", 1, 1);
  const std::string literal(300 * 1024, 'x');
  xml.replace(
      xml.find("<synchronization-errors/>"), 25,
      "<synchronization-errors><export-error cs-guid=\"{12345678-DF83-E611-8CE8-00505689546C}\" "
      "dn=\"CN=a\"><error-type>permission-issue</error-type><cd-error><error-code>0x1</error-code>"
      "<error-literal>" +
          literal + "</error-literal></cd-error></export-error></synchronization-errors>");
  testing::WriteFile(dir.Sub("r.xml"), xml);
  auto events = ReadSourceFile(source, FoundFile{dir.Sub("r.xml"), "1", absl::Now()}, absl::Now());
  SYNCWATCH_ASSERT_OK(events);
  const std::string& got = (*events)[0].run().steps(0).export_errors(0).cd_error().error_literal();
  EXPECT_LT(got.size(), 70u * 1024);
  EXPECT_THAT(got, ::testing::EndsWith("[truncated by syncwatch-agent]"));
}

}  // namespace
}  // namespace syncwatch::agent
