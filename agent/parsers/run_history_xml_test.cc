#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/parser_test_util.h"
#include "agent/parsers/run_history.h"
#include "agent/parsers/run_history_internal.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::agent::testing::FailingByteReader;
using ::syncwatch::agent::testing::Parsed;
using ::syncwatch::agent::testing::ParseWith;
using ::syncwatch::agent::testing::ParseXml;
using ::syncwatch::agent::testing::ReadFileOrEmpty;
using ::syncwatch::agent::testing::SamplePath;
using ::syncwatch::agent::testing::StatusIs;
using ::syncwatch::agent::testing::ToUtf16;
using ::syncwatch::agent::testing::TricklingByteReader;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kDeltaImportSample[] =
    "mim-run-history-xml/run-history-delta-import-stopped-connectivity.xml";
constexpr char kExportSample[] =
    "mim-run-history-xml/run-history-export-completed-export-errors.xml";

absl::Time T(absl::string_view text) { return ParseEngineTime(text).value(); }
absl::Time T(const google::protobuf::Timestamp& ts) { return FromProtoTimestamp(ts); }

Parsed ParseSample(const char* relative) {
  absl::StatusOr<std::unique_ptr<FileByteReader>> in = FileByteReader::Open(SamplePath(relative));
  if (!in.ok()) return Parsed{in.status(), {}};
  return ParseWith(&ParseRunHistoryXml, **in, relative);
}

// A <step-details> shaped like DOMAIN.md §1.5; `end` empty leaves out end-date.
std::string Step(int number, absl::string_view result, absl::string_view start,
                 absl::string_view end, absl::string_view extra = "") {
  return absl::StrCat("  <step-details step-number=\"", number,
                      "\" step-id=\"{0D16BE50-FB6A-4CDC-B528-59B41D3F41A", number, "}\">\n",
                      "   <start-date>", start, "</start-date>\n",
                      end.empty() ? "" : absl::StrCat("   <end-date>", end, "</end-date>\n"),
                      "   <step-result>", result, "</step-result>\n", extra, "  </step-details>\n");
}

std::string RunDetails(absl::string_view ma_name, int run_number, absl::string_view steps) {
  return absl::StrCat(" <run-details>\n  <ma-id>{B891884F-051E-4A83-95AF-2544101C9083}</ma-id>\n",
                      "  <ma-name>", ma_name, "</ma-name>\n  <run-number>", run_number,
                      "</run-number>\n  <run-profile-name>Export</run-profile-name>\n",
                      "  <security-id>NT SERVICE\\ADSync</security-id>\n", steps,
                      " </run-details>\n");
}

std::string Doc(absl::string_view runs) {
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<run-history>\n", runs,
                      "</run-history>\n");
}

