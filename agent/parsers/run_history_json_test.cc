#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/parser_test_util.h"
#include "agent/parsers/run_history.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::agent::testing::FailingByteReader;
using ::syncwatch::agent::testing::Parsed;
using ::syncwatch::agent::testing::ParseJson;
using ::syncwatch::agent::testing::ParseWith;
using ::syncwatch::agent::testing::ReadFileOrEmpty;
using ::syncwatch::agent::testing::SamplePath;
using ::syncwatch::agent::testing::StatusIs;
using ::syncwatch::agent::testing::ToUtf16;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kSample[] = "get-adsyncrunprofileresult-json/TestRunHistory.json";

absl::Time T(absl::string_view text) { return ParseEngineTime(text).value(); }
absl::Time T(const google::protobuf::Timestamp& ts) { return FromProtoTimestamp(ts); }

// One run as Windows PowerShell 5.1 writes it (DOMAIN.md §1.3).
constexpr char kOneRun[] = R"({
    "RunHistoryId":  "5FDC0B17-8196-484A-90F4-C5B839F95DD5",
    "ConnectorId":  "{FFFB4A69-4ED6-444D-8B89-73BC16F373DD}",
    "ConnectorName":  "garage.mcardletech.com",
    "RunProfileId":  "95e87e52-858f-4963-a857-8a63191e30d8",
    "RunProfileName":  "Delta Synchronization",
    "RunNumber":  26146,
    "Username":  "NT SERVICE\\ADSync",
    "IsRunComplete":  true,
    "Result":  "completed-sync-errors",
    "CurrentStepNumber":  1,
    "TotalSteps":  1,
    "StartDate":  "\/Date(1649390950240)\/",
    "EndDate":  "\/Date(1649390959077)\/",
    "RunStepResults":  null
})";

// ConvertTo-Json -Depth 4 of Get-ADSyncRunProfileResult -RunStepDetails.
constexpr char kWithSteps[] = R"([
  {
    "RunHistoryId": "0c5d5e2b-7b7e-4c1e-9f0a-2d7a3c1b9e11",
    "ConnectorId": "b891884f-051e-4a83-95af-2544101c9083",
    "ConnectorName": "contoso.onmicrosoft.com - AAD",
    "RunProfileId": "50b0cfe9-7f16-44ec-b539-e9c4b996a900",
    "RunProfileName": "Export",
    "RunNumber": "812",
    "Username": "NT SERVICE\\ADSync",
    "IsRunComplete": false,
    "Result": "in-progress",
    "CurrentStepNumber": 2,
    "TotalSteps": 2,
    "StartDate": "2024-03-01T10:00:00.123",
    "EndDate": null,
    "SomethingNew": {"Nested": [1, 2, {"x": null}]},
    "RunStepResults": [
      {
        "RunHistoryId": "0c5d5e2b-7b7e-4c1e-9f0a-2d7a3c1b9e11",
        "StepHistoryId": "{A1B2C3D4-0000-1111-2222-333344445555}",
        "StepNumber": 2,
        "StepResult": "in-progress",
        "StartDate": "2024-03-01T10:05:00Z",
        "EndDate": null,
        "ExportAdd": 0,
        "ExportDelete": "501",
        "CurrentExportBatchNumber": 3,
        "SyncErrors": null
      },
      {
        "RunHistoryId": "0c5d5e2b-7b7e-4c1e-9f0a-2d7a3c1b9e11",
        "StepHistoryId": "a1b2c3d4-0000-1111-2222-333344446666",
        "StepNumber": 1,
        "StepResult": "success",
        "StartDate": "\/Date(1709287200123)\/",
        "EndDate": "\/Date(1709287500000)\/",
        "StageNoChange": 10,
        "StageAdd": 1,
        "StageUpdate": 2.0,
        "StageRename": 0,
        "StageDelete": 4,
        "StageDeleteAdd": 0,
        "StageFailure": 0,
        "DisconnectorFiltered": 5,
        "DisconnectorRemains": 6,
        "ConnectorFlow": 7,
        "FlowFailure": 8,
        "ExportFailure": 9,
        "StepFileName": "",
        "ConnectorConnectionInformationXml": "<connection-result>failed-connection</connection-result><server>10.2.3.4:389</server><connection-log><incident><connection-result>failed-connection</connection-result><server>10.9.9.9:389</server></incident></connection-log>",
        "StepXml": "<step-type type=\"export\"></step-type><partition>DC=contoso,DC=com</partition>",
        "SyncErrors": {"SyncErrorsXml": null}
      }
    ]
  }
])";

