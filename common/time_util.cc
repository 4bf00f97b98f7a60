#include "common/time_util.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace syncwatch {
namespace {

constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59Z

absl::StatusOr<absl::Time> ParseDotNetDate(absl::string_view text) {
  // Input without the "/Date(" prefix and ")/" suffix: "<ms>[+-hhmm]".
  absl::string_view digits = text;
  size_t sign_pos = digits.find_first_of("+-", 1);
  if (sign_pos != absl::string_view::npos) {
    absl::string_view offset = digits.substr(sign_pos + 1);
    if (offset.size() != 4 || !std::all_of(offset.begin(), offset.end(), absl::ascii_isdigit)) {
      return absl::InvalidArgumentError(absl::StrCat("bad .NET date offset in \"", text, "\""));
    }
    digits = digits.substr(0, sign_pos);  // the ms value is UTC already
  }
  int64_t ms = 0;
  if (!absl::SimpleAtoi(digits, &ms)) {
    return absl::InvalidArgumentError(absl::StrCat("bad .NET date \"", text, "\""));
  }
  if (ms / 1000 < kMinTimestampSeconds || ms / 1000 > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(".NET date out of range: \"", text, "\""));
  }
  return absl::FromUnixMillis(ms);
}

}  // namespace

absl::StatusOr<absl::Time> ParseEngineTime(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.empty()) return absl::InvalidArgumentError("empty time");
  absl::string_view inner = t;
  if (absl::ConsumePrefix(&inner, "/Date(") && absl::ConsumeSuffix(&inner, ")/")) {
    return ParseDotNetDate(inner);
  }
  static constexpr const char* kZonedFormats[] = {"%Y-%m-%dT%H:%M:%E*S%Ez",
                                                  "%Y-%m-%d %H:%M:%E*S%Ez"};
  static constexpr const char* kUtcFormats[] = {"%Y-%m-%d %H:%M:%E*S", "%Y-%m-%dT%H:%M:%E*S"};
  std::string input(t);
  if (absl::EndsWith(input, "Z") || absl::EndsWith(input, "z")) {
    input.back() = '+';
    input += "00:00";
  }
  absl::Time out;
  std::string err;
  for (const char* f : kZonedFormats) {
    if (absl::ParseTime(f, input, &out, &err)) return out;
  }
  for (const char* f : kUtcFormats) {
    if (absl::ParseTime(f, input, absl::UTCTimeZone(), &out, &err)) return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("not a time: \"", t, "\""));
}

absl::StatusOr<absl::Duration> ParseTimeSpan(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  bool negative = absl::ConsumePrefix(&t, "-");
  int64_t days = 0;
  absl::string_view hms = t;
  size_t colon = t.find(':');
  size_t dot = t.find('.');
  if (dot != absl::string_view::npos && dot < colon) {
    if (!absl::SimpleAtoi(t.substr(0, dot), &days) || days < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad time span \"", text, "\""));
    }
    hms = t.substr(dot + 1);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(hms, ':');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad time span \"", text, "\" (want d.HH:mm:ss)"));
  }
  int64_t hours = 0;
  int64_t minutes = 0;
  double seconds = 0;
  if (!absl::SimpleAtoi(parts[0], &hours) || !absl::SimpleAtoi(parts[1], &minutes) ||
      !absl::SimpleAtod(parts[2], &seconds) || hours < 0 || hours > 23 || minutes < 0 ||
      minutes > 59 || !(seconds >= 0 && seconds < 60)) {
    return absl::InvalidArgumentError(absl::StrCat("bad time span \"", text, "\""));
  }
  absl::Duration d =
      absl::Hours(days * 24 + hours) + absl::Minutes(minutes) + absl::Seconds(seconds);
  return negative ? -d : d;
}

std::string FormatIso8601(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::optional<absl::Duration> ParseHumanDuration(absl::string_view text) {
  if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) {
    return std::nullopt;
  }
  absl::Duration total = absl::ZeroDuration();
  // "<n>w" and "<n>d" prefixes, which absl::ParseDuration does not know.
  for (auto [unit, length] : {std::pair<char, absl::Duration>{'w', absl::Hours(7 * 24)},
                              std::pair<char, absl::Duration>{'d', absl::Hours(24)}}) {
    const size_t pos = text.find(unit);
    if (pos == absl::string_view::npos) continue;
    int64_t count = 0;
    if (!absl::SimpleAtoi(text.substr(0, pos), &count) || count < 0) return std::nullopt;
    total += count * length;
    text.remove_prefix(pos + 1);
  }
  if (!text.empty()) {
    absl::Duration tail;
    if (!absl::ParseDuration(std::string(text), &tail) || tail < absl::ZeroDuration() ||
        tail == absl::InfiniteDuration()) {
      return std::nullopt;
    }
    total += tail;
  }
  return total;
}

std::string FormatRetentionWindow(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "off";
  const absl::Duration day = absl::Hours(24);
  if (d % day == absl::ZeroDuration()) return absl::StrCat(d / day, "d");
  return absl::FormatDuration(d);
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t s = absl::ToUnixSeconds(t);
  ts.set_seconds(s);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(s))));
  return ts;
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t s = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(s);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= kMinTimestampSeconds && ts.seconds() <= kMaxTimestampSeconds &&
         ts.nanos() >= 0 && ts.nanos() <= 999999999;
}

int64_t ToUnixMicrosOrZero(const google::protobuf::Timestamp& ts) {
  if (!IsValidTimestamp(ts)) return 0;
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

}  // namespace syncwatch
