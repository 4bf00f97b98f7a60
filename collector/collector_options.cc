#include "collector/collector_options.h"

#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/yaml_config.h"

namespace syncwatch::collector {
namespace {

// Splits "host:port" / "[v6]:port"; false when malformed.
bool SplitHostPort(const std::string& addr, std::string* host, int* port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = addr.substr(0, colon);
  if (absl::StartsWith(*host, "[") && absl::EndsWith(*host, "]")) {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(addr.substr(colon + 1), port) && *port >= 0 && *port <= 65535 &&
         !host->empty();
}

// A duration such as "400d", "2w", "36h" or "90m" (ParseHumanDuration), at
// most a century. With `allow_off`, "off" and "0" mean zero (keep forever);
// otherwise the duration must be positive.
absl::StatusOr<absl::Duration> RetentionDuration(const YamlFile& file, const YAML::Node& node,
                                                 absl::string_view key, bool allow_off) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  if (allow_off && (text == "off" || text == "0")) return absl::ZeroDuration();
  const std::optional<absl::Duration> d = ParseHumanDuration(text);
  if (!d || *d <= absl::ZeroDuration() || *d > absl::Hours(24 * 365 * 100)) {
    return file.Error(node, absl::StrCat("'", key, "' must be a positive duration such as 400d, ",
                                         "36h or 90m", allow_off ? ", or off" : ""));
  }
  return *d;
}

absl::Status ParseRetention(const YamlFile& file, const YAML::Node& node, RetentionOptions* out) {
  SYNCWATCH_RETURN_IF_ERROR(
      file.CheckKeys(node, {"runs", "export_errors", "snapshots", "interval"}, "retention"));
  for (const auto& kv : node) {
    const std::string k = kv.first.Scalar();
    absl::Duration* target = k == "runs"            ? &out->runs
                             : k == "export_errors" ? &out->export_errors
                             : k == "snapshots"     ? &out->snapshots
                                                    : &out->interval;
    // Any kind can be kept forever; the pass interval cannot be off.
    SYNCWATCH_ASSIGN_OR_RETURN(*target,
                               RetentionDuration(file, kv.second, absl::StrCat("retention.", k),
                                                 /*allow_off=*/k != "interval"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsLoopbackAddress(const std::string& host_port) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(host_port, &host, &port)) return false;
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status CollectorOptions::Validate() const {
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: \"", listen, "\" is not host:port (e.g. 127.0.0.1:7443)"));
  }
  if (!IsLoopbackAddress(listen) && !insecure && !tls.enabled()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen: ", listen,
        " is not a loopback address; plain text there lets anyone on the network read and forge "
        "events. Configure tls (cert, key, client_ca), or pass --insecure to accept that risk"));
  }
  if (!IsLoopbackAddress(listen) && !insecure && tls.enabled() && tls.client_ca.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen: ", listen,
        " is not a loopback address and tls has no client_ca; without client certificates any "
        "client can write events for any server. Configure tls.client_ca (mutual TLS), or pass "
        "--insecure to accept that risk"));
  }
  if (tls.enabled() != !tls.key.empty()) {
    return absl::InvalidArgumentError("tls: cert and key go together");
  }
  if (!tls.enabled() && !tls.client_ca.empty()) {
    return absl::InvalidArgumentError("tls: client_ca needs cert and key");
  }
  if (!http_listen.empty()) {
    if (!SplitHostPort(http_listen, &host, &port)) {
      return absl::InvalidArgumentError(absl::StrCat("http_listen: \"", http_listen,
                                                     "\" is not host:port (e.g. 127.0.0.1:9464)"));
    }
    // Off loopback the HTTP port needs HTTPS (the collector's certificate)
    // and tokens, as the pages and /api/v1 show every server's data.
    if (!IsLoopbackAddress(http_listen) && !insecure && !tls.enabled()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "http_listen: ", http_listen,
          " is not a loopback address and the HTTP port would be plain HTTP (pages, /metrics and "
          "bearer tokens in clear). Configure tls.cert and tls.key (--tls_cert, --tls_key): the "
          "HTTP port then serves HTTPS with that certificate; or pass --insecure to accept "
          "that risk"));
    }
    if (!IsLoopbackAddress(http_listen) && !insecure && !auth.enabled()) {
      return absl::InvalidArgumentError(
          absl::StrCat("http_listen: ", http_listen,
                       " is not a loopback address and the HTTP port has no access control. "
                       "Configure auth.tokens_file, or pass --insecure to accept that risk"));
    }
  }
  if (auth.protect_metrics && !auth.enabled()) {
    return absl::InvalidArgumentError("auth.protect_metrics needs auth.tokens_file");
  }
  if (tls.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("tls.reload_interval must be at least 1s");
  }
  if (agent_limits.max_streams_per_agent < 1) {
    return absl::InvalidArgumentError("limits.max_streams_per_agent must be at least 1");
  }
  if (agent_limits.agent_events_per_second < 1) {
    return absl::InvalidArgumentError("limits.agent_events_per_second must be at least 1");
  }
  if (data_dir.empty()) return absl::InvalidArgumentError("data_dir is empty");
  if (max_batch_bytes == 0 || max_batch_bytes > max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_bytes (", max_batch_bytes,
                                                   ") must be between 1 and max_message_bytes (",
                                                   max_message_bytes, ")"));
  }
  if (max_message_bytes > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("max_message_bytes must be below 2 GiB");
  }
  SYNCWATCH_RETURN_IF_ERROR(retention.Validate());
  return alerts.Validate();
}