std::string SimpleDoc(absl::string_view ma_name, int run_number) {
  return Doc(RunDetails(ma_name, run_number,
                        Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:05.000")));
}

// ---- the real samples -----------------------------------------------------

TEST(RunHistoryXmlSampleTest, DeltaImportStoppedConnectivityRunLevel) {
  Parsed p = ParseSample(kDeltaImportSample);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunProfileResult& run = p.runs[0];
  EXPECT_EQ(run.connector_name(), "MOSSAD-company");
  EXPECT_EQ(run.connector_id(), "85098734-66bc-4938-8122-c5f585f463d0");
  EXPECT_EQ(run.run_number(), 1879);
  EXPECT_EQ(run.run_profile_name(), "DS_DELTAIMPORT");
  EXPECT_EQ(run.username(), "domain\\serviceacc");
  EXPECT_EQ(run.result(), "stopped-connectivity");
  EXPECT_TRUE(run.is_run_complete());
  EXPECT_EQ(run.total_steps(), 2);
  EXPECT_EQ(run.current_step_number(), 2);
  EXPECT_EQ(run.run_history_id(), "");
  EXPECT_EQ(T(run.start_time()), T("2017-01-04T23:00:35.380Z"));
  EXPECT_EQ(T(run.end_time()), T("2017-01-04T23:00:58.987Z"));
}

TEST(RunHistoryXmlSampleTest, DeltaImportStepsAreSortedWithTheirCounters) {
  Parsed p = ParseSample(kDeltaImportSample);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  ASSERT_THAT(p.runs[0].steps(), SizeIs(2));
  const v1::RunStep& s1 = p.runs[0].steps(0);
  EXPECT_EQ(s1.step_number(), 1);
  EXPECT_EQ(s1.step_id(), "874beb73-fff1-4c43-9836-26d8aace454e");
  EXPECT_EQ(s1.result(), "success");
  EXPECT_EQ(s1.step_type(), "delta-import");
  EXPECT_THAT(s1.step_subtypes(), ElementsAre("to-cs"));
  EXPECT_EQ(s1.partition(), "DC=za,DC=company,DC=com");
  EXPECT_EQ(s1.connection_result(), "success");
  EXPECT_EQ(s1.connection_server(), "dc.company.com:389");
  EXPECT_EQ(s1.staging_counters().stage_add(), 3);
  EXPECT_EQ(s1.staging_counters().stage_update(), 27);
  EXPECT_EQ(s1.staging_counters().stage_rename(), 2);
  EXPECT_EQ(s1.staging_counters().stage_delete(), 0);
  EXPECT_EQ(s1.filtered_objects(), 46);
  EXPECT_EQ(s1.filtered_deletions(), 0);
  EXPECT_EQ(T(s1.start_time()), T("2017-01-04 23:00:35.380"));
  EXPECT_EQ(T(s1.end_time()), T("2017-01-04 23:00:55.223"));
  EXPECT_THAT(s1.export_errors(), IsEmpty());

  const v1::RunStep& s2 = p.runs[0].steps(1);
  EXPECT_EQ(s2.step_number(), 2);
  EXPECT_EQ(s2.step_id(), "0d16be50-fb6a-4cdc-b528-59b41d3f41a3");
  EXPECT_EQ(s2.result(), "stopped-connectivity");
  EXPECT_EQ(s2.partition(), "DC=ab,DC=company,DC=com");
  EXPECT_EQ(s2.staging_counters().stage_add(), 0);
  EXPECT_EQ(s2.filtered_objects(), 0);
}

TEST(RunHistoryXmlSampleTest, DeltaImportConnectionIncidents) {
  Parsed p = ParseSample(kDeltaImportSample);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunStep& s2 = p.runs[0].steps(1);
  EXPECT_EQ(s2.connection_result(), "failed-search");
  EXPECT_EQ(s2.connection_server(), "DC01.ab.company.com:389");
  ASSERT_THAT(s2.connection_incidents(), SizeIs(2));
  const v1::ConnectionIncident& ok = s2.connection_incidents(0);
  EXPECT_EQ(ok.connection_result(), "success");
  EXPECT_EQ(T(ok.date()), T("2017-01-04 23:00:58.473"));
  EXPECT_FALSE(ok.has_cd_error());
  const v1::ConnectionIncident& failed = s2.connection_incidents(1);
  EXPECT_EQ(failed.connection_result(), "failed-search");
  EXPECT_EQ(failed.server(), "DC01.ab.company.com:389");
  EXPECT_EQ(T(failed.date()), T("2017-01-04 23:00:58.957"));
  EXPECT_EQ(failed.cd_error().error_code(), "8453");
  EXPECT_EQ(failed.cd_error().error_literal(), "Replication access was denied.");
  EXPECT_EQ(failed.cd_error().server_error_detail(),
            "00002105: LdapErr: DSID-adcv, comment: Error processing control, data 0, v1db1");
}

TEST(RunHistoryXmlSampleTest, ExportWithOneExportError) {
  Parsed p = ParseSample(kExportSample);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunProfileResult& run = p.runs[0];
  EXPECT_EQ(run.connector_name(), "MOSS-UserProfile");
  EXPECT_EQ(run.connector_id(), "fb0d00e1-4e0b-44da-af5f-62d4d99b2fbc");
  EXPECT_EQ(run.run_number(), 2590);
  EXPECT_EQ(run.run_profile_name(), "MOSS_EXPORT_a9061a90-5fb2-485e-90e8-4019c5c1f9ce");
  EXPECT_EQ(run.result(), "completed-export-errors");
  EXPECT_TRUE(run.is_run_complete());
  EXPECT_EQ(T(run.start_time()), T("2017-01-04T23:05:05.367Z"));
  EXPECT_EQ(T(run.end_time()), T("2017-01-04T23:06:06.677Z"));
  ASSERT_THAT(run.steps(), SizeIs(1));
  const v1::RunStep& step = run.steps(0);
  EXPECT_EQ(step.step_type(), "export");
  EXPECT_THAT(step.step_subtypes(), IsEmpty());
  EXPECT_EQ(step.partition(), "default");
  EXPECT_EQ(step.connection_result(), "");
  EXPECT_EQ(step.export_counters().export_add(), 3);
  EXPECT_EQ(step.export_counters().export_update(), 23);
  EXPECT_EQ(step.export_counters().export_failure(), 1);
  EXPECT_EQ(step.export_counters().export_delete(), 0);

  ASSERT_THAT(step.export_errors(), SizeIs(1));
  const v1::ExportError& e = step.export_errors(0);
  EXPECT_EQ(e.cs_guid(), "12345678-df83-e611-8ce8-00505689546c");
  EXPECT_EQ(e.dn(), "MVID=67d2da90-0c2a-e411-a2e8-0050568e45d6");
  EXPECT_EQ(e.connector_name(), "MOSS-UserProfile");
  EXPECT_EQ(e.connector_id(), "fb0d00e1-4e0b-44da-af5f-62d4d99b2fbc");
  EXPECT_EQ(e.retry_count(), 77);
  EXPECT_EQ(e.error_type(), "ma-extension-error");
  EXPECT_EQ(T(e.date_occurred()), T("2017-01-04 23:06:02.006"));
  EXPECT_EQ(T(e.first_occurred()), T("2016-09-26 12:02:16.987"));
  EXPECT_EQ(e.cd_error().error_code(), "0x80230703");
  EXPECT_EQ(e.conflict_attribute(), "");
}

TEST(RunHistoryXmlSampleTest, ExportErrorLiteralArrivesIntact) {
  Parsed p = ParseSample(kExportSample);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const std::string& literal = p.runs[0].steps(0).export_errors(0).cd_error().error_literal();
  EXPECT_THAT(literal, StartsWith("System.Reflection.TargetInvocationException: Exception has"));
  EXPECT_THAT(literal, HasSubstr("---> System.AggregateException: One \n"));
  EXPECT_THAT(literal, HasSubstr("ProfileImportExportService.<>c__DisplayClass26."
                                 "<UpdateWithProfileChangeData>b__24(Int32 idx)"));
  // Inner lines keep their indentation; only the ends are trimmed.
  EXPECT_THAT(literal, HasSubstr("\n       at System.Uri.CreateThis(String uri"));
  EXPECT_THAT(literal, HasSubstr("\n       --- End of inner exception stack trace ---\n"));
  EXPECT_THAT(literal, ::testing::EndsWith("CSEntry csentry)"));
}

// ---- fixtures after DOMAIN.md §1.5 ----------------------------------------

TEST(RunHistoryXmlTest, SeveralRunDetailsInOneRunHistory) {
  const std::string xml = Doc(absl::StrCat(
      RunDetails("contoso.com", 10,
                 Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:01:00.000")),
      RunDetails("contoso.onmicrosoft.com - AAD", 11,
                 Step(1, "completed-export-errors", "2024-03-01 10:02:00.000",
                      "2024-03-01 10:03:00.000"))));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(2));
  EXPECT_EQ(p.runs[0].connector_name(), "contoso.com");
  EXPECT_EQ(p.runs[0].run_number(), 10);
  EXPECT_EQ(p.runs[0].result(), "success");
  EXPECT_EQ(p.runs[1].connector_name(), "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(p.runs[1].connector_id(), "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(p.runs[1].username(), "NT SERVICE\\ADSync");
  EXPECT_EQ(p.runs[1].result(), "completed-export-errors");
}

TEST(RunHistoryXmlTest, ExecutionHistoriesWrapper) {
  const std::string xml = absl::StrCat(
      "<?xml version=\"1.0\"?>\n<execution-histories>\n<run-history>\n",
      RunDetails("a", 1, Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:01.000")),
      RunDetails("b", 2, Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:01.000")),
      "</run-history>\n<run-history>\n",
      RunDetails("c", 3, Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:01.000")),
      "</run-history>\n</execution-histories>\n");
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(3));
  EXPECT_EQ(p.runs[0].connector_name(), "a");
  EXPECT_EQ(p.runs[2].connector_name(), "c");
  EXPECT_EQ(p.runs[2].run_number(), 3);
}

TEST(RunHistoryXmlTest, ConcatenatedDocumentsAreAllRead) {
  // What `$runs | ForEach-Object { $_.RunDetails().ReturnValue } | Out-File`
  // leaves: one declaration per document, CRLF between them.
  const std::string xml =
      absl::StrCat(SimpleDoc("a", 1), "\r\n", SimpleDoc("b", 2), "\r\n\r\n", SimpleDoc("c", 3));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(3));
  EXPECT_EQ(p.runs[0].connector_name(), "a");
  EXPECT_EQ(p.runs[1].connector_name(), "b");
  EXPECT_EQ(p.runs[2].connector_name(), "c");
}

TEST(RunHistoryXmlTest, ConcatenatedDocumentWithoutDeclaration) {
  const std::string second = SimpleDoc("b", 2);
  const std::string xml =
      absl::StrCat(SimpleDoc("a", 1), second.substr(second.find("<run-history>")));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(2));
  EXPECT_EQ(p.runs[1].connector_name(), "b");
}

TEST(RunHistoryXmlTest, ConcatenatedRealSamples) {
  const std::string a = ReadFileOrEmpty(SamplePath(kDeltaImportSample));
  const std::string b = ReadFileOrEmpty(SamplePath(kExportSample));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  Parsed p = ParseXml(absl::StrCat(a, b, "\n", a));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(3));
  EXPECT_EQ(p.runs[0].connector_name(), "MOSSAD-company");
  EXPECT_EQ(p.runs[1].connector_name(), "MOSS-UserProfile");
  EXPECT_EQ(p.runs[2].connector_name(), "MOSSAD-company");
}

TEST(RunHistoryXmlTest, ErrorLineCountsAcrossConcatenatedDocuments) {
  const std::string first = SimpleDoc("a", 1);
  const int first_lines = static_cast<int>(std::count(first.begin(), first.end(), '\n'));
  std::string second = SimpleDoc("b", 2);
  absl::StrReplaceAll({{"<run-number>2<", "<run-number>x<"}}, &second);
  Parsed p = ParseXml(absl::StrCat(first, second));
  // <run-number> is line 6 of a document.
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 absl::StrCat("t.xml:", first_lines + 6, ": <run-number>")));
  ASSERT_THAT(p.runs, SizeIs(1));
}

