#include "agent/agent_options.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/platform.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/yaml_config.h"

namespace syncwatch::agent {
namespace {

// "30s", "5m", "1h", "500ms" -> Duration.
absl::StatusOr<absl::Duration> ParseInterval(const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a duration like 30s, 5m or 1h"));
  }
  return d;
}

absl::StatusOr<SourceOptions> LoadSource(const YamlFile& file, const YAML::Node& node,
                                         size_t index) {
  const std::string where = absl::StrCat("sources[", index, "]");
  SYNCWATCH_RETURN_IF_ERROR(file.CheckKeys(
      node, {"name", "kind", "format", "path", "command", "interval", "timeout", "connector"},
      where));
  SourceOptions s;
  if (!node["name"]) return file.Error(node, absl::StrCat(where, ": 'name' is required"));
  SYNCWATCH_ASSIGN_OR_RETURN(s.name, file.String(node["name"], "name"));
  if (s.name.empty()) return file.Error(node["name"], absl::StrCat(where, ": 'name' is empty"));

  if (!node["kind"])
    return file.Error(node, absl::StrCat("source '", s.name, "': 'kind' is required"));
  SYNCWATCH_ASSIGN_OR_RETURN(std::string kind, file.String(node["kind"], "kind"));
  if (kind == "run_history") {
    s.kind = SourceKind::kRunHistory;
  } else if (kind == "pending_exports") {
    s.kind = SourceKind::kPendingExports;
  } else if (kind == "export_errors") {
    s.kind = SourceKind::kExportErrors;
  } else if (kind == "settings") {
    s.kind = SourceKind::kSettings;
  } else if (kind == "server_configuration") {
    s.kind = SourceKind::kServerConfiguration;
  } else {
    return file.Error(node["kind"], absl::StrCat("source '", s.name, "': unknown kind '", kind,
                                                 "' (run_history, pending_exports, export_errors, "
                                                 "settings, server_configuration)"));
  }

  // The formats each kind can be read from.
  const char* formats = s.kind == SourceKind::kRunHistory            ? "xml or json"
                        : s.kind == SourceKind::kSettings            ? "json"
                        : s.kind == SourceKind::kServerConfiguration ? "folder"
                                                                     : "csexport";
  if (!node["format"]) {
    return file.Error(node,
                      absl::StrCat("source '", s.name, "': 'format' is required (", formats, ")"));
  }
  SYNCWATCH_ASSIGN_OR_RETURN(std::string format, file.String(node["format"], "format"));
  const bool fits =
      (s.kind == SourceKind::kRunHistory && (format == "xml" || format == "json")) ||
      (s.kind == SourceKind::kSettings && format == "json") ||
      (s.kind == SourceKind::kServerConfiguration && format == "folder") ||
      ((s.kind == SourceKind::kPendingExports || s.kind == SourceKind::kExportErrors) &&
       format == "csexport");
  if (!fits) {
    return file.Error(node["format"],
                      absl::StrCat("source '", s.name, "': format '", format,
                                   "' does not fit kind ", kind, " (", formats, ")"));
  }
  s.format = format == "xml"      ? SourceFormat::kXml
             : format == "json"   ? SourceFormat::kJson
             : format == "folder" ? SourceFormat::kFolder
                                  : SourceFormat::kCsexport;
  if (node["connector"]) {
    SYNCWATCH_ASSIGN_OR_RETURN(s.connector, file.String(node["connector"], "connector"));
  }

  if (node["command"] && node["path"]) {
    return file.Error(node["command"],
                      absl::StrCat("source '", s.name, "': give 'path' or 'command', not both"));
  }
  if (node["command"] && s.kind == SourceKind::kServerConfiguration) {
    return file.Error(node["command"],
                      absl::StrCat("source '", s.name,
                                   "': server_configuration reads folders: give 'path', e.g. "
                                   "/in/config/*"));
  }
  if (node["command"]) {
    SYNCWATCH_ASSIGN_OR_RETURN(s.command, file.StringList(node["command"], "command"));
    if (s.command.empty() || s.command[0].empty()) {
      return file.Error(node["command"], absl::StrCat("source '", s.name, "': 'command' is empty"));
    }
    s.interval = absl::Minutes(5);
  } else {
    if (!node["path"]) {
      return file.Error(node,
                        absl::StrCat("source '", s.name, "': 'path' or 'command' is required"));
    }
    SYNCWATCH_ASSIGN_OR_RETURN(s.path, file.String(node["path"], "path"));
    const size_t slash = s.path.find_last_of("/\\");
    const std::string dir = slash == std::string::npos ? "" : s.path.substr(0, slash);
    if (s.path.empty() || s.path.back() == '/' || s.path.back() == '\\') {
      return file.Error(
          node["path"],
          absl::StrCat("source '", s.name, "': 'path' must name files, e.g. /in/runs/*.xml"));
    }
    if (dir.find_first_of("*?[") != std::string::npos) {
      return file.Error(
          node["path"],
          absl::StrCat("source '", s.name, "': wildcards are allowed in the file name only"));
    }
  }
  if (node["timeout"]) {
    SYNCWATCH_ASSIGN_OR_RETURN(std::string text, file.String(node["timeout"], "timeout"));
    auto d = ParseInterval(text);
    if (!d.ok())
      return file.Error(node["timeout"],
                        absl::StrCat("source '", s.name, "': timeout ", d.status().message()));
    s.timeout = *d;
  }
  if (node["interval"]) {
    SYNCWATCH_ASSIGN_OR_RETURN(std::string text, file.String(node["interval"], "interval"));
    auto d = ParseInterval(text);
    if (!d.ok())
      return file.Error(node["interval"],
                        absl::StrCat("source '", s.name, "': interval ", d.status().message()));
    s.interval = *d;
  }
  return s;
}

}  // namespace

