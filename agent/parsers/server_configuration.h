// Parser for the folder `Get-ADSyncServerConfiguration -Path DIR` writes
// (docs/domain/server-configuration.md):
//   DIR/Connectors/Connector_{GUID}.xml                     one per connector
//   DIR/SynchronizationRules/SynchronizationRule_{GUID}.xml one per sync rule
//   DIR/GlobalSettings/...                                  (not read)
// Each file is streamed through expat (xml_stream.h); a connector file is
// mostly its directory schema, which is skipped without being kept, so memory
// does not grow with the file.
#ifndef SYNCWATCH_AGENT_PARSERS_SERVER_CONFIGURATION_H_
#define SYNCWATCH_AGENT_PARSERS_SERVER_CONFIGURATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

// Parses one `Connector_{GUID}.xml` (root <ma-data>): name, id, category
// (type) and each `ma-partition-data/partition` with its filter. Errors are
// InvalidArgument "<name>:<line>: <problem>" (malformed XML, another root,
// no <id> or <name>, a <selected> that is not 0/1); errors of `in` unchanged.
absl::Status ParseConnectorXml(ByteReader& in, absl::string_view name,
                               v1::ConnectorConfiguration* out);

// Parses one `SynchronizationRule_{GUID}.xml` (root <synchronizationRule>).
// Sets every field but `connector` (the name, which only the connector files
// know); `connector_id` is the rule's <connector>. Errors as above; required
// are <name>, <direction> (Inbound/Outbound), <connector> and a numeric
// <precedence>; <disabled> must be True/False when present.
absl::Status ParseSyncRuleXml(ByteReader& in, absl::string_view name,
                              v1::SyncRuleConfiguration* out);

// Reads a whole configuration folder: every connector and rule file, rules'
// connector names filled in from the connectors, both lists sorted, and
// `source_path` and `digest` set (`taken_at` is left to the caller). Any
// error in any file fails the whole folder, naming the file and the line.
// InvalidArgument when `dir` has no Connectors/ or SynchronizationRules/.
absl::StatusOr<v1::ServerConfiguration> ReadServerConfigurationFolder(const std::string& dir);

// Hex SHA-256 of the configuration's content: everything but taken_at,
// digest and source_path.
std::string ServerConfigurationDigest(const v1::ServerConfiguration& config);

// Hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_SERVER_CONFIGURATION_H_
