#include "collector/cli/cli_options.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::cli {
namespace {

// How a flag's value lands in CliOptions.
struct FlagSpec {
  absl::string_view name;
  absl::Status (*apply)(absl::string_view value, absl::Time now, CliOptions& options);
};

absl::Status BadValue(absl::string_view flag, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad value \"", value, "\" for --", flag, ": ", why));
}

// The first line of `path` that is neither blank nor a # comment, trimmed.
// The error names the file, never its content.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return BadValue("token-file", path, "cannot read the file");
  std::string line;
  while (std::getline(in, line)) {
    const absl::string_view token = absl::StripAsciiWhitespace(line);
    if (!token.empty() && token[0] != '#') return std::string(token);
  }
  return BadValue("token-file", path, "the file holds no token");
}

// An absolute time: ISO 8601 ("2024-05-01T06:00:00Z", UTC when no zone is
// given) or a date ("2024-05-01", midnight UTC).
std::optional<absl::Time> ParseAbsoluteTime(absl::string_view text) {
  absl::Time day;
  std::string err;
  if (absl::ParseTime("%Y-%m-%d", std::string(text), absl::UTCTimeZone(), &day, &err)) return day;
  absl::StatusOr<absl::Time> time = ParseEngineTime(text);
  if (time.ok()) return *time;
  return std::nullopt;
}

// Appends the comma-separated host:port addresses of `value` (from `source`,
// a flag or an environment variable) to *collectors.
absl::Status AddCollectors(absl::string_view source, absl::string_view value,
                           std::vector<std::string>* collectors) {
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    const std::string address(absl::StripAsciiWhitespace(part));
    if (address.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value \"", value, "\" for ", source, ": want host:port[,host:port…]"));
    }
    if (std::find(collectors->begin(), collectors->end(), address) != collectors->end()) {
      return absl::InvalidArgumentError(absl::StrCat("bad value \"", value, "\" for ", source,
                                                     ": the collector ", address,
                                                     " is named twice"));
    }
    collectors->push_back(address);
  }
  return absl::OkStatus();
}

// Sets *target from a --`flag` span value.
absl::Status SetSpan(absl::string_view flag, absl::string_view value, bool allow_off,
                     std::optional<absl::Duration>* target) {
  SYNCWATCH_ASSIGN_OR_RETURN(*target, ParseSpan(flag, value, allow_off));
  return absl::OkStatus();
}

constexpr FlagSpec kFlags[] = {
    {"collector",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       return AddCollectors("--collector", value, &options.collectors);
     }},
    {"output",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       SYNCWATCH_ASSIGN_OR_RETURN(options.output, ParseOutputFormat(value));
       return absl::OkStatus();
     }},
    {"server",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.server = std::string(value);
       return absl::OkStatus();
     }},
    {"tenant",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.tenant = std::string(value);
       return absl::OkStatus();
     }},
    {"connector",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.connector = std::string(value);
       return absl::OkStatus();
     }},
    {"since",
     [](absl::string_view value, absl::Time now, CliOptions& options) {
       SYNCWATCH_ASSIGN_OR_RETURN(options.since, ParseSince(value, now));
       return absl::OkStatus();
     }},
    {"type",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.type = std::string(value);
       return absl::OkStatus();
     }},
    {"state",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       SYNCWATCH_ASSIGN_OR_RETURN(options.state, ParseAlertStateFilter(value));
       return absl::OkStatus();
     }},
    {"tls-ca",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.tls.ca = std::string(value);
       return absl::OkStatus();
     }},
    {"tls-cert",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.tls.cert = std::string(value);
       return absl::OkStatus();
     }},
    {"tls-key",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.tls.key = std::string(value);
       return absl::OkStatus();
     }},
    {"tls-server-name",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.tls.server_name = std::string(value);
       return absl::OkStatus();
     }},
    {"token-file",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       SYNCWATCH_ASSIGN_OR_RETURN(options.token, ReadTokenFile(std::string(value)));
       return absl::OkStatus();
     }},
    {"alert",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.alert = std::string(value);
       return absl::OkStatus();
     }},
    {"id",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.id = std::string(absl::StripAsciiWhitespace(value));
       if (options.id->empty()) return BadValue("id", value, "the id is empty");
       return absl::OkStatus();
     }},
    {"comment",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       options.comment = std::string(value);
       return absl::OkStatus();
     }},
    {"for",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       return SetSpan("for", value, /*allow_off=*/false, &options.for_duration);
     }},
    {"until",
     [](absl::string_view value, absl::Time now, CliOptions& options) {
       const std::optional<absl::Time> until = ParseAbsoluteTime(absl::StripAsciiWhitespace(value));
       if (!until) {
         return BadValue("until", value, "want an ISO-8601 time such as 2024-05-01T18:00:00Z");
       }
       if (*until <= now) return BadValue("until", value, "the time is not in the future");
       options.until = *until;
       return absl::OkStatus();
     }},
    {"runs",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       return SetSpan("runs", value, /*allow_off=*/true, &options.runs);
     }},
    {"export-errors",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       return SetSpan("export-errors", value, /*allow_off=*/true, &options.export_errors);
     }},
    {"snapshots",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       return SetSpan("snapshots", value, /*allow_off=*/true, &options.snapshots);
     }},
    {"timeout",
     [](absl::string_view value, absl::Time, CliOptions& options) {
       absl::Duration timeout;
       if (!absl::ParseDuration(std::string(absl::StripAsciiWhitespace(value)), &timeout) ||
           timeout <= absl::ZeroDuration() || timeout == absl::InfiniteDuration()) {
         return BadValue("timeout", value, "want a positive duration such as 10s or 2m");
       }
       options.timeout = timeout;
       return absl::OkStatus();
     }},
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "csv") return OutputFormat::kCsv;
  return BadValue("output", text, "want table, json or csv");
}

