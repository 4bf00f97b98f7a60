// Minimal leveled logging to stderr (Abseil 20220623 has no absl/log).
// One line per call, prefixed with the UTC time and the level; thread-safe.
#ifndef SYNCWATCH_COMMON_LOG_H_
#define SYNCWATCH_COMMON_LOG_H_

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace syncwatch {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below `level` are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);
void LogLine(LogLevel level, absl::string_view message);

// Where lines go instead of stderr (nullptr: stderr again), e.g. a file and
// the Windows Event Log for the agent's service, which has no stderr. `line`
// is the whole line (time, level, message, newline). Set it before threads
// log; the sink must be thread-safe.
using LogSink = void (*)(LogLevel level, absl::string_view line);
void SetLogSink(LogSink sink);

}  // namespace syncwatch

// SYNCWATCH_LOG(kInfo, "stored ", n, " events") — arguments as for absl::StrCat.
#define SYNCWATCH_LOG(level, ...) \
  ::syncwatch::LogLine(::syncwatch::LogLevel::level, ::absl::StrCat(__VA_ARGS__))

#endif  // SYNCWATCH_COMMON_LOG_H_
