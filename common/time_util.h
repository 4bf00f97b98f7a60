// Parsing and printing the time formats the sync engine writes, and the
// conversions to google.protobuf.Timestamp.
#ifndef SYNCWATCH_COMMON_TIME_UTIL_H_
#define SYNCWATCH_COMMON_TIME_UTIL_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace syncwatch {

// Parses a time as the engine writes it and returns it in UTC:
//  - run-history XML: "2017-01-04 23:00:55.253" (UTC, no zone);
//  - ISO 8601 with 'T', with or without a zone ("Z", "+02:00");
//  - .NET JSON dates from Windows PowerShell's ConvertTo-Json:
//    "/Date(1649391053843)/" (ms since the Unix epoch, UTC), optionally with an
//    informational offset "/Date(1649391053843+0200)/".
// A time without a zone is taken as UTC. Errors name the offending text.
absl::StatusOr<absl::Time> ParseEngineTime(absl::string_view text);

// Parses a .NET TimeSpan "d.HH:mm:ss[.fffffff]" or "HH:mm:ss" (e.g. "00:30:00",
// "7.00:00:00").
absl::StatusOr<absl::Duration> ParseTimeSpan(absl::string_view text);

// "2017-01-04T23:00:55.253Z": ISO 8601 in UTC, always with milliseconds (the
// engine's own precision), so that columns of times line up.
std::string FormatIso8601(absl::Time t);

// A duration as people write it in flags and YAML: absl::ParseDuration's
// units ("36h", "90m", "1.5h") after optional whole weeks and days ("2w",
// "7d", "1d12h"). nullopt when `text` is not one (it may be a time instead);
// never negative or infinite (it must start with a digit).
std::optional<absl::Duration> ParseHumanDuration(absl::string_view text);

// A retention window as the YAML and the CLI write it: "off" for zero, "400d"
// for whole days, else absl::FormatDuration ("36h", "1h30m").
std::string FormatRetentionWindow(absl::Duration d);

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts);
google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

// True when `ts` is a valid google.protobuf.Timestamp (years 0001..9999, nanos
// in range).
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);

// Microseconds since the Unix epoch, for sortable keys.
int64_t ToUnixMicrosOrZero(const google::protobuf::Timestamp& ts);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_TIME_UTIL_H_
