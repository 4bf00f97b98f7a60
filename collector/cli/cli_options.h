// The `syncwatch` command line: `syncwatch [flags] <command> [flags]`, flags
// accepted anywhere on the line, parsed by hand so that every mistake becomes
// a status (exit code 2) instead of a library's exit().
#ifndef SYNCWATCH_COLLECTOR_CLI_CLI_OPTIONS_H_
#define SYNCWATCH_COLLECTOR_CLI_CLI_OPTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/tls.h"

namespace syncwatch::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// `alerts --state`: which alerts to list.
enum class AlertStateFilter { kFiring, kResolved, kAll };

// What the command line asked for, after syntax and value checks. Whether a
// filter applies to the command is checked later, by the command table.
struct CliOptions {
  // The collector being called, host:port: the first of `collectors` once
  // parsed; the command layer sets it to each collector it calls.
  std::string collector = "127.0.0.1:7443";
  // --collector ADDR[,ADDR…] (repeatable), or else the environment variable
  // SYNCWATCH_COLLECTOR (same form): every collector of the deployment. Admin
  // changes go to each; reads to the first that answers.
  // Default: the collector's own default listen address.
  std::vector<std::string> collectors;

  // --output: table for people, json/csv for scripts.
  // Default: table.
  OutputFormat output = OutputFormat::kTable;

  // The command word ("runs", ...); empty when none was given.
  std::string command;
  // The words after the command (`ack ALERT_ID`, `retention set`); how many a
  // command takes is checked by the command table.
  std::vector<std::string> arguments;

  // --help / -h / `help`: print the usage and do nothing else.
  bool help = false;
  // --explain (deletes): the probable causes of the pending deletes instead
  // of the objects. A flag without a value.
  bool explain = false;

  // Filters. Unset when the flag was not given, so that a command can refuse a
  // filter it cannot honour instead of silently ignoring it. An empty value
  // (`--server=`) matches everything, like an absent flag.
  std::optional<std::string> server;
  std::optional<std::string> tenant;
  std::optional<std::string> connector;
  // --since, resolved to an absolute time when the line was parsed.
  std::optional<absl::Time> since;
  // --type: a result prefix for runs, an error type for errors.
  std::optional<std::string> type;
  // --state: firing, resolved or all (alerts only; the command lists firing
  // alerts when it is not given).
  std::optional<AlertStateFilter> state;

  // Admin actions. --alert: a silence's alert-name matcher. --comment: an
  // ack's or a silence's comment. --for / --until: when a silence ends
  // (--for resolved against the time the line was parsed).
  std::optional<std::string> alert;
  std::optional<std::string> comment;
  // --id: the silence's id (default: one made up by the CLI), so that re-running
  // a silence that reached only some collectors finishes it on the rest.
  std::optional<std::string> id;
  std::optional<absl::Duration> for_duration;
  std::optional<absl::Time> until;
  // `retention set`: the new windows; zero is "off" (keep forever).
  std::optional<absl::Duration> runs;
  std::optional<absl::Duration> export_errors;
  std::optional<absl::Duration> snapshots;

  // --timeout: the deadline of each call to the collector (one per page).
  // Default: 10s, far above a healthy collector's answer time yet short enough
  // that a script notices a hung collector.
  absl::Duration timeout = absl::Seconds(10);

  // --token-file (the file's first non-comment line) or else the environment
  // variable SYNCWATCH_TOKEN: the bearer token sent with every call, for a
  // collector with auth.tokens_file. Default: none.
  std::string token;

  // --tls-ca, --tls-cert, --tls-key, --tls-server-name: TLS to the collector
  // (plain text when --tls-ca is not given).
  ClientTls tls;
};

// Parses the arguments after the program name. Flags take their value as
// `--flag value` or `--flag=value` (one or two leading dashes); `--` ends the
// flags. Returns InvalidArgument naming the flag or argument for unknown flags,
// missing or bad values and a second positional argument. `now` resolves a
// relative --since.
absl::StatusOr<CliOptions> ParseArgs(const std::vector<std::string>& args, absl::Time now);

// Parses a --since value: a positive duration back from `now` ("30m", "24h",
// "7d", "1d12h", "90s", "2w") or an absolute time (ISO 8601 such as
// "2024-05-01T06:00:00Z" or "2024-05-01T08:00:00+02:00", UTC when no zone is
// given, or a date "2024-05-01" meaning midnight UTC). Returns InvalidArgument
// otherwise.
absl::StatusOr<absl::Time> ParseSince(absl::string_view text, absl::Time now);

// Parses a span such as "4h", "30m", "7d", "2w" or "1d12h" for --`flag`
// (the --since durations); with `allow_off`, "off" and "0" are zero. Returns
// InvalidArgument naming the flag otherwise, and for a span that is not
// positive.
absl::StatusOr<absl::Duration> ParseSpan(absl::string_view flag, absl::string_view text,
                                         bool allow_off);

// "table" | "json" | "csv".
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);

// "firing" | "resolved" | "all".
absl::StatusOr<AlertStateFilter> ParseAlertStateFilter(absl::string_view text);

}  // namespace syncwatch::cli

#endif  // SYNCWATCH_COLLECTOR_CLI_CLI_OPTIONS_H_