absl::StatusOr<AlertStateFilter> ParseAlertStateFilter(absl::string_view text) {
  if (text == "firing") return AlertStateFilter::kFiring;
  if (text == "resolved") return AlertStateFilter::kResolved;
  if (text == "all") return AlertStateFilter::kAll;
  return BadValue("state", text, "want firing, resolved or all");
}

absl::StatusOr<absl::Duration> ParseSpan(absl::string_view flag, absl::string_view text,
                                         bool allow_off) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  if (allow_off && (t == "off" || t == "0")) return absl::ZeroDuration();
  absl::Duration span;
  if (std::optional<absl::Duration> parsed = ParseHumanDuration(t)) {
    span = *parsed;
  } else {
    return BadValue(flag, text,
                    absl::StrCat("want a duration such as 4h, 30m, 7d or 2w",
                                 allow_off ? ", or off (keep forever)" : ""));
  }
  // "0s" would ask for nothing; a negative or infinite span is a typo.
  if (span <= absl::ZeroDuration() || span == absl::InfiniteDuration()) {
    return BadValue(flag, text, "the duration must be positive");
  }
  return span;
}

absl::StatusOr<absl::Time> ParseSince(absl::string_view text, absl::Time now) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  if (ParseHumanDuration(t)) {
    SYNCWATCH_ASSIGN_OR_RETURN(absl::Duration lookback,
                               ParseSpan("since", text, /*allow_off=*/false));
    return now - lookback;
  }
  if (const std::optional<absl::Time> time = ParseAbsoluteTime(t)) return *time;
  return BadValue("since", text,
                  "want a duration such as 30m, 24h or 7d, or an ISO-8601 time such as "
                  "2024-05-01T06:00:00Z");
}

absl::StatusOr<CliOptions> ParseArgs(const std::vector<std::string>& args, absl::Time now) {
  CliOptions options;
  std::vector<absl::string_view> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i) positional.push_back(args[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");
    if (body == "help" || body == "h") {
      options.help = true;
      continue;
    }
    if (body == "explain") {
      options.explain = true;
      continue;
    }
    absl::string_view name = body;
    absl::string_view value;
    const size_t eq = body.find('=');
    const bool inline_value = eq != absl::string_view::npos;
    if (inline_value) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
    }
    const FlagSpec* flag = FindFlag(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    SYNCWATCH_RETURN_IF_ERROR(flag->apply(value, now, options));
  }

  if (!positional.empty()) {
    if (positional[0] == "help") {
      options.help = true;
    } else {
      options.command = std::string(positional[0]);
    }
    for (size_t i = 1; i < positional.size(); ++i) {
      options.arguments.emplace_back(positional[i]);
    }
  }
  if (options.collectors.empty()) {
    const char* env = std::getenv("SYNCWATCH_COLLECTOR");
    if (env != nullptr && !absl::StripAsciiWhitespace(env).empty()) {
      SYNCWATCH_RETURN_IF_ERROR(
          AddCollectors("the environment variable SYNCWATCH_COLLECTOR", env, &options.collectors));
    } else {
      options.collectors.push_back(options.collector);
    }
  }
  options.collector = options.collectors.front();
  if (options.token.empty()) {
    if (const char* env = std::getenv("SYNCWATCH_TOKEN"); env != nullptr) {
      options.token = std::string(absl::StripAsciiWhitespace(env));
    }
  }
  return options;
}

}  // namespace syncwatch::cli