TEST(RunHistoryJsonSampleTest, FourRealRuns) {
  absl::StatusOr<std::unique_ptr<FileByteReader>> in = FileByteReader::Open(SamplePath(kSample));
  ASSERT_TRUE(in.ok()) << in.status();
  Parsed p = ParseWith(&ParseRunHistoryJson, **in, kSample);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(4));

  const v1::RunProfileResult& r0 = p.runs[0];
  EXPECT_EQ(r0.run_history_id(), "81d206e6-392a-4485-9834-4c241723332d");
  EXPECT_EQ(r0.connector_id(), "fffb4a69-4ed6-444d-8b89-73bc16f373dd");
  EXPECT_EQ(r0.connector_name(), "garage.mcardletech.com");
  EXPECT_EQ(r0.run_profile_id(), "e73df090-c632-4a61-961a-87ae047570c8");
  EXPECT_EQ(r0.run_profile_name(), "Export");
  EXPECT_EQ(r0.run_number(), 26147);
  EXPECT_EQ(r0.username(), "NT SERVICE\\ADSync");
  EXPECT_TRUE(r0.is_run_complete());
  EXPECT_EQ(r0.result(), "no-start-connection");
  EXPECT_EQ(r0.current_step_number(), 1);
  EXPECT_EQ(r0.total_steps(), 1);
  EXPECT_EQ(T(r0.start_time()), T("2022-04-08T04:10:53.843Z"));
  EXPECT_EQ(T(r0.end_time()), T("2022-04-08T04:11:14.963Z"));
  EXPECT_THAT(r0.steps(), IsEmpty());

  EXPECT_EQ(p.runs[1].run_history_id(), "c5aba9de-a634-4d64-b4ad-c7ad337faf91");
  EXPECT_EQ(p.runs[1].connector_id(), "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(p.runs[1].connector_name(), "mcardletech.onmicrosoft.com - AAD");
  EXPECT_EQ(p.runs[1].run_number(), 26148);
  EXPECT_EQ(p.runs[1].result(), "success");
  EXPECT_EQ(T(p.runs[1].start_time()), absl::FromUnixMillis(1649391017557));
  EXPECT_EQ(T(p.runs[1].end_time()), absl::FromUnixMillis(1649391027097));

  EXPECT_EQ(p.runs[2].run_history_id(), "8a6190d8-9c0a-4dee-a215-88f2ed3914fa");
  EXPECT_EQ(p.runs[2].run_profile_name(), "Delta Synchronization");
  EXPECT_EQ(p.runs[2].run_number(), 26147);
  EXPECT_EQ(p.runs[2].result(), "success");
  EXPECT_EQ(T(p.runs[2].start_time()), absl::FromUnixMillis(1649390985233));

  EXPECT_EQ(p.runs[3].run_history_id(), "5fdc0b17-8196-484a-90f4-c5b839f95dd5");
  EXPECT_EQ(p.runs[3].connector_name(), "garage.mcardletech.com");
  EXPECT_EQ(p.runs[3].run_number(), 26146);
  EXPECT_EQ(p.runs[3].result(), "completed-sync-errors");
  EXPECT_EQ(T(p.runs[3].start_time()), absl::FromUnixMillis(1649390950240));
  EXPECT_EQ(T(p.runs[3].end_time()), absl::FromUnixMillis(1649390959077));
}

TEST(RunHistoryJsonTest, SingleObject) {
  Parsed p = ParseJson(kOneRun);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].run_history_id(), "5fdc0b17-8196-484a-90f4-c5b839f95dd5");
  EXPECT_EQ(p.runs[0].connector_id(), "fffb4a69-4ed6-444d-8b89-73bc16f373dd");
  EXPECT_EQ(p.runs[0].result(), "completed-sync-errors");
}