// The parser reads 64 KiB chunks. A comment before the root pads a document
// so that what follows starts at a chosen offset.
std::string PaddedDoc(absl::string_view ma_name, size_t padded_prefix_size) {
  const std::string head = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n";
  const size_t pad = padded_prefix_size - head.size() - 7;  // "<!--" + "-->"
  return absl::StrCat(head, "<!--", std::string(pad, 'x'), "-->",
                      SimpleDoc(ma_name, 1).substr(head.size()));
}

TEST(RunHistoryXmlTest, DocumentSeamAcrossChunkBoundaries) {
  constexpr size_t kChunk = 64 * 1024;
  const std::string tail = SimpleDoc("a", 1).substr(SimpleDoc("a", 1).find("<run-history>"));
  for (int shift = -80; shift <= 40; ++shift) {
    // The first document ends `shift` bytes after the chunk boundary.
    const size_t end = static_cast<size_t>(static_cast<int>(kChunk) + shift);
    const std::string first = PaddedDoc("a", end - tail.size());
    ASSERT_EQ(first.size(), end);
    Parsed p = ParseXml(absl::StrCat(first, "\r\n", SimpleDoc("b", 2)));
    ASSERT_TRUE(p.status.ok()) << "shift " << shift << ": " << p.status;
    ASSERT_THAT(p.runs, SizeIs(2)) << "shift " << shift;
    EXPECT_EQ(p.runs[1].connector_name(), "b") << "shift " << shift;
  }
}

TEST(RunHistoryXmlTest, MultiByteCharactersAcrossChunkBoundaries) {
  constexpr size_t kChunk = 64 * 1024;
  const std::string name = "\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80z";  // ü € 😀 z
  for (size_t before = 1; before <= 12; ++before) {
    // The name starts `before` bytes ahead of the chunk boundary.
    std::string xml = PaddedDoc(name, 64);
    const size_t at = xml.find("<ma-name>") + 9;
    xml.insert(xml.find("<!--") + 4, std::string(kChunk - before - at, 'x'));
    ASSERT_EQ(xml.find(name), kChunk - before);
    Parsed p = ParseXml(xml);
    ASSERT_TRUE(p.status.ok()) << "before " << before << ": " << p.status;
    ASSERT_THAT(p.runs, SizeIs(1));
    EXPECT_EQ(p.runs[0].connector_name(), name);
  }
}

TEST(RunHistoryXmlErrorTest, InvalidUtf8SplitAcrossChunks) {
  constexpr size_t kChunk = 64 * 1024;
  std::string xml = PaddedDoc("\xE2\x82(bad", 64);
  const size_t at = xml.find("<ma-name>") + 9;
  // The lead bytes end the first chunk; the bad continuation starts the next.
  xml.insert(xml.find("<!--") + 4, std::string(kChunk - 2 - at, 'x'));
  ASSERT_EQ(xml.find("\xE2\x82("), kChunk - 2);
  Parsed p = ParseXml(xml);
  EXPECT_EQ(p.status, absl::InvalidArgumentError(
                          absl::StrCat("t.xml:5: invalid UTF-8 at byte ", kChunk - 2,
                                       ": multi-byte sequence cut short (bad continuation byte)")));
}

