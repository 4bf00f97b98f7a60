#include "agent/parsers/settings_json.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/parser_test_util.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace syncwatch::agent {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::syncwatch::agent::testing::FailingByteReader;
using ::syncwatch::agent::testing::ReadFileOrEmpty;
using ::syncwatch::agent::testing::StatusIs;
using ::syncwatch::agent::testing::ToUtf16;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

std::string Fixture(absl::string_view file) {
  return ReadFileOrEmpty(absl::StrCat(SYNCWATCH_PARSERS_TESTDATA_DIR, "/", file));
}

struct Parsed {
  absl::Status status;
  v1::ServerSettings settings;
};

Parsed Parse(absl::string_view text) {
  Parsed p;
  StringByteReader in(text);
  p.status = ParseSettingsJson(in, "s.json", &p.settings);
  return p;
}

absl::Duration D(const google::protobuf::Duration& d) { return FromProtoDuration(d); }
absl::Time T(const google::protobuf::Timestamp& ts) { return FromProtoTimestamp(ts); }
absl::Time T(absl::string_view text) { return ParseEngineTime(text).value(); }

// ---- the fixtures ------------------------------------------------------------

TEST(SettingsJsonTest, CombinedDocumentTheExporterWrites) {
  Parsed p = Parse(Fixture("settings-combined.json"));
  ASSERT_TRUE(p.status.ok()) << p.status;
  const v1::ServerSettings& s = p.settings;
  EXPECT_FALSE(s.staging_mode_enabled());
  EXPECT_TRUE(s.sync_cycle_enabled());
  EXPECT_FALSE(s.scheduler_suspended());
  EXPECT_FALSE(s.sync_cycle_in_progress());
  EXPECT_EQ(D(s.sync_cycle_interval()), absl::Minutes(30));
  EXPECT_EQ(s.next_sync_cycle_policy_type(), "Delta");
  EXPECT_EQ(T(s.next_sync_cycle_start_time()), T("2024-03-01T10:00:12Z"));
  EXPECT_EQ(D(s.purge_run_history_interval()), absl::Hours(7 * 24));
  EXPECT_TRUE(s.deletion_threshold_known());
  EXPECT_TRUE(s.deletion_threshold_enabled());
  // The tenant's value (Get-ADSyncExportDeletionThreshold) beats the local
  // global setting (750) — DOMAIN.md §2.2.
  EXPECT_EQ(s.deletion_threshold(), 500);
}

TEST(SettingsJsonTest, SchedulerAsWindowsPowerShellWritesIt) {
  Parsed p = Parse(Fixture("settings-scheduler-ps51.json"));
  ASSERT_TRUE(p.status.ok()) << p.status;
  const v1::ServerSettings& s = p.settings;
  EXPECT_TRUE(s.staging_mode_enabled());
  EXPECT_TRUE(s.sync_cycle_in_progress());
  EXPECT_EQ(D(s.sync_cycle_interval()), absl::Hours(1));  // TimeSpan object, Ticks
  EXPECT_EQ(s.next_sync_cycle_policy_type(), "Initial");  // enum number 2
  EXPECT_EQ(T(s.next_sync_cycle_start_time()), T("2024-03-01T10:00:12Z"));
  EXPECT_EQ(D(s.purge_run_history_interval()), absl::Hours(7 * 24));
  EXPECT_FALSE(s.deletion_threshold_known());
  EXPECT_FALSE(s.deletion_threshold_enabled());
  EXPECT_EQ(s.deletion_threshold(), 0);
}

TEST(SettingsJsonTest, GlobalSettingsAlone) {
  Parsed p = Parse(Fixture("settings-globalsettings.json"));
  ASSERT_TRUE(p.status.ok()) << p.status;
  const v1::ServerSettings& s = p.settings;
  EXPECT_TRUE(s.staging_mode_enabled());
  EXPECT_EQ(D(s.sync_cycle_interval()), absl::Minutes(30));
  EXPECT_EQ(s.next_sync_cycle_policy_type(), "Delta");
  EXPECT_EQ(D(s.purge_run_history_interval()), absl::Hours(7 * 24));
  EXPECT_TRUE(s.deletion_threshold_known());
  EXPECT_TRUE(s.deletion_threshold_enabled());
  EXPECT_EQ(s.deletion_threshold(), 500);
}

TEST(SettingsJsonTest, Utf16WithBomAndUtf8WithBom) {
  const std::string utf8 = Fixture("settings-combined.json");
  Parsed want = Parse(utf8);
  ASSERT_TRUE(want.status.ok()) << want.status;
  for (const std::string& text :
       {ToUtf16(utf8, /*little_endian=*/true), ToUtf16(utf8, /*little_endian=*/false),
        absl::StrCat("\xEF\xBB\xBF", utf8)}) {
    Parsed got = Parse(text);
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_TRUE(MessageDifferencer::Equals(got.settings, want.settings));
  }
}