TEST(RunHistoryJsonTest, RunStepResults) {
  Parsed p = ParseJson(kWithSteps);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  const v1::RunProfileResult& run = p.runs[0];
  EXPECT_EQ(run.run_number(), 812);
  EXPECT_FALSE(run.is_run_complete());
  EXPECT_EQ(run.result(), "in-progress");
  EXPECT_EQ(T(run.start_time()), T("2024-03-01 10:00:00.123"));
  EXPECT_FALSE(run.has_end_time());
  ASSERT_THAT(run.steps(), SizeIs(2));

  const v1::RunStep& s1 = run.steps(0);
  EXPECT_EQ(s1.step_number(), 1);
  EXPECT_EQ(s1.step_id(), "a1b2c3d4-0000-1111-2222-333344446666");
  EXPECT_EQ(s1.result(), "success");
  EXPECT_EQ(T(s1.start_time()), absl::FromUnixMillis(1709287200123));
  EXPECT_EQ(T(s1.end_time()), absl::FromUnixMillis(1709287500000));
  EXPECT_EQ(s1.staging_counters().stage_no_change(), 10);
  EXPECT_EQ(s1.staging_counters().stage_add(), 1);
  EXPECT_EQ(s1.staging_counters().stage_update(), 2);
  EXPECT_EQ(s1.staging_counters().stage_delete(), 4);
  EXPECT_EQ(s1.inbound_flow_counters().disconnector_filtered(), 5);
  EXPECT_EQ(s1.inbound_flow_counters().disconnector_remains(), 6);
  EXPECT_EQ(s1.inbound_flow_counters().connector_flow(), 7);
  EXPECT_EQ(s1.inbound_flow_counters().flow_failure(), 8);
  EXPECT_EQ(s1.export_counters().export_failure(), 9);
  EXPECT_EQ(s1.connection_result(), "failed-connection");
  EXPECT_EQ(s1.connection_server(), "10.2.3.4:389");

  const v1::RunStep& s2 = run.steps(1);
  EXPECT_EQ(s2.step_number(), 2);
  EXPECT_EQ(s2.step_id(), "a1b2c3d4-0000-1111-2222-333344445555");
  EXPECT_EQ(s2.result(), "in-progress");
  EXPECT_EQ(T(s2.start_time()), T("2024-03-01T10:05:00Z"));
  EXPECT_FALSE(s2.has_end_time());
  EXPECT_EQ(s2.export_counters().export_delete(), 501);
  EXPECT_EQ(s2.connection_result(), "");
}

TEST(RunHistoryJsonTest, StepsNotExpandedByConvertToJsonAreSkipped) {
  // ConvertTo-Json's default -Depth 2 turns each step into its type name.
  std::string json = absl::StrReplaceAll(
      kOneRun, {{"\"RunStepResults\":  null",
                 "\"RunStepResults\": [\"Microsoft.IdentityManagement.PowerShell.ObjectModel."
                 "RunStepResult\"]"}});
  Parsed p = ParseJson(json);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_THAT(p.runs[0].steps(), IsEmpty());
}

TEST(RunHistoryJsonTest, RunNumberWithoutRunHistoryIdIsEnough) {
  std::string json = absl::StrReplaceAll(
      kOneRun, {{"\"RunHistoryId\":  \"5FDC0B17-8196-484A-90F4-C5B839F95DD5\",", ""}});
  Parsed p = ParseJson(json);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].run_history_id(), "");
  EXPECT_EQ(p.runs[0].run_number(), 26146);
}

TEST(RunHistoryJsonTest, Utf16LittleEndianWithBom) {
  const std::string json = ReadFileOrEmpty(SamplePath(kSample));
  Parsed p = ParseJson(ToUtf16(json, /*little_endian=*/true));
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(4));
  EXPECT_EQ(p.runs[0].run_history_id(), "81d206e6-392a-4485-9834-4c241723332d");
}

TEST(RunHistoryJsonTest, Utf8WithBom) {
  Parsed p = ParseJson(absl::StrCat("\xEF\xBB\xBF", kOneRun));
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.runs, SizeIs(1));
}

