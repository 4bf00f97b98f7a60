// The issue-18 commands, kept out of cli.cc: `changes`, `drift` and
// `deletes --explain`, and their JSON, table and CSV renderings.
#ifndef SYNCWATCH_COLLECTOR_CLI_CONFIG_COMMANDS_H_
#define SYNCWATCH_COLLECTOR_CLI_CONFIG_COMMANDS_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "collector/cli/cli_options.h"
#include "collector/cli/records.h"
#include "collector/cli/table.h"
#include "syncwatch/v1/query.grpc.pb.h"

namespace syncwatch::cli {

// Defined in cli.cc for the commands defined elsewhere: the call's deadline
// and token, the user-facing error of a failed call, the list filter.
void PrepareCall(const CliOptions& options, grpc::ClientContext* context);
absl::Status CallFailure(const CliOptions& options, absl::string_view rpc,
                         const grpc::Status& status);
v1::Filter FilterOf(const CliOptions& options);

absl::Status ChangesCommand(const CliOptions& options, v1::Query::StubInterface& stub,
                            std::ostream& out);
absl::Status DriftCommand(const CliOptions& options, v1::Query::StubInterface& stub,
                          std::ostream& out);
// `deletes --explain`.
absl::Status ExplainDeletesCommand(const CliOptions& options, v1::Query::StubInterface& stub,
                                   std::ostream& out);
// `deletes` usage: --since does not apply with --explain.
absl::Status CheckDeletes(const CliOptions& options);

// [{server, tenant, detected_at, kind, connector, partition, rule, before, after, summary}]
Json ChangesToJson(const v1::ListConfigurationChangesResponse& response);
Table ChangesTable(const v1::ListConfigurationChangesResponse& response);
// [{tenant, server, reference_server, kind, connector, partition, rule, reference_value,
//   value, summary}]
Json DriftToJson(const v1::ListConfigurationDriftResponse& response);
Table DriftTable(const v1::ListConfigurationDriftResponse& response);
// [{kind, summary, evidence: [...]}]
Json CausesToJson(const google::protobuf::RepeatedPtrField<v1::DeleteCause>& causes);
// [{server, tenant, connector, pending_deletes, causes}]
Json ExplanationsToJson(const v1::ExplainDeletesResponse& response);
std::string RenderExplanations(const v1::ExplainDeletesResponse& response);
Table ExplanationsCsvTable(const v1::ExplainDeletesResponse& response);

}  // namespace syncwatch::cli

#endif  // SYNCWATCH_COLLECTOR_CLI_CONFIG_COMMANDS_H_