// ---- Get-ADSyncExportDeletionThreshold (assumed property names) ----------------

TEST(SettingsJsonTest, DeletionThresholdAlone) {
  Parsed p = Parse(R"({"DeletionPrevention": 0, "ThresholdCount": 500})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.deletion_threshold_known());
  EXPECT_FALSE(p.settings.deletion_threshold_enabled());
  EXPECT_EQ(p.settings.deletion_threshold(), 500);

  p = Parse(R"({"deletionprevention": true, "thresholdcount": "1000"})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.deletion_threshold_enabled());
  EXPECT_EQ(p.settings.deletion_threshold(), 1000);

  p = Parse(R"({"DeletionPrevention": "EnabledForCount", "ThresholdCount": 42})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.deletion_threshold_enabled());
  EXPECT_EQ(p.settings.deletion_threshold(), 42);
}

TEST(SettingsJsonTest, PercentageThresholdHasNoCount) {
  Parsed p =
      Parse(R"({"DeletionPrevention": 2, "ThresholdCount": 500, "ThresholdPercentage": 10})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.deletion_threshold_known());
  EXPECT_TRUE(p.settings.deletion_threshold_enabled());
  EXPECT_EQ(p.settings.deletion_threshold(), 0);
}

TEST(SettingsJsonTest, TenantThresholdBeatsTheLocalCopyFieldByField) {
  Parsed p = Parse(R"({
  "DeletionThreshold": {"DeletionPrevention": 0},
  "GlobalSettings": {"Parameters": [
    {"Name": "Microsoft.OptionalFeature.ExportDeletionThreshold", "Value": "True"},
    {"Name": "Microsoft.OptionalFeature.ExportDeletionThresholdValue", "Value": "750"}]}
})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.deletion_threshold_known());
  EXPECT_FALSE(p.settings.deletion_threshold_enabled());  // the tenant says disabled
  EXPECT_EQ(p.settings.deletion_threshold(), 750);        // only the local copy has a count
}

TEST(SettingsJsonTest, SchedulerBeatsGlobalSettings) {
  Parsed p = Parse(R"({
  "Scheduler": {"StagingModeEnabled": false, "CurrentlyEffectiveSyncCycleInterval": "01:00:00"},
  "GlobalSettings": {"Parameters": [
    {"Name": "Microsoft.Synchronize.StagingMode", "Value": "True"},
    {"Name": "Microsoft.Synchronize.TimeInterval", "Value": "00:30:00"}]}
})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_FALSE(p.settings.staging_mode_enabled());
  EXPECT_EQ(D(p.settings.sync_cycle_interval()), absl::Hours(1));
  EXPECT_FALSE(p.settings.deletion_threshold_known());
}

TEST(SettingsJsonTest, NullSectionsAndUnknownKeysAreIgnored) {
  Parsed p = Parse(R"({"SchemaVersion": 1, "Scheduler": {"SyncCycleEnabled": true,
      "CustomizedSyncCycleInterval": null, "SomethingNew": [1, 2]},
      "DeletionThreshold": null, "GlobalSettings": null})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.sync_cycle_enabled());
  EXPECT_FALSE(p.settings.deletion_threshold_known());
  EXPECT_FALSE(p.settings.has_sync_cycle_interval());
}

TEST(SettingsJsonTest, TopLevelArrayOfCmdletOutputs) {
  Parsed p = Parse(R"([
  {"SyncCycleEnabled": true, "StagingModeEnabled": "True"},
  {"DeletionPrevention": 1, "ThresholdCount": 300}
])");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.staging_mode_enabled());
  EXPECT_TRUE(p.settings.deletion_threshold_enabled());
  EXPECT_EQ(p.settings.deletion_threshold(), 300);
}