TEST(RunHistoryJsonTest, EmptyArrayAndEmptyOutputHaveNoRuns) {
  for (const char* text : {"[]", " [ ] \r\n", "", "\r\n"}) {
    Parsed p = ParseJson(text);
    EXPECT_TRUE(p.status.ok()) << "\"" << text << "\": " << p.status;
    EXPECT_THAT(p.runs, IsEmpty());
  }
}

TEST(RunHistoryJsonTest, NumbersAsStringsAndBooleansAsStrings) {
  std::string json =
      absl::StrReplaceAll(kOneRun, {{"26146", "\"26146\""},
                                    {"\"IsRunComplete\":  true", "\"IsRunComplete\": \"False\""},
                                    {"\"TotalSteps\":  1", "\"TotalSteps\":  \"3\""}});
  Parsed p = ParseJson(json);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_THAT(p.runs, SizeIs(1));
  EXPECT_EQ(p.runs[0].run_number(), 26146);
  EXPECT_FALSE(p.runs[0].is_run_complete());
  EXPECT_EQ(p.runs[0].total_steps(), 3);
}

// ---- rejected input -------------------------------------------------------

TEST(RunHistoryJsonErrorTest, SyntaxErrorGivesTheLine) {
  Parsed p = ParseJson("[\n  {\n    \"RunHistoryId\": \"x\",\n    \"ConnectorName\" \"y\"\n  }\n]");
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "t.json:4: JSON parse error"));
  EXPECT_THAT(p.runs, IsEmpty());
}

TEST(RunHistoryJsonErrorTest, TruncatedJson) {
  const std::string json = ReadFileOrEmpty(SamplePath(kSample));
  Parsed p = ParseJson(json.substr(0, 1000));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "JSON parse error"));
  // The runs that were complete reached the sink; the caller discards them.
  EXPECT_THAT(p.runs, SizeIs(1));
}

TEST(RunHistoryJsonErrorTest, TrailingGarbage) {
  Parsed p = ParseJson(absl::StrCat(kOneRun, "\n]"));
  EXPECT_THAT(p.status, StatusIs(absl::StatusCode::kInvalidArgument, "t.json:17: JSON"));
}

TEST(RunHistoryJsonErrorTest, MissingConnectorName) {
  std::string json = ReadFileOrEmpty(SamplePath(kSample));
  absl::StrReplaceAll({{"\"ConnectorName\": \"mcardletech.onmicrosoft.com - AAD\",\n    "
                        "\"RunProfileId\": \"50b0cfe9",
                        "\"RunProfileId\": \"50b0cfe9"}},
                      &json);
  Parsed p = ParseJson(json);
  // Item 1 starts on line 18 of the sample.
  EXPECT_EQ(p.status,
            absl::InvalidArgumentError("t.json:18: item 1 (c5aba9de-a634-4d64-b4ad-c7ad337faf91): "
                                       "ConnectorName: missing"));
  ASSERT_THAT(p.runs, SizeIs(1));  // item 0 only; the broken item never arrives
}

TEST(RunHistoryJsonErrorTest, NullConnectorNameIsMissing) {
  std::string json = absl::StrReplaceAll(kOneRun, {{"\"garage.mcardletech.com\"", "null"}});
  EXPECT_EQ(ParseJson(json).status,
            absl::InvalidArgumentError(
                "t.json:1: item 0 (5FDC0B17-8196-484A-90F4-C5B839F95DD5): ConnectorName: missing"));
}

TEST(RunHistoryJsonErrorTest, MissingResultAndStartDate) {
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(kOneRun, {{"\"Result\"", "\"Outcome\""}})).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "): Result: missing"));
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(kOneRun, {{"\"StartDate\"", "\"Begin\""}})).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "): StartDate: missing"));
}

TEST(RunHistoryJsonErrorTest, NeitherRunHistoryIdNorRunNumber) {
  std::string json = absl::StrReplaceAll(
      kOneRun, {{"\"RunHistoryId\":  \"5FDC0B17-8196-484A-90F4-C5B839F95DD5\",", ""},
                {"\"RunNumber\":  26146,", ""}});
  EXPECT_EQ(ParseJson(json).status,
            absl::InvalidArgumentError(
                "t.json:1: item 0 (#0): RunHistoryId: missing, and there is no RunNumber either"));
}