Parsed ParseXmlChunked(absl::string_view text, size_t chunk_size) {
  StringByteReader in(text);
  Parsed out;
  out.status = internal::ParseRunHistoryXmlChunked(
      in, "t.xml",
      [&out](v1::RunProfileResult run) {
        out.runs.push_back(std::move(run));
        return absl::OkStatus();
      },
      chunk_size);
  return out;
}

constexpr size_t kChunkSizes[] = {1, 2, 3, 4, 5, 7, 13, 64, 1000, 4096};

void ExpectSameForEveryChunkSize(absl::string_view input, absl::string_view label) {
  const Parsed whole = ParseXml(input);
  for (size_t chunk : kChunkSizes) {
    const Parsed p = ParseXmlChunked(input, chunk);
    EXPECT_EQ(p.status, whole.status) << label << ", chunk " << chunk;
    ASSERT_EQ(p.runs.size(), whole.runs.size()) << label << ", chunk " << chunk;
    for (size_t i = 0; i < p.runs.size(); ++i) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(p.runs[i], whole.runs[i]))
          << label << ", chunk " << chunk << ", run " << i;
    }
  }
}

TEST(RunHistoryXmlTest, SameRunsForEveryChunkSize) {
  const std::string a = ReadFileOrEmpty(SamplePath(kDeltaImportSample));
  const std::string b = ReadFileOrEmpty(SamplePath(kExportSample));
  const std::string concatenated = absl::StrCat(a, b, "\r\n", a);
  ASSERT_TRUE(ParseXml(concatenated).status.ok());
  ExpectSameForEveryChunkSize(concatenated, "UTF-8");
  ExpectSameForEveryChunkSize(ToUtf16(concatenated, /*little_endian=*/true), "UTF-16LE");
  ExpectSameForEveryChunkSize(ToUtf16(concatenated, /*little_endian=*/false), "UTF-16BE");
  ExpectSameForEveryChunkSize(
      absl::StrCat("\xEF\xBB\xBF", SimpleDoc("Zürich", 1), SimpleDoc("b", 2)), "UTF-8 with BOM");
}

TEST(RunHistoryXmlErrorTest, SameErrorForEveryChunkSize) {
  const std::string sample = ReadFileOrEmpty(SamplePath(kDeltaImportSample));
  std::string bad_utf8 = SimpleDoc("contoso", 1);
  absl::StrReplaceAll({{"<ma-name>contoso", "<ma-name>cont\xE2\x82(so"}}, &bad_utf8);
  const std::pair<const char*, std::string> inputs[] = {
      {"truncated", sample.substr(0, 4000)},
      {"bad utf-8", bad_utf8},
      {"bad utf-8 in second document", absl::StrCat(SimpleDoc("a", 1), bad_utf8)},
      {"doctype", "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a \"b\">]><run-history/>"},
      {"garbage after", absl::StrCat(SimpleDoc("a", 1), "\n garbage")},
      {"second document without run-details",
       absl::StrCat(SimpleDoc("a", 1), "<?xml version=\"1.0\"?>\n<run-history>\n<x/>")},
  };
  for (const auto& [label, input] : inputs) {
    ASSERT_FALSE(ParseXml(input).status.ok()) << label;
    ExpectSameForEveryChunkSize(input, label);
  }
}

TEST(RunHistoryXmlTest, ShortReadsFromTheReader) {
  const std::string xml = absl::StrCat(SimpleDoc("a", 1), SimpleDoc("b", 2));
  TricklingByteReader in(xml, 7);
  Parsed p = ParseWith(&ParseRunHistoryXml, in, "t.xml");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.runs, SizeIs(2));
}

TEST(RunHistoryXmlTest, Utf16LittleEndianWithBom) {
  const std::string xml = absl::StrCat(SimpleDoc("Zürich", 1), "\r\n", SimpleDoc("b", 2));
  Parsed p = ParseXml(ToUtf16(xml, /*little_endian=*/true));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(2));
  EXPECT_EQ(p.runs[0].connector_name(), "Zürich");
  EXPECT_EQ(p.runs[1].connector_name(), "b");
}

TEST(RunHistoryXmlTest, Utf16BigEndianWithBom) {
  Parsed p = ParseXml(ToUtf16(SimpleDoc("Zürich", 1), /*little_endian=*/false));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].connector_name(), "Zürich");
}

TEST(RunHistoryXmlErrorTest, LoneUtf16SurrogateEitherByteOrderAnyChunkSize) {
  const std::string utf8 = SimpleDoc("Zurich", 1);
  const size_t z = utf8.find("Zurich");
  const int64_t line =
      1 + std::count(utf8.begin(), utf8.begin() + static_cast<std::ptrdiff_t>(z), '\n');
  for (bool le : {true, false}) {
    std::string xml = ToUtf16(utf8, le);
    const size_t at = 2 + 2 * z;      // BOM, then one code unit per ASCII byte
    xml[at + (le ? 1 : 0)] = '\xDB';  // 'Z' (0x005A) becomes U+DB5A, a high surrogate
    const absl::Status want = absl::InvalidArgumentError(
        absl::StrCat("t.xml:", line, ": invalid UTF-16 at byte ", at,
                     ": high surrogate U+DB5A not followed by a low surrogate"));
    for (size_t chunk : {size_t{64 * 1024}, size_t{1}, size_t{at + 1}, size_t{at + 2}}) {
      EXPECT_EQ(ParseXmlChunked(xml, chunk).status, want) << "chunk " << chunk << " le " << le;
    }
  }
}

TEST(RunHistoryXmlTest, Utf16LittleEndianRealSample) {
  const std::string xml = ReadFileOrEmpty(SamplePath(kExportSample));
  Parsed p = ParseXml(ToUtf16(xml, /*little_endian=*/true));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_THAT(p.runs[0].steps(0).export_errors(0).cd_error().error_literal(),
              HasSubstr("<>c__DisplayClass26"));
}

TEST(RunHistoryXmlTest, Utf16LittleEndianWithoutBom) {
  Parsed p = ParseXml(ToUtf16(SimpleDoc("Zürich", 1), /*little_endian=*/true).substr(2));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].connector_name(), "Zürich");
}

