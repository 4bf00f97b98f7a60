// The `syncwatch` command layer: parses the command line, calls the
// collector's Query API (walking every page) and prints the result. Kept apart
// from main() so that tests run it against an in-process collector double.
//
// Adding a command (`fleet`, `alerts`, `ack`, …) means one entry in the command
// table in cli.cc plus its record/table functions in records.h.
#ifndef SYNCWATCH_COLLECTOR_CLI_CLI_H_
#define SYNCWATCH_COLLECTOR_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "syncwatch/v1/admin.grpc.pb.h"
#include "syncwatch/v1/query.grpc.pb.h"

namespace syncwatch::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
// The collector could not be reached or refused a call, or the output could
// not be written.
inline constexpr int kExitFailure = 1;
// Bad usage: unknown command or flag, bad flag value, a filter that does not
// apply to the command, no command.
inline constexpr int kExitUsage = 2;

// The text printed by --help.
std::string UsageText();

// Runs the command line `args` (without the program name) against `query`
// (the list commands) or `admin` (ack, silences, retention); --collector only
// names the collector in messages. Writes the result to `out`, and to `err`
// one line starting with "syncwatch: " for any failure. Returns one of the
// exit codes above. The stubs are only borrowed for the call.
int RunCommand(const std::vector<std::string>& args, v1::Query::StubInterface& query,
               v1::Admin::StubInterface& admin, std::ostream& out, std::ostream& err);

// Same as RunCommand with a stub connected to --collector; what main() runs.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace syncwatch::cli

#endif  // SYNCWATCH_COLLECTOR_CLI_CLI_H_