TEST(RunHistoryJsonErrorTest, BadDate) {
  std::string json = absl::StrReplaceAll(kOneRun, {{"\\/Date(1649390959077)\\/", "soon"}});
  EXPECT_EQ(ParseJson(json).status,
            absl::InvalidArgumentError("t.json:1: item 0 (5FDC0B17-8196-484A-90F4-C5B839F95DD5): "
                                       "EndDate: not a time: \"soon\""));
}

TEST(RunHistoryJsonErrorTest, DateBeyondTimestampRange) {
  std::string json =
      absl::StrReplaceAll(kOneRun, {{"\\/Date(1649390959077)\\/", "20240-04-08T04:09:19Z"}});
  EXPECT_THAT(ParseJson(json).status, StatusIs(absl::StatusCode::kInvalidArgument,
                                               "EndDate: not a time: \"20240-04-08T04:09:19Z\""));
}

TEST(RunHistoryJsonErrorTest, BadNumbers) {
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(kOneRun, {{"26146", "\"26x\""}})).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "RunNumber: not a valid count"));
  EXPECT_THAT(
      ParseJson(absl::StrReplaceAll(kOneRun, {{"26146", "true"}})).status,
      StatusIs(absl::StatusCode::kInvalidArgument, "RunNumber: expected a number, got boolean"));
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(kOneRun, {{"26146", "1.5"}})).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "RunNumber: not a valid count"));
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(kOneRun, {{"26146", "-4"}})).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "RunNumber: not a valid count"));
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(
                            kOneRun, {{"\"TotalSteps\":  1", "\"TotalSteps\":  4294967296"}}))
                  .status,
              StatusIs(absl::StatusCode::kInvalidArgument, "TotalSteps: not a valid count"));
  EXPECT_THAT(ParseJson(absl::StrReplaceAll(kOneRun, {{"26146", "1e300"}})).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "RunNumber: not a valid count"));
}

TEST(RunHistoryJsonErrorTest, WrongTypes) {
  EXPECT_THAT(
      ParseJson(absl::StrReplaceAll(kOneRun, {{"\"garage.mcardletech.com\"", "42"}})).status,
      StatusIs(absl::StatusCode::kInvalidArgument, "ConnectorName: expected a string, got number"));
  EXPECT_THAT(
      ParseJson(
          absl::StrReplaceAll(kOneRun, {{"\"IsRunComplete\":  true", "\"IsRunComplete\":  1"}}))
          .status,
      StatusIs(absl::StatusCode::kInvalidArgument, "IsRunComplete: expected true or false"));
}

TEST(RunHistoryJsonErrorTest, BadStepNamesTheStep) {
  std::string json =
      absl::StrReplaceAll(kWithSteps, {{"\"StageAdd\": 1", "\"StageAdd\": \"one\""}});
  EXPECT_EQ(ParseJson(json).status,
            absl::InvalidArgumentError("t.json:2: item 0 (0c5d5e2b-7b7e-4c1e-9f0a-2d7a3c1b9e11): "
                                       "RunStepResults[1].StageAdd: not a valid count: "
                                       "\"\\\"one\\\"\""));
  json =
      absl::StrReplaceAll(kWithSteps, {{"\"SyncErrors\": null", "\"SyncErrors\": null}, 42, {"}});
  EXPECT_THAT(ParseJson(json).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "RunStepResults[1]: expected an object, got number"));
}

TEST(RunHistoryJsonErrorTest, TopLevelMustBeArrayOrObject) {
  EXPECT_EQ(ParseJson("\n\"hello\"").status,
            absl::InvalidArgumentError("t.json:2: top level is not an array or an object"));
  EXPECT_EQ(ParseJson("[\n  {\"a\":1},\n  {\"RunHistoryId\": \"x\"}\n]").status.code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJson("[\n  null\n]").status,
            absl::InvalidArgumentError("t.json:2: item 0 (#0): expected an object, got null"));
  EXPECT_EQ(ParseJson("[\n  [1]\n]").status,
            absl::InvalidArgumentError("t.json:2: item 0 (#0): expected an object, got array"));
}

