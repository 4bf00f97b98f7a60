// The agent's configuration (YAML, --config FILE), with defaults, validated
// once at start-up. The keys are the contract of ARCHITECTURE.md.
#ifndef SYNCWATCH_AGENT_AGENT_OPTIONS_H_
#define SYNCWATCH_AGENT_AGENT_OPTIONS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

enum class SourceKind {
  kRunHistory,
  kPendingExports,
  kExportErrors,
  kSettings,
  kServerConfiguration
};
// kServerConfiguration reads folders (Get-ADSyncServerConfiguration -Path),
// format kFolder.
enum class SourceFormat { kXml, kJson, kCsexport, kFolder };

struct SourceOptions {
  // Unique name; stamped on every event the source produces.
  std::string name;
  SourceKind kind = SourceKind::kRunHistory;
  SourceFormat format = SourceFormat::kXml;
  // A glob whose last path component may hold * and ?, e.g.
  // /var/lib/syncwatch/in/runs/*.xml. Each matching file is read once (again
  // only when its size or modification time changes). For
  // server_configuration, the glob names folders (e.g. /in/config/*; names
  // starting with '.' are skipped), each read once while its files stay the
  // same, and one whose content equals the last one sent is not sent again.
  std::string path;
  // Instead of `path` (not for server_configuration): a program and its arguments, run every
  // `interval`, whose standard output is parsed (on Windows: PowerShell). Output equal to the
  // previous run's is not sent again.
  std::vector<std::string> command;
  // How often the glob is looked at or the command run. Default: 30s for
  // paths, 5m for commands.
  absl::Duration interval = absl::Seconds(30);
  // pending_exports / export_errors: the connector the input belongs to, when
  // neither the file (<ma-name>) nor its name (<stamp>_<id>_<name>.xml, as the
  // Windows exporter writes it) says. Default: empty.
  std::string connector;
  // How long a command may run before it is killed. Default: 2m.
  absl::Duration timeout = absl::Minutes(2);
};

struct AgentOptions {
  // The sync server this agent speaks for. Default: the host name.
  std::string server;
  // The Entra ID tenant, e.g. fabrikam.onmicrosoft.com.
  std::string tenant;
  // Stable identity of this agent installation. Default: the server name.
  std::string agent_id;
  // Declared role; settings sources may override it. Default: active.
  v1::ServerRole role = v1::SERVER_ROLE_ACTIVE;
  // Every collector gets every event. Default: 127.0.0.1:7443.
  std::vector<std::string> collectors = {"127.0.0.1:7443"};
  // TLS to the collectors: ca (a CA file) or system_roots: true (the
  // system's roots: on Windows the local machine's ROOT store) turns TLS on;
  // cert + key (mutual TLS), server_name (expected certificate name).
  // Default: plain text.
  ClientTls tls;
  // Where the spool lives. Default: ./data/agent.
  std::string data_dir = "./data/agent";
  std::vector<SourceOptions> sources;
  // Bytes the spool may hold before it refuses new events. Default: 512 MiB.
  size_t spool_max_bytes = size_t{512} * 1024 * 1024;
  // Most events per batch. Default: 500.
  size_t batch_max_events = 500;
  // Most bytes per batch (serialized). Default: 4 MiB.
  size_t batch_max_bytes = size_t{4} * 1024 * 1024;
  // A heartbeat is sent after this long without other events. Default: 60s.
  absl::Duration heartbeat_interval = absl::Seconds(60);

  // OK or InvalidArgument naming the setting.
  absl::Status Validate() const;
};

// Reads the YAML config at `path`. Unknown keys and bad values are
// InvalidArgument errors "PATH:LINE: …"; so are source kinds this agent
// version cannot read yet.
absl::StatusOr<AgentOptions> LoadAgentConfig(const std::string& path);

// The spool's folder: data_dir/spool (data_dir is UTF-8 on every OS).
std::string SpoolDir(const AgentOptions& options);

const char* SourceKindName(SourceKind kind);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_AGENT_OPTIONS_H_
