// Parsers for the sync engine's run history, in the two forms the agent reads:
//  - run-history XML as `MIIS_RunHistory.RunDetails()` / ADSyncTools return it
//    (`<run-history><run-details>…`), and
//  - `Get-ADSyncRunProfileResult [-RunStepDetails] | ConvertTo-Json` output.
// Both stream from a ByteReader and hand each run to a sink as soon as it is
// complete; neither keeps more than one run in memory.
#ifndef SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_H_
#define SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

// Receives each parsed run. Returning an error stops parsing and is returned
// by the parser unchanged.
using RunSink = std::function<absl::Status(v1::RunProfileResult run)>;

// Parses run-history XML from `in`. `name` (usually the file path) prefixes
// every error message, which also gives the line and the problem, e.g.
// "runs/x.xml:12: <run-number> is not a number: \"abc\"".
// On error, runs already handed to `sink` must be discarded by the caller.
absl::Status ParseRunHistoryXml(ByteReader& in, absl::string_view name, const RunSink& sink);

// Parses ConvertTo-Json output of Get-ADSyncRunProfileResult (an array of
// objects, or a single object) from `in`. Errors as for ParseRunHistoryXml.
absl::Status ParseRunHistoryJson(ByteReader& in, absl::string_view name, const RunSink& sink);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_H_