TEST(SettingsJsonTest, IntervalFromAllowedAndCustomized) {
  Parsed p = Parse(
      R"({"AllowedSyncCycleInterval": "00:30:00", "CustomizedSyncCycleInterval": "00:10:00"})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_EQ(D(p.settings.sync_cycle_interval()), absl::Minutes(30));  // below allowed: ignored
  p = Parse(
      R"({"AllowedSyncCycleInterval": "00:30:00", "CustomizedSyncCycleInterval": "03:00:00"})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_EQ(D(p.settings.sync_cycle_interval()), absl::Hours(3));
}

TEST(SettingsJsonTest, TimeSpanAndDateTimeForms) {
  Parsed p = Parse(R"({"Scheduler": {
    "CurrentlyEffectiveSyncCycleInterval": {"TotalMinutes": 45.0},
    "PurgeRunHistoryInterval": "7.00:00:00.5000000",
    "NextSyncCycleStartTimeInUTC": {"value": "\/Date(1709287212000)\/", "DisplayHint": 2,
                                    "DateTime": "Friday, March 1, 2024 10:00:12 AM"},
    "NextSyncCyclePolicyType": "delta"}})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_EQ(D(p.settings.sync_cycle_interval()), absl::Minutes(45));
  EXPECT_EQ(D(p.settings.purge_run_history_interval()),
            absl::Hours(7 * 24) + absl::Milliseconds(500));
  EXPECT_EQ(T(p.settings.next_sync_cycle_start_time()), T("2024-03-01T10:00:12Z"));
  EXPECT_EQ(p.settings.next_sync_cycle_policy_type(), "Delta");
}

TEST(SettingsJsonTest, PolicyTypeNumbersAndUnknownStrings) {
  for (const auto& [json, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"NextSyncCyclePolicyType": 0})", "Unspecified"},
           {R"({"NextSyncCyclePolicyType": 1})", "Delta"},
           {R"({"NextSyncCyclePolicyType": "Initial"})", "Initial"},
           {R"({"NextSyncCyclePolicyType": "FullSomething"})", "FullSomething"}}) {
    Parsed p = Parse(json);
    ASSERT_TRUE(p.status.ok()) << p.status;
    EXPECT_EQ(p.settings.next_sync_cycle_policy_type(), want) << json;
  }
}

TEST(SettingsJsonTest, GlobalSettingsParametersAsAnObject) {
  Parsed p = Parse(R"({"Parameters": {
    "Microsoft.Synchronize.StagingMode": {"Value": "true"},
    "Microsoft.OptionalFeature.ExportDeletionThresholdValue": 200,
    "Microsoft.Synchronize.NextStartTime": "not a time we know"}})");
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_TRUE(p.settings.staging_mode_enabled());
  EXPECT_TRUE(p.settings.deletion_threshold_known());
  EXPECT_FALSE(p.settings.deletion_threshold_enabled());
  EXPECT_EQ(p.settings.deletion_threshold(), 200);
  EXPECT_FALSE(p.settings.has_next_sync_cycle_start_time());  // unattested format: skipped
}

TEST(SettingsJsonTest, OutputIsClearedFirst) {
  v1::ServerSettings s;
  s.set_deletion_threshold_known(true);
  s.set_deletion_threshold(9);
  StringByteReader in(R"({"SyncCycleEnabled": true})");
  ASSERT_TRUE(ParseSettingsJson(in, "s.json", &s).ok());
  EXPECT_FALSE(s.deletion_threshold_known());
  EXPECT_EQ(s.deletion_threshold(), 0);
}

// ---- malformed input -----------------------------------------------------------

TEST(SettingsJsonErrorTest, BadValuesNameFileLineAndProperty) {
  std::string text = Fixture("settings-combined.json");
  absl::StrReplaceAll({{"\"SyncCycleEnabled\":  true", "\"SyncCycleEnabled\":  \"maybe\""}}, &text);
  EXPECT_EQ(Parse(text).status,
            absl::InvalidArgumentError("s.json:12: Scheduler.SyncCycleEnabled: expected true or "
                                       "false, got \"\\\"maybe\\\"\""));
}

TEST(SettingsJsonErrorTest, BadGlobalSettingNamesTheParameter) {
  std::string text = Fixture("settings-combined.json");
  absl::StrReplaceAll({{"\"750\"", "\"seven hundred\""}}, &text);
  EXPECT_THAT(Parse(text).status,
              StatusIs(kInvalid,
                       "s.json:38: GlobalSettings.Parameters[Microsoft.OptionalFeature."
                       "ExportDeletionThresholdValue]: expected a count of objects"));
}