TEST(RunHistoryJsonErrorTest, DeepNesting) {
  std::string json = "[{\"x\":";
  for (int i = 0; i < 100; ++i) json += "[";
  for (int i = 0; i < 100; ++i) json += "]";
  json += "}]";
  EXPECT_THAT(ParseJson(json).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "nesting deeper than 64"));
}

TEST(RunHistoryJsonErrorTest, InvalidUtf8) {
  std::string json = absl::StrReplaceAll(kOneRun, {{"garage",
                                                    "gar\xFF"
                                                    "age"}});
  EXPECT_THAT(ParseJson(json).status,
              StatusIs(absl::StatusCode::kInvalidArgument, "t.json:4: invalid UTF-8 at byte"));
}

TEST(RunHistoryJsonErrorTest, BrokenUtf16) {
  std::string json = ToUtf16(kOneRun, /*little_endian=*/true);
  json.push_back('x');  // odd length
  const absl::string_view text = kOneRun;
  EXPECT_EQ(
      ParseJson(json).status,
      absl::InvalidArgumentError(absl::StrCat(
          "t.json:", 1 + std::count(text.begin(), text.end(), '\n'), ": invalid UTF-16 at byte ",
          json.size() - 1, ": odd number of bytes: the last character is cut (truncated?)")));
  // A lone high surrogate in place of the first "g" of "garage".
  std::string lone = ToUtf16(kOneRun, /*little_endian=*/true);
  const size_t at = lone.find(std::string("g\0a\0r\0", 6));
  ASSERT_NE(at, std::string::npos);
  lone[at] = '\x3D';
  lone[at + 1] = '\xD8';
  EXPECT_THAT(ParseJson(lone).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(": invalid UTF-16 at byte ", at,
                                    ": high surrogate U+D83D not followed by a low surrogate")));
}

// Produces `size` bytes of "[" followed by spaces without holding them.
class EndlessJsonReader final : public ByteReader {
 public:
  explicit EndlessJsonReader(size_t size) : left_(size) {}
  absl::StatusOr<size_t> Read(char* buf, size_t capacity) override {
    const size_t n = std::min(capacity, left_);
    if (n == 0) return 0;
    std::memset(buf, ' ', n);
    if (!started_) buf[0] = '[';
    started_ = true;
    left_ -= n;
    produced_ += n;
    return n;
  }
  size_t produced() const { return produced_; }

 private:
  size_t left_;
  size_t produced_ = 0;
  bool started_ = false;
};

TEST(RunHistoryJsonErrorTest, LargerThan64MiB) {
  EndlessJsonReader in(size_t{1} << 40);  // 1 TiB, never materialised
  Parsed p = ParseWith(&ParseRunHistoryJson, in, "big.json");
  EXPECT_EQ(p.status, absl::InvalidArgumentError(
                          "big.json: larger than the 64 MiB limit for JSON run history"));
  // It stopped reading right after the limit.
  EXPECT_LE(in.produced(), (size_t{64} << 20) + 1);
}

TEST(RunHistoryJsonErrorTest, Exactly64MiBIsRead) {
  EndlessJsonReader in(size_t{64} << 20);
  Parsed p = ParseWith(&ParseRunHistoryJson, in, "big.json");
  // Whitespace after "[" is fine; the missing "]" is a syntax error, not a size error.
  EXPECT_THAT(p.status,
              StatusIs(absl::StatusCode::kInvalidArgument, "big.json:1: JSON parse error"));
}

TEST(RunHistoryJsonErrorTest, SinkErrorIsReturnedUnchanged) {
  const std::string json = ReadFileOrEmpty(SamplePath(kSample));
  StringByteReader in(json);
  int calls = 0;
  absl::Status s = ParseRunHistoryJson(in, "t.json", [&calls](v1::RunProfileResult) {
    ++calls;
    return absl::CancelledError("shutting down");
  });
  EXPECT_EQ(s, absl::CancelledError("shutting down"));
  EXPECT_EQ(calls, 1);
}

TEST(RunHistoryJsonErrorTest, ReaderErrorIsReturned) {
  FailingByteReader in;
  Parsed p = ParseWith(&ParseRunHistoryJson, in, "t.json");
  EXPECT_EQ(p.status, absl::UnavailableError("disk on fire"));
}

}  // namespace
}  // namespace syncwatch::agent