TEST(RunHistoryXmlTest, StepNumberAttributeAsInMicrosoftsExample) {
  // The MS <run-history> page writes number="1" where real dumps have step-number.
  std::string xml = SimpleDoc("a", 1);
  absl::StrReplaceAll({{"step-number=", "number="}}, &xml);
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].steps(0).step_number(), 1);
}

TEST(RunHistoryXmlTest, Utf8WithBom) {
  Parsed p = ParseXml(absl::StrCat("\xEF\xBB\xBF", SimpleDoc("a", 1)));
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.runs, SizeIs(1));
}

TEST(RunHistoryXmlTest, InProgressRun) {
  const std::string xml = Doc(RunDetails(
      "contoso.com", 5,
      absl::StrCat(Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:30.000"),
                   Step(2, "in-progress", "2024-03-01 10:00:30.000", ""))));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunProfileResult& run = p.runs[0];
  EXPECT_EQ(run.result(), "in-progress");
  EXPECT_FALSE(run.is_run_complete());
  EXPECT_FALSE(run.has_end_time());
  EXPECT_EQ(T(run.start_time()), T("2024-03-01 10:00:00.000"));
  EXPECT_EQ(run.current_step_number(), 2);
  EXPECT_EQ(run.total_steps(), 2);
  EXPECT_FALSE(run.steps(1).has_end_time());
}

TEST(RunHistoryXmlTest, CompletingStepMeansRunning) {
  const std::string xml =
      Doc(RunDetails("contoso.com", 5,
                     Step(1, "completing-referential-updates", "2024-03-01 10:00:00.000",
                          "2024-03-01 10:00:30.000")));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_FALSE(p.runs[0].is_run_complete());
  EXPECT_TRUE(p.runs[0].has_end_time());
}

TEST(RunHistoryXmlTest, RunResultIsTheHighestStepsResult) {
  const std::string xml = Doc(RunDetails(
      "contoso.com", 5,
      absl::StrCat(
          Step(3, "completed-sync-errors", "2024-03-01 10:02:00.000", "2024-03-01 10:03:00.000"),
          Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:01:00.000"),
          Step(2, "success", "2024-03-01 10:01:00.000", "2024-03-01 10:02:00.000"))));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunProfileResult& run = p.runs[0];
  ASSERT_THAT(run.steps(), SizeIs(3));
  EXPECT_EQ(run.steps(0).step_number(), 1);
  EXPECT_EQ(run.steps(1).step_number(), 2);
  EXPECT_EQ(run.steps(2).step_number(), 3);
  EXPECT_EQ(run.result(), "completed-sync-errors");
  EXPECT_EQ(T(run.start_time()), T("2024-03-01 10:00:00.000"));
  EXPECT_EQ(T(run.end_time()), T("2024-03-01 10:03:00.000"));
}

TEST(RunHistoryXmlTest, UnknownElementsAndAttributesAreIgnored) {
  const std::string extra = R"(   <step-description>
    <step-type type="apply-rules" future="1"><apply-rules-subtype>apply-pending</apply-rules-subtype><new-thing/></step-type>
    <partition>  DC=contoso,DC=com  </partition>
    <custom-data><run-details><ma-name>not a run</ma-name></run-details></custom-data>
   </step-description>
   <quantum-counters><entangled>abc</entangled></quantum-counters>
   <staging-counters><stage-add detail="true">4</stage-add><stage-teleport>not a number</stage-teleport></staging-counters>
   <outbound-flow-counters ma="AAD" ma-id="{B891884F-051E-4A83-95AF-2544101C9083}"><connector-flow>9</connector-flow></outbound-flow-counters>
)";
  const std::string xml = Doc(absl::StrCat(
      " <run-details>\n  <ma-name>contoso.com</ma-name>\n  <new-run-field>x</new-run-field>\n",
      Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:01.000", extra),
      " </run-details>\n <future-element/>\n"));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunStep& step = p.runs[0].steps(0);
  EXPECT_EQ(step.step_type(), "apply-rules");
  EXPECT_THAT(step.step_subtypes(), ElementsAre("apply-pending"));
  EXPECT_EQ(step.partition(), "DC=contoso,DC=com");
  EXPECT_EQ(step.staging_counters().stage_add(), 4);
  EXPECT_EQ(step.inbound_flow_counters().connector_flow(), 0);
}

TEST(RunHistoryXmlTest, WhitespacePaddedValuesAndEmptyElements) {
  const std::string extra = R"(   <ma-discovery-counters>
    <filtered-deletions>
       7
    </filtered-deletions>
   </ma-discovery-counters>
   <synchronization-errors/>
   <mv-retry-errors/>
   <ma-connection></ma-connection>
   <inbound-flow-counters>
    <disconnector-remains detail="false">  12 </disconnector-remains>
    <flow-failure detail="true">1</flow-failure>
   </inbound-flow-counters>
   <export-counters><export-delete detail="true">501</export-delete></export-counters>
)";
  const std::string xml = Doc(absl::StrCat(
      " <run-details>\n  <ma-id>\n   {B891884F-051E-4A83-95AF-2544101C9083}\n  </ma-id>\n",
      "  <ma-name>contoso.onmicrosoft.com - AAD</ma-name>\n  <run-number>\n   42\n  "
      "</run-number>\n",
      Step(1, "stopped-deletion-threshold-exceeded", " 2024-03-01 10:00:00.000 ",
           "\n2024-03-01 10:00:01.000\n", extra),
      " </run-details>\n"));
  Parsed p = ParseXml(xml);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunProfileResult& run = p.runs[0];
  EXPECT_EQ(run.connector_id(), "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(run.run_number(), 42);
  const v1::RunStep& step = run.steps(0);
  EXPECT_EQ(step.filtered_deletions(), 7);
  EXPECT_EQ(step.inbound_flow_counters().disconnector_remains(), 12);
  EXPECT_EQ(step.inbound_flow_counters().flow_failure(), 1);
  EXPECT_EQ(step.export_counters().export_delete(), 501);
  EXPECT_EQ(T(step.start_time()), T("2024-03-01 10:00:00.000"));
  EXPECT_THAT(step.export_errors(), IsEmpty());
}