TEST(SettingsJsonErrorTest, BadValues) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{R"({"Scheduler": {"CurrentlyEffectiveSyncCycleInterval": "half an hour"}})",
                "s.json:1: Scheduler.CurrentlyEffectiveSyncCycleInterval: expected a time span"},
           Case{R"({"PurgeRunHistoryInterval": {"Ticks": -5}})",
                "s.json:1: PurgeRunHistoryInterval: expected a time span"},
           Case{R"({"PurgeRunHistoryInterval": "99999.00:00:00"})",
                "s.json:1: PurgeRunHistoryInterval: expected a time span"},
           Case{R"({"NextSyncCycleStartTimeInUTC": "soon"})",
                "s.json:1: NextSyncCycleStartTimeInUTC: expected a time"},
           Case{R"({"NextSyncCycleStartTimeInUTC": "20240-03-01T10:00:12Z"})",
                "s.json:1: NextSyncCycleStartTimeInUTC: expected a time"},
           Case{R"({"NextSyncCyclePolicyType": 7})",
                "s.json:1: NextSyncCyclePolicyType: expected Delta, Initial"},
           Case{R"({"ThresholdCount": -1})", "s.json:1: ThresholdCount: expected a count"},
           Case{R"({"ThresholdCount": 5000000000})", "s.json:1: ThresholdCount: expected a count"},
           Case{R"({"ThresholdCount": 1.5})", "s.json:1: ThresholdCount: expected a count"},
           Case{R"({"ThresholdPercentage": 150})", "s.json:1: ThresholdPercentage: expected a"},
           Case{R"({"DeletionPrevention": "perhaps"})", "s.json:1: DeletionPrevention: expected"},
           Case{R"({"StagingModeEnabled": 2})", "s.json:1: StagingModeEnabled: expected true"},
           Case{R"({"Scheduler": 5})", "s.json:1: Scheduler: expected an object, got number"},
           Case{R"({"GlobalSettings": {"Parameters": "x"}})",
                "s.json:1: GlobalSettings.Parameters: expected an array or an object"},
           Case{R"({"Parameters": [{"Value": "x"}]})",
                "s.json:1: Parameters[0]: a parameter without a Name string"},
           Case{R"([1])", "s.json:1: item 0: expected an object, got number"},
       }) {
    EXPECT_THAT(Parse(c.json).status, StatusIs(kInvalid, c.message)) << c.json;
  }
}

TEST(SettingsJsonErrorTest, NoSettingsFound) {
  for (const char* json : {"{}", R"({"Foo": 1})", "[]", R"({"Scheduler": null})"}) {
    EXPECT_THAT(Parse(json).status, StatusIs(kInvalid, "s.json:1: no Get-ADSyncScheduler")) << json;
  }
}

TEST(SettingsJsonErrorTest, SyntaxErrorsGiveTheLine) {
  EXPECT_THAT(Parse("{\n  \"SyncCycleEnabled\": true,\n  oops\n}").status,
              StatusIs(kInvalid, "s.json:3: JSON parse error"));
  std::string text = Fixture("settings-combined.json");
  EXPECT_THAT(Parse(text.substr(0, text.size() / 2)).status, StatusIs(kInvalid, "s.json:"));
  EXPECT_THAT(Parse("{} {}").status, StatusIs(kInvalid, "s.json:1: JSON"));
}

TEST(SettingsJsonErrorTest, EmptyAndWrongTopLevel) {
  EXPECT_EQ(Parse("").status, absl::InvalidArgumentError("s.json:1: empty input"));
  EXPECT_EQ(Parse(" \r\n").status, absl::InvalidArgumentError("s.json:1: empty input"));
  EXPECT_EQ(Parse("\"x\"").status,
            absl::InvalidArgumentError("s.json:1: top level is string, want an object"));
}

TEST(SettingsJsonErrorTest, DeepNesting) {
  EXPECT_EQ(Parse(std::string(100000, '[')).status,
            absl::InvalidArgumentError("s.json:1: nesting deeper than 32"));
}

TEST(SettingsJsonErrorTest, InvalidEncoding) {
  EXPECT_THAT(
      Parse("{\"SyncCycleEnabled\": \"\xC3\x28\"}").status,
      StatusIs(kInvalid, "s.json:1: invalid UTF-8 at byte 22: multi-byte sequence cut short"));
  std::string utf16 = ToUtf16(R"({"SyncCycleEnabled": true})", /*little_endian=*/true);
  utf16.pop_back();
  EXPECT_EQ(Parse(utf16).status,
            absl::InvalidArgumentError("s.json:1: invalid UTF-16 at byte 52: odd number of bytes: "
                                       "the last character is cut (truncated?)"));
}

TEST(SettingsJsonErrorTest, LargerThanFourMiB) {
  const std::string text =
      absl::StrCat("{\"SyncCycleEnabled\": true, \"Pad\": \"", std::string(4 << 20, ' '), "\"}");
  EXPECT_EQ(Parse(text).status,
            absl::InvalidArgumentError("s.json: larger than the 4 MiB limit for settings JSON"));
}

TEST(SettingsJsonErrorTest, ReaderErrorIsReturnedUnchanged) {
  FailingByteReader in;
  v1::ServerSettings s;
  EXPECT_EQ(ParseSettingsJson(in, "s.json", &s), absl::UnavailableError("disk on fire"));
}

}  // namespace
}  // namespace syncwatch::agent
