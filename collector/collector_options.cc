#include "collector/collector_options.h"

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
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
    if (!IsLoopbackAddress(http_listen) && !insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "http_listen: ", http_listen,
          " is not a loopback address and the HTTP port has no access control yet; pass "
          "--insecure to accept that"));
    }
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
  return alerts.Validate();
}

absl::StatusOr<CollectorOptions> LoadCollectorConfig(const std::string& path,
                                                     CollectorOptions base) {
  SYNCWATCH_ASSIGN_OR_RETURN(YamlFile file, YamlFile::Load(path));
  const YAML::Node& root = file.root();
  SYNCWATCH_RETURN_IF_ERROR(
      file.CheckKeys(root,
                     {"data_dir", "listen", "http_listen", "tls", "insecure", "sync_writes",
                      "max_message_bytes", "max_batch_bytes", "rules", "notifiers"},
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
      SYNCWATCH_RETURN_IF_ERROR(file.CheckKeys(v, {"cert", "key", "client_ca"}, "tls"));
      for (const auto& t : v) {
        const std::string k = t.first.Scalar();
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
    } else if (key == "max_batch_bytes") {
      SYNCWATCH_ASSIGN_OR_RETURN(int64_t n, file.Int(v, key, 1024, int64_t{1} << 30));
      base.max_batch_bytes = static_cast<size_t>(n);
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