TEST(RunHistoryXmlTest, ImportErrors) {
  const std::string extra = R"(   <synchronization-errors>
    <import-error cs-guid="{0A1B2C3D-0000-1111-2222-333344445555}" dn="CN=Jo,OU=Users,DC=contoso,DC=com">
     <first-occurred>2024-02-28 08:00:00.000</first-occurred>
     <retry-count>3</retry-count>
     <date-occurred>2024-03-01 10:00:00.500</date-occurred>
     <error-type>ambiguous-import-flow-from-multiple-connectors</error-type>
     <algorithm-step ma-id="{B891884F-051E-4A83-95AF-2544101C9083}" dn="CN=x">import-flow</algorithm-step>
     <extension-error-info><extension-name>x</extension-name></extension-error-info>
    </import-error>
   </synchronization-errors>
)";
  Parsed p = ParseXml(Doc(RunDetails("contoso.com", 1,
                                     Step(1, "completed-sync-errors", "2024-03-01 10:00:00.000",
                                          "2024-03-01 10:00:01.000", extra))));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  ASSERT_THAT(p.runs[0].steps(0).import_errors(), SizeIs(1));
  const v1::ImportError& e = p.runs[0].steps(0).import_errors(0);
  EXPECT_EQ(e.cs_guid(), "0a1b2c3d-0000-1111-2222-333344445555");
  EXPECT_EQ(e.dn(), "CN=Jo,OU=Users,DC=contoso,DC=com");
  EXPECT_EQ(e.error_type(), "ambiguous-import-flow-from-multiple-connectors");
  EXPECT_EQ(e.algorithm_step(), "import-flow");
  EXPECT_EQ(e.retry_count(), 3);
  EXPECT_EQ(T(e.first_occurred()), T("2024-02-28 08:00:00.000"));
  EXPECT_EQ(T(e.date_occurred()), T("2024-03-01 10:00:00.500"));
}

TEST(RunHistoryXmlTest, ExportErrorConflictFromLiteral) {
  const std::string extra = R"(   <synchronization-errors>
    <export-error cs-guid="{7B8C0D1E-AAAA-BBBB-CCCC-DDDDEEEEFFFF}" dn="CN={783456306961654236304B58786A66746377643748773D3D}">
     <date-occurred>2024-03-01 10:00:00.000</date-occurred>
     <first-occurred>2024-02-01 10:00:00.000</first-occurred>
     <retry-count>0</retry-count>
     <error-type>AttributeValueMustBeUnique</error-type>
     <cd-error>
      <error-code>0x8023134a</error-code>
      <error-literal>Unable to update this object because the following attributes associated with this object have values that may already be associated with another object in your local directory services: [ProxyAddresses SMTP:john@contoso.com;]. Correct or remove the duplicate values in your local directory.</error-literal>
      <server-error-detail>N/A</server-error-detail>
     </cd-error>
    </export-error>
    <export-error cs-guid="{7B8C0D1E-AAAA-BBBB-CCCC-DDDDEEEE0000}" dn="CN=x">
     <error-type>permission-issue</error-type>
    </export-error>
   </synchronization-errors>
)";
  Parsed p = ParseXml(Doc(RunDetails("contoso.onmicrosoft.com - AAD", 1,
                                     Step(1, "completed-export-errors", "2024-03-01 10:00:00.000",
                                          "2024-03-01 10:00:01.000", extra))));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  ASSERT_THAT(p.runs[0].steps(0).export_errors(), SizeIs(2));
  const v1::ExportError& e = p.runs[0].steps(0).export_errors(0);
  EXPECT_EQ(e.error_type(), "AttributeValueMustBeUnique");
  EXPECT_EQ(e.conflict_attribute(), "ProxyAddresses");
  EXPECT_EQ(e.conflict_value(), "SMTP:john@contoso.com");
  EXPECT_EQ(e.cd_error().server_error_detail(), "N/A");
  EXPECT_EQ(e.connector_name(), "contoso.onmicrosoft.com - AAD");
  const v1::ExportError& e2 = p.runs[0].steps(0).export_errors(1);
  EXPECT_EQ(e2.error_type(), "permission-issue");
  EXPECT_EQ(e2.conflict_attribute(), "");
  EXPECT_FALSE(e2.has_date_occurred());
}

TEST(RunHistoryXmlTest, RunWithoutStepsIsNotComplete) {
  Parsed p = ParseXml(Doc(RunDetails("contoso.com", 1, "")));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_FALSE(p.runs[0].is_run_complete());
  EXPECT_EQ(p.runs[0].total_steps(), 0);
  EXPECT_EQ(p.runs[0].result(), "");
}

TEST(RunHistoryXmlTest, ReadsThroughFileByteReader) {
  absl::StatusOr<std::unique_ptr<FileByteReader>> in =
      FileByteReader::Open(SamplePath(kExportSample));
  ASSERT_TRUE(in.ok()) << in.status();
  Parsed p = ParseWith(&ParseRunHistoryXml, **in, "x.xml");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.runs, SizeIs(1));
}

// ---- rejected input -------------------------------------------------------

// Line numbers below are those of this fixture.
constexpr char kGoodRunThenRunNumber[] = R"(<?xml version="1.0" encoding="utf-16"?>
<run-history>
 <run-details>
  <ma-name>good</ma-name>
  <step-details step-number="1"><start-date>2024-03-01 10:00:00.000</start-date><end-date>2024-03-01 10:00:01.000</end-date><step-result>success</step-result></step-details>
 </run-details>
 <run-details>
  <ma-id>{85098734-66BC-4938-8122-C5F585F463D0}</ma-id>
  <ma-name>contoso.com</ma-name>
  <run-number>RUN_NUMBER</run-number>
  <step-details step-number="1">
   <start-date>START</start-date>
   <step-result>success</step-result>
   <staging-counters><stage-add detail="true">STAGE_ADD</stage-add></staging-counters>
  </step-details>
 </run-details>
</run-history>
)";

