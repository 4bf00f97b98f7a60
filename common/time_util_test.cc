#include "common/time_util.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch {
namespace {

TEST(ParseEngineTime, RunHistoryFormatIsUtc) {
  auto t = ParseEngineTime("2017-01-04 23:00:55.253");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatIso8601(*t), "2017-01-04T23:00:55.253Z");
}

TEST(ParseEngineTime, DotNetJsonDateIsMillisecondsSinceEpoch) {
  auto t = ParseEngineTime("/Date(1649391053843)/");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(absl::ToUnixMillis(*t), 1649391053843);
  EXPECT_EQ(FormatIso8601(*t), "2022-04-08T04:10:53.843Z");
}

TEST(ParseEngineTime, DotNetJsonDateOffsetIsInformational) {
  auto t = ParseEngineTime("/Date(1649391053843+0200)/");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(absl::ToUnixMillis(*t), 1649391053843);
}

TEST(ParseEngineTime, IsoWithZoneIsConvertedToUtc) {
  auto t = ParseEngineTime("2022-04-08T22:13:31.163+02:00");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatIso8601(*t), "2022-04-08T20:13:31.163Z");
  auto z = ParseEngineTime("2022-04-08T20:13:31Z");
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(FormatIso8601(*z), "2022-04-08T20:13:31.000Z");
}

TEST(ParseEngineTime, ZonelessIsoIsTakenAsUtc) {
  auto t = ParseEngineTime("2022-04-08T20:13:31.163");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatIso8601(*t), "2022-04-08T20:13:31.163Z");
}

TEST(ParseEngineTime, RejectsGarbageNamingIt) {
  auto t = ParseEngineTime("yesterday");
  EXPECT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), ::testing::HasSubstr("yesterday"));
  EXPECT_FALSE(ParseEngineTime("/Date(12x)/").ok());
  EXPECT_FALSE(ParseEngineTime("/Date(99999999999999999)/").ok());
  EXPECT_FALSE(ParseEngineTime("").ok());
}

TEST(ParseHumanDuration, ReadsWeeksDaysAndAbslUnits) {
  EXPECT_EQ(ParseHumanDuration("400d"), absl::Hours(24 * 400));
  EXPECT_EQ(ParseHumanDuration("2w"), absl::Hours(24 * 14));
  EXPECT_EQ(ParseHumanDuration("1d12h"), absl::Hours(36));
  EXPECT_EQ(ParseHumanDuration("1w2d"), absl::Hours(24 * 9));
  EXPECT_EQ(ParseHumanDuration("90m"), absl::Minutes(90));
  EXPECT_EQ(ParseHumanDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(ParseHumanDuration("0"), absl::ZeroDuration());
  for (const char* bad : {"", "d", "-1h", "inf", "2024-05-01", "7days", "1x", "3d-1h", "off"}) {
    EXPECT_EQ(ParseHumanDuration(bad), std::nullopt) << bad;
  }
}

TEST(ParseTimeSpan, ReadsDotNetTimeSpans) {
  auto d = ParseTimeSpan("00:30:00");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, absl::Minutes(30));
  auto w = ParseTimeSpan("7.00:00:00");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, absl::Hours(24 * 7));
  EXPECT_FALSE(ParseTimeSpan("30 minutes").ok());
  EXPECT_FALSE(ParseTimeSpan("00:61:00").ok());
}

TEST(ProtoTimestamp, RoundTrips) {
  const absl::Time t = absl::FromUnixMillis(1649391053843);
  EXPECT_EQ(FromProtoTimestamp(ToProtoTimestamp(t)), t);
  EXPECT_EQ(FromProtoDuration(ToProtoDuration(absl::Milliseconds(1500))), absl::Milliseconds(1500));
  EXPECT_TRUE(IsValidTimestamp(ToProtoTimestamp(t)));
  google::protobuf::Timestamp bad;
  bad.set_seconds(1);
  bad.set_nanos(-1);
  EXPECT_FALSE(IsValidTimestamp(bad));
}

}  // namespace
}  // namespace syncwatch
