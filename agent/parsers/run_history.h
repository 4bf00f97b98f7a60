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
//
// Details:
//  - Encoding comes from the bytes, not from the declaration (the engine
//    declares utf-16 on UTF-8 text): a UTF-16LE/BE BOM means UTF-16,
//    anything else must be valid UTF-8 (a UTF-8 BOM is allowed). Either is
//    validated by syncwatch (TextValidator), whatever expat is installed.
//  - The root is <run-history> or <execution-histories><run-history>…; several
//    documents one after another (each with its own declaration) are read in turn.
//  - Unknown elements and attributes are ignored; values are trimmed at both
//    ends only. An empty date element counts as absent.
//  - InvalidArgument for: malformed or truncated XML, any DOCTYPE, nesting
//    deeper than 64, an element text or a tag over 1 MiB, no <run-details>, a
//    <run-details> without <ma-name>, non-numeric numbers, unparsable dates.
//    Errors of `in` and of `sink` are returned unchanged.
//  - A run is handed to `sink` only once its </run-details> is read and it
//    is valid; a run with an error is never handed over.
absl::Status ParseRunHistoryXml(ByteReader& in, absl::string_view name, const RunSink& sink);

// Parses ConvertTo-Json output of Get-ADSyncRunProfileResult (an array of
// objects, or a single object) from `in`. Errors as for ParseRunHistoryXml.
//
// Details:
//  - UTF-8 (BOM optional) or UTF-16 with BOM; at most 64 MiB, read whole,
//    but each run is converted and handed over on its own.
//  - Empty or all-white-space input is zero runs: that is what ConvertTo-Json
//    writes for an empty result.
//  - Each run needs ConnectorName, Result, StartDate, and RunHistoryId or
//    RunNumber. Numbers may be JSON numbers or numeric strings; null counts
//    as absent; unknown properties are ignored.
//  - Errors read "<name>:<line>: item <i> (<RunHistoryId or #i>): <Property>:
//    <problem>", with <i> 0-based and <line> where the item starts.
absl::Status ParseRunHistoryJson(ByteReader& in, absl::string_view name, const RunSink& sink);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_RUN_HISTORY_H_