std::string BadFixture(absl::string_view run_number, absl::string_view start,
                       absl::string_view stage_add) {
  return absl::StrReplaceAll(
      kGoodRunThenRunNumber,
      {{"RUN_NUMBER", run_number}, {"START", start}, {"STAGE_ADD", stage_add}});
}

TEST(RunHistoryXmlErrorTest, FixtureIsGoodUnlessBroken) {
  Parsed p = ParseXml(BadFixture("7", "2024-03-01 10:00:00.000", "1"));
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.runs, SizeIs(2));
}

TEST(RunHistoryXmlErrorTest, NonNumericRunNumber) {
  Parsed p = ParseXml(BadFixture("abc", "2024-03-01 10:00:00.000", "1"));
  EXPECT_EQ(p.status,
            absl::InvalidArgumentError("t.xml:10: <run-number> is not a number: \"abc\""));
  // The first run was handed over; the broken one never is.
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].connector_name(), "good");
}

TEST(RunHistoryXmlErrorTest, NegativeRunNumber) {
  Parsed p = ParseXml(BadFixture("-3", "2024-03-01 10:00:00.000", "1"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "t.xml:10: <run-number>"));
}

TEST(RunHistoryXmlErrorTest, NonNumericCounter) {
  Parsed p = ParseXml(BadFixture("7", "2024-03-01 10:00:00.000", "3x"));
  EXPECT_EQ(p.status, absl::InvalidArgumentError("t.xml:14: <stage-add> is not a number: \"3x\""));
  EXPECT_THAT(p.runs, SizeIs(1));
}

TEST(RunHistoryXmlErrorTest, CounterTooLarge) {
  Parsed p = ParseXml(BadFixture("7", "2024-03-01 10:00:00.000", "99999999999999999999999"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "t.xml:14: <stage-add>"));
}

TEST(RunHistoryXmlErrorTest, UnparsableDate) {
  Parsed p = ParseXml(BadFixture("7", "yesterday at noon", "1"));
  EXPECT_EQ(p.status, absl::InvalidArgumentError(
                          "t.xml:12: <start-date> is not a time: \"yesterday at noon\""));
  EXPECT_THAT(p.runs, SizeIs(1));
}

TEST(RunHistoryXmlErrorTest, DateBeyondTimestampRange) {
  // Parses as a time (year 20240) but no google.protobuf.Timestamp holds it.
  Parsed p = ParseXml(BadFixture("7", "20240-3-01 10:00:00.000", "1"));
  EXPECT_EQ(p.status, absl::InvalidArgumentError(
                          "t.xml:12: <start-date> is not a time: \"20240-3-01 10:00:00.000\""));
}

TEST(RunHistoryXmlErrorTest, Truncated) {
  const std::string xml = ReadFileOrEmpty(SamplePath(kDeltaImportSample));
  ASSERT_GT(xml.size(), 4000u);
  Parsed p = ParseXml(xml.substr(0, 4000));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "truncated"));
  EXPECT_THAT(std::string(p.status.message()), StartsWith("t.xml:"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, TruncatedInsideATag) {
  Parsed p = ParseXml("<?xml version=\"1.0\"?>\n<run-history>\n <run-details>\n  <ma-na");
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "t.xml:4: truncated XML"));
}

TEST(RunHistoryXmlErrorTest, TruncatedAfterCompleteRun) {
  // The run closed, so it was handed over; the caller discards it on error.
  Parsed p = ParseXml(absl::StrCat(
      "<run-history>\n",
      RunDetails("a", 1,
                 Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:01.000"))));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "truncated"));
}

TEST(RunHistoryXmlErrorTest, MismatchedTag) {
  Parsed p = ParseXml("<run-history>\n<run-details>\n<ma-name>a</ma-nam>\n");
  EXPECT_EQ(p.status, absl::InvalidArgumentError("t.xml:3: malformed XML: mismatched tag"));
}

TEST(RunHistoryXmlErrorTest, DoctypeWithEntityBomb) {
  const char* xml = R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<run-history><run-details><ma-name>&lol3;</ma-name></run-details></run-history>
)";
  Parsed p = ParseXml(xml);
  EXPECT_EQ(p.status, absl::InvalidArgumentError("t.xml:2: DOCTYPE/entities not allowed"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, ExternalEntity) {
  const char* xml = R"(<?xml version="1.0"?>
<!DOCTYPE run-history [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<run-history><run-details><ma-name>&xxe;</ma-name></run-details></run-history>
)";
  Parsed p = ParseXml(xml);
  EXPECT_EQ(p.status, absl::InvalidArgumentError("t.xml:2: DOCTYPE/entities not allowed"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, ExternalDtd) {
  Parsed p = ParseXml("<!DOCTYPE run-history SYSTEM \"http://example.com/x.dtd\">\n<run-history/>");
  EXPECT_EQ(p.status, absl::InvalidArgumentError("t.xml:1: DOCTYPE/entities not allowed"));
}

TEST(RunHistoryXmlErrorTest, UndefinedEntity) {
  Parsed p =
      ParseXml("<run-history>\n<run-details><ma-name>&xxe;</ma-name></run-details></run-history>");
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "t.xml:2: malformed XML"));
}

TEST(RunHistoryXmlErrorTest, InvalidUtf8) {
  std::string xml = SimpleDoc("contoso", 1);
  absl::StrReplaceAll({{"<ma-name>contoso", "<ma-name>cont\xC3\x28so"}}, &xml);
  Parsed p = ParseXml(xml);
  EXPECT_THAT(p.status,
              StatusIs(absl::StatusCode::kInvalidArgument, "t.xml:5: invalid UTF-8 at byte"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, InvalidUtf8AtTheVeryEnd) {
  Parsed p = ParseXml(absl::StrCat(SimpleDoc("contoso", 1), "\xE2\x82"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "invalid UTF-8"));
}

TEST(RunHistoryXmlErrorTest, SurrogateEncodedInUtf8) {
  std::string xml = SimpleDoc("contoso", 1);
  absl::StrReplaceAll({{"<ma-name>contoso", "<ma-name>\xED\xA0\x80"}}, &xml);
  EXPECT_THAT(ParseXml(xml).status, StatusIs(absl::StatusCode::kInvalidArgument, "invalid UTF-8"));
}

TEST(RunHistoryXmlErrorTest, DeepNesting) {
  std::string deep;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&deep, "<x>");
  for (int i = 0; i < 100; ++i) absl::StrAppend(&deep, "</x>");
  Parsed p =
      ParseXml(Doc(RunDetails("a", 1,
                              Step(1, "success", "2024-03-01 10:00:00.000",
                                   "2024-03-01 10:00:01.000", absl::StrCat("   ", deep, "\n")))));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "nested deeper than 64"));
  EXPECT_THAT(std::string(p.status.message()), StartsWith("t.xml:13: "));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, NoRunDetails) {
  Parsed p = ParseXml("<?xml version=\"1.0\"?>\n<run-history>\n</run-history>\n");
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "no <run-details> found"));
}

TEST(RunHistoryXmlErrorTest, EmptyInput) {
  EXPECT_EQ(ParseXml("").status, absl::InvalidArgumentError("t.xml:1: empty input"));
}

TEST(RunHistoryXmlErrorTest, OnlyADeclaration) {
  Parsed p = ParseXml("<?xml version=\"1.0\"?>\n");
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "no root element"));
}