const char* SourceKindName(SourceKind kind) {
  switch (kind) {
    case SourceKind::kRunHistory:
      return "run_history";
    case SourceKind::kPendingExports:
      return "pending_exports";
    case SourceKind::kExportErrors:
      return "export_errors";
    case SourceKind::kSettings:
      return "settings";
    case SourceKind::kServerConfiguration:
      return "server_configuration";
  }
  return "?";
}

absl::Status AgentOptions::Validate() const {
  if (server.empty()) return absl::InvalidArgumentError("server is empty");
  if (agent_id.empty()) return absl::InvalidArgumentError("agent_id is empty");
  if (collectors.empty()) return absl::InvalidArgumentError("collectors: at least one is needed");
  if (data_dir.empty()) return absl::InvalidArgumentError("data_dir is empty");
  if (role == v1::SERVER_ROLE_UNSPECIFIED) return absl::InvalidArgumentError("role is unspecified");
  if (batch_max_events == 0 || batch_max_bytes < 1024) {
    return absl::InvalidArgumentError("batch limits are too small");
  }
  std::set<std::string> names;
  for (const SourceOptions& s : sources) {
    if (!names.insert(s.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("two sources are named '", s.name, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AgentOptions> LoadAgentConfig(const std::string& path) {
  SYNCWATCH_ASSIGN_OR_RETURN(YamlFile file, YamlFile::Load(path));
  const YAML::Node& root = file.root();
  SYNCWATCH_RETURN_IF_ERROR(
      file.CheckKeys(root,
                     {"server", "tenant", "agent_id", "role", "collectors", "data_dir", "tls",
                      "sources", "spool_max_bytes", "batch_max_events", "heartbeat_interval"},
                     "the agent config"));
  AgentOptions o;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "server") {
      SYNCWATCH_ASSIGN_OR_RETURN(o.server, file.String(v, key));
    } else if (key == "tenant") {
      SYNCWATCH_ASSIGN_OR_RETURN(o.tenant, file.String(v, key));
    } else if (key == "agent_id") {
      SYNCWATCH_ASSIGN_OR_RETURN(o.agent_id, file.String(v, key));
    } else if (key == "role") {
      SYNCWATCH_ASSIGN_OR_RETURN(std::string role, file.String(v, key));
      if (role == "active") {
        o.role = v1::SERVER_ROLE_ACTIVE;
      } else if (role == "staging") {
        o.role = v1::SERVER_ROLE_STAGING;
      } else {
        return file.Error(v, absl::StrCat("role '", role, "' must be active or staging"));
      }
    } else if (key == "collectors") {
      SYNCWATCH_ASSIGN_OR_RETURN(o.collectors, file.StringList(v, key));
      if (o.collectors.empty()) return file.Error(v, "collectors: at least one is needed");
      for (const std::string& c : o.collectors) {
        const size_t colon = c.rfind(':');
        int port = 0;
        if (colon == std::string::npos || colon == 0 ||
            !absl::SimpleAtoi(c.substr(colon + 1), &port) || port <= 0 || port > 65535) {
          return file.Error(v, absl::StrCat("collector '", c, "' is not host:port"));
        }
      }
    } else if (key == "tls") {
      SYNCWATCH_RETURN_IF_ERROR(
          file.CheckKeys(v, {"ca", "system_roots", "cert", "key", "server_name"}, "tls"));
      for (const auto& t : v) {
        const std::string k = t.first.Scalar();
        if (k == "system_roots") {
          SYNCWATCH_ASSIGN_OR_RETURN(o.tls.system_roots, file.Bool(t.second, k));
          continue;
        }
        SYNCWATCH_ASSIGN_OR_RETURN(std::string value, file.String(t.second, k));
        if (k == "ca") o.tls.ca = value;
        if (k == "cert") o.tls.cert = value;
        if (k == "key") o.tls.key = value;
        if (k == "server_name") o.tls.server_name = value;
      }
      if (!o.tls.enabled()) {
        return file.Error(v,
                          "tls: set 'ca' (the CA of the collectors' certificate) or "
                          "'system_roots: true' (trust the system's root certificates)");
      }
      if (!o.tls.ca.empty() && o.tls.system_roots) {
        return file.Error(v, "tls: 'ca' and 'system_roots: true' exclude each other");
      }
      if (o.tls.cert.empty() != o.tls.key.empty())
        return file.Error(v, "tls: 'cert' and 'key' go together");
    } else if (key == "data_dir") {
      SYNCWATCH_ASSIGN_OR_RETURN(o.data_dir, file.String(v, key));
    } else if (key == "spool_max_bytes") {
      SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(v, key, 1 << 20, int64_t{1} << 40));
      o.spool_max_bytes = static_cast<size_t>(n);
    } else if (key == "batch_max_events") {
      SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(v, key, 1, 10000));
      o.batch_max_events = static_cast<size_t>(n);
    } else if (key == "heartbeat_interval") {
      SYNCWATCH_ASSIGN_OR_RETURN(std::string text, file.String(v, key));
      auto d = ParseInterval(text);
      if (!d.ok()) return file.Error(v, absl::StrCat("heartbeat_interval ", d.status().message()));
      o.heartbeat_interval = *d;
    } else if (key == "sources") {
      if (!v.IsSequence()) return file.Error(v, "'sources' must be a list");
      for (size_t i = 0; i < v.size(); ++i) {
        SYNCWATCH_ASSIGN_OR_RETURN(SourceOptions s, LoadSource(file, v[i], i));
        for (const SourceOptions& other : o.sources) {
          if (other.name == s.name) {
            return file.Error(v[i], absl::StrCat("two sources are named '", s.name, "'"));
          }
        }
        o.sources.push_back(std::move(s));
      }
    }
  }
  if (o.server.empty()) o.server = HostName();
  if (o.agent_id.empty()) o.agent_id = o.server;
  absl::Status valid = o.Validate();
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", valid.message()));
  return o;
}

std::string SpoolDir(const AgentOptions& options) {
  return (Utf8Path(options.data_dir) / "spool").u8string();
}

}  // namespace syncwatch::agent
