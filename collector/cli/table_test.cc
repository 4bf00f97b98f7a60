#include "collector/cli/table.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(RenderTable, AlignsColumnsOnTheWidestCell) {
  const Table table{{"SERVER", "RESULT"}, {{"sync01", "success"}, {"sync-staging-02", "x"}}};
  EXPECT_EQ(RenderTable(table),
            "SERVER           RESULT\n"
            "sync01           success\n"
            "sync-staging-02  x\n");
}

TEST(RenderTable, EmptyTableShowsHeaderAndNone) {
  const Table table{{"SERVER", "RESULT"}, {}};
  EXPECT_EQ(RenderTable(table), "SERVER  RESULT\n(none)\n");
}

TEST(RenderTable, AlignsByCodePointsNotBytes) {
  const Table table{{"NAME", "X"}, {{"Jürgen", "1"}, {"Anna", "2"}}};
  EXPECT_EQ(RenderTable(table),
            "NAME    X\n"
            "Jürgen  1\n"
            "Anna    2\n");
}

TEST(RenderTable, TruncatesTheWidestColumnToFitTheWidth) {
  const std::string dn(300, 'd');
  const Table table{{"RUN", "DN", "RESULT"}, {{"42", dn, "success"}}};
  const std::string text = RenderTable(table);
  for (const std::string& line : Lines(text)) EXPECT_LE(DisplayWidth(line), kDefaultTableWidth);
  EXPECT_THAT(text, HasSubstr("…  success"));
  EXPECT_THAT(text, HasSubstr("42   ddd"));
  EXPECT_EQ(DisplayWidth(Lines(text)[1]), kDefaultTableWidth);
}

TEST(RenderTable, NarrowColumnsKeepTheirHeaders) {
  const Table table{{"SERVER", "CONNECTOR"}, {{std::string(50, 's'), std::string(50, 'c')}}};
  const std::vector<std::string> lines = Lines(RenderTable(table, 10));
  EXPECT_EQ(lines[0], "SERVER    CONNECTOR");  // never below the header, even over width
  EXPECT_EQ(lines[1], "sssssss…  cccccccc…");
}

TEST(RenderTable, ControlCharactersBecomeSpaces) {
  const Table table{{"ERROR"}, {{"line one\r\nline\ttwo"}}};
  EXPECT_EQ(RenderTable(table), "ERROR\nline one  line two\n");
}

TEST(RenderTable, ShortRowsArePaddedAndLinesHaveNoTrailingBlanks) {
  const Table table{{"A", "B", "C"}, {{"1"}, {"22", "333", ""}}};
  const std::string text = RenderTable(table);
  EXPECT_EQ(text,
            "A   B    C\n"
            "1\n"
            "22  333\n");
}

TEST(TruncateToWidth, NeverSplitsUtf8) {
  EXPECT_EQ(TruncateToWidth("äöüäöü", 4), "äöü…");
  EXPECT_EQ(TruncateToWidth("äöü", 3), "äöü");
  EXPECT_EQ(TruncateToWidth("abc", 1), "…");
  EXPECT_EQ(TruncateToWidth("abc", 0), "");
}

TEST(CsvField, PlainValuesAreUnquoted) {
  EXPECT_EQ(CsvField("sync01"), "sync01");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("with space"), "with space");
}

TEST(CsvField, QuotesCommasQuotesAndLineBreaks) {
  EXPECT_EQ(CsvField("CN=John,OU=Users"), "\"CN=John,OU=Users\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("a\nb"), "\"a\nb\"");
  EXPECT_EQ(CsvField("a\rb"), "\"a\rb\"");
}

TEST(RenderCsv, HeaderThenRecordsWithCrlf) {
  const Table table{{"server", "dn"}, {{"sync01", "CN=A,DC=x"}, {"sync02"}}};
  EXPECT_EQ(RenderCsv(table),
            "server,dn\r\n"
            "sync01,\"CN=A,DC=x\"\r\n"
            "sync02,\r\n");
}

TEST(RenderCsv, EmptyTableIsTheHeaderOnly) {
  EXPECT_EQ(RenderCsv(Table{{"a", "b"}, {}}), "a,b\r\n");
  EXPECT_THAT(RenderCsv(Table{{"a", "b"}, {}}), Not(HasSubstr("none")));
}

}  // namespace
}  // namespace syncwatch::cli