TEST(RunHistoryXmlErrorTest, WrongRootElement) {
  Parsed p = ParseXml("<?xml version=\"1.0\"?>\n<cs-objects/>\n");
  EXPECT_EQ(
      p.status,
      absl::InvalidArgumentError(
          "t.xml:2: root element is <cs-objects>, want <run-history> or <execution-histories>"));
}

TEST(RunHistoryXmlErrorTest, RunDetailsWithoutMaName) {
  Parsed p = ParseXml(
      "<run-history>\n <run-details>\n  <run-number>1</run-number>\n "
      "</run-details>\n</run-history>");
  EXPECT_EQ(p.status, absl::InvalidArgumentError("t.xml:2: <run-details> has no <ma-name>"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, StepWithoutStepNumber) {
  Parsed p = ParseXml(
      "<run-history>\n <run-details><ma-name>a</ma-name>\n  <step-details step-id=\"{x}\"/>\n"
      " </run-details>\n</run-history>");
  EXPECT_EQ(p.status,
            absl::InvalidArgumentError("t.xml:3: <step-details> has no step-number attribute"));
}

TEST(RunHistoryXmlErrorTest, NonNumericStepNumber) {
  Parsed p = ParseXml(
      "<run-history>\n <run-details><ma-name>a</ma-name>\n  <step-details step-number=\"two\"/>\n"
      " </run-details>\n</run-history>");
  EXPECT_EQ(p.status, absl::InvalidArgumentError(
                          "t.xml:3: <step-details> step-number is not a number: \"two\""));
}

TEST(RunHistoryXmlErrorTest, TextValueLargerThanOneMiB) {
  const std::string literal(1100 * 1024, 'a');
  Parsed p = ParseXml(
      Doc(RunDetails("a", 1,
                     Step(1, "success", "2024-03-01 10:00:00.000", "2024-03-01 10:00:01.000",
                          absl::StrCat("   <x-literal>", literal, "</x-literal>\n")))));
  EXPECT_EQ(p.status,
            absl::InvalidArgumentError("t.xml:13: text of <x-literal> larger than 1 MiB"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryXmlErrorTest, AttributeLargerThanOneMiB) {
  const std::string value(3 << 20, 'a');
  Parsed p =
      ParseXml(absl::StrCat("<run-history>\n<run-details huge=\"", value, "\"/></run-history>"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "larger than 1 MiB"));
}

TEST(RunHistoryXmlErrorTest, GarbageAfterTheDocument) {
  Parsed p = ParseXml(absl::StrCat(SimpleDoc("a", 1), "garbage"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "malformed XML"));
}

TEST(RunHistoryXmlErrorTest, SecondDocumentBroken) {
  Parsed p = ParseXml(absl::StrCat(SimpleDoc("a", 1), "<run-history><run-details>"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "truncated"));
  EXPECT_THAT(p.runs, SizeIs(1));
}

TEST(RunHistoryXmlErrorTest, SinkErrorIsReturnedUnchangedAndStopsParsing) {
  const std::string xml = absl::StrCat(SimpleDoc("a", 1), SimpleDoc("b", 2));
  StringByteReader in(xml);
  int calls = 0;
  absl::Status s = ParseRunHistoryXml(in, "t.xml", [&calls](v1::RunProfileResult) {
    ++calls;
    return absl::ResourceExhaustedError("spool full");
  });
  EXPECT_EQ(s, absl::ResourceExhaustedError("spool full"));
  EXPECT_EQ(calls, 1);
}

TEST(RunHistoryXmlErrorTest, ReaderErrorIsReturned) {
  FailingByteReader in;
  Parsed p = ParseWith(&ParseRunHistoryXml, in, "t.xml");
  EXPECT_EQ(p.status, absl::UnavailableError("disk on fire"));
}

TEST(RunHistoryXmlErrorTest, BrokenRunIsNeverHandedOver) {
  // Every way a run can fail, after a good run: only the good one arrives.
  const std::vector<std::string> breakages = {
      "<run-number>x</run-number>",
      "<step-details step-number=\"1\"><end-date>soon</end-date></step-details>",
      "<step-details step-number=\"1\"><export-counters><export-add>-1</export-add>"
      "</export-counters></step-details>",
      "<step-details step-number=\"1\"><synchronization-errors><export-error>"
      "<retry-count>many</retry-count></export-error></synchronization-errors></step-details>",
      "<unclosed>",
  };
  for (const std::string& broken : breakages) {
    Parsed p = ParseXml(absl::StrCat(
        "<run-history><run-details><ma-name>good</ma-name></run-details>",
        "<run-details><ma-name>bad</ma-name>", broken, "</run-details></run-history>"));
    EXPECT_THAT(p.status, Not(StatusIs(absl::StatusCode::kOk, ""))) << broken;
    ASSERT_THAT(p.runs, SizeIs(1)) << broken;
    EXPECT_EQ(p.runs[0].connector_name(), "good");
  }
}

}  // namespace
}  // namespace syncwatch::agent