absl::StatusOr<CollectorOptions> LoadCollectorConfig(const std::string& path,
                                                     CollectorOptions base) {
  SYNCWATCH_ASSIGN_OR_RETURN(YamlFile file, YamlFile::Load(path));
  const YAML::Node& root = file.root();
  SYNCWATCH_RETURN_IF_ERROR(
      file.CheckKeys(root,
                     {"data_dir", "listen", "http_listen", "tls", "insecure", "sync_writes",
                      "max_message_bytes", "max_batch_bytes", "min_free_disk_bytes", "limits",
                      "auth", "retention", "rules", "notifiers"},
                     "the collector config"));
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "data_dir") {
      SYNCWATCH_ASSIGN_OR_RETURN(base.data_dir, file.String(v, key));
    } else if (key == "listen") {
      SYNCWATCH_ASSIGN_OR_RETURN(base.listen, file.String(v, key));
    } else if (key == "http_listen") {
      SYNCWATCH_ASSIGN_OR_RETURN(base.http_listen, file.String(v, key));
    } else if (key == "tls") {
      SYNCWATCH_RETURN_IF_ERROR(
          file.CheckKeys(v, {"cert", "key", "client_ca", "reload_interval"}, "tls"));
      for (const auto& t : v) {
        const std::string k = t.first.Scalar();
        if (k == "reload_interval") {
          SYNCWATCH_ASSIGN_OR_RETURN(
              base.tls.reload_interval,
              RetentionDuration(file, t.second, "tls.reload_interval", /*allow_off=*/false));
          continue;
        }
        SYNCWATCH_ASSIGN_OR_RETURN(std::string value, file.String(t.second, k));
        if (k == "cert") base.tls.cert = value;
        if (k == "key") base.tls.key = value;
        if (k == "client_ca") base.tls.client_ca = value;
      }
    } else if (key == "insecure") {
      SYNCWATCH_ASSIGN_OR_RETURN(base.insecure, file.Bool(v, key));
    } else if (key == "sync_writes") {
      SYNCWATCH_ASSIGN_OR_RETURN(base.sync_writes, file.Bool(v, key));
    } else if (key == "max_message_bytes") {
      SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(v, key, 1024, int64_t{1} << 30));
      base.max_message_bytes = static_cast<size_t>(n);
    } else if (key == "min_free_disk_bytes") {
      SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(v, key, 0, int64_t{1} << 50));
      base.min_free_disk_bytes = static_cast<uint64_t>(n);
    } else if (key == "max_batch_bytes") {
      SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(v, key, 1024, int64_t{1} << 30));
      base.max_batch_bytes = static_cast<size_t>(n);
    } else if (key == "limits") {
      SYNCWATCH_RETURN_IF_ERROR(
          file.CheckKeys(v, {"max_streams_per_agent", "agent_events_per_second"}, "limits"));
      for (const auto& l : v) {
        const std::string k = l.first.Scalar();
        const std::string name = absl::StrCat("limits.", k);
        if (k == "max_streams_per_agent") {
          SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(l.second, name, 1, 1000));
          base.agent_limits.max_streams_per_agent = static_cast<int>(n);
        } else {
          SYNCWATCH_ASSIGN_OR_RETURN(base.agent_limits.agent_events_per_second,
                                     file.Int(l.second, name, 1, int64_t{1} << 30));
        }
      }
    } else if (key == "auth") {
      SYNCWATCH_RETURN_IF_ERROR(file.CheckKeys(v, {"tokens_file", "protect_metrics"}, "auth"));
      for (const auto& a : v) {
        const std::string k = a.first.Scalar();
        const std::string name = absl::StrCat("auth.", k);
        if (k == "tokens_file") {
          SYNCWATCH_ASSIGN_OR_RETURN(base.auth.tokens_file, file.String(a.second, name));
        } else {
          SYNCWATCH_ASSIGN_OR_RETURN(base.auth.protect_metrics, file.Bool(a.second, name));
        }
      }
    } else if (key == "retention") {
      SYNCWATCH_RETURN_IF_ERROR(ParseRetention(file, v, &base.retention));
    } else if (key == "rules") {
      SYNCWATCH_RETURN_IF_ERROR(alerts::ParseRulesConfig(file, v, &base.alerts.rules));
    } else if (key == "notifiers") {
      SYNCWATCH_RETURN_IF_ERROR(alerts::ParseNotifiersConfig(file, v, &base.alerts.notifiers));
    }
  }
  absl::Status valid = base.Validate();
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", valid.message()));
  return base;
}

}  // namespace syncwatch::collector
