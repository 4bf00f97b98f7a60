// Everything the collector can be told, with defaults; read from flags and/or
// a YAML file (--config), validated once at start-up.
#ifndef SYNCWATCH_COLLECTOR_COLLECTOR_OPTIONS_H_
#define SYNCWATCH_COLLECTOR_COLLECTOR_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/alerts/alerts_options.h"
#include "collector/ingest/agent_limits.h"
#include "collector/storage/retention.h"
#include "common/event_validation.h"
#include "common/tls.h"

namespace syncwatch::collector {

// Bearer-token access control on the Query API and the HTTP port (YAML
// `auth:`); see collector/api/auth.h for the tokens file. Ingest is not affected.
struct AuthOptions {
  // The tokens file; empty: no access control (anyone who reaches the ports
  // may query). Default: empty.
  std::string tokens_file;
  // Whether /metrics needs a token too (/healthz and /readyz never do).
  // Default: false.
  bool protect_metrics = false;

  bool enabled() const { return !tokens_file.empty(); }
};

struct CollectorOptions {
  // Where the RocksDB store lives. Default: ./data/collector.
  std::string data_dir = "./data/collector";
  // gRPC address (host:port) for agents and the CLI; port 0 picks a free one.
  // Default: 127.0.0.1:7443.
  std::string listen = "127.0.0.1:7443";
  // HTTP address for /healthz, /readyz, /metrics, the web pages and
  // /api/v1; empty turns it off. With tls.cert it serves HTTPS (same
  // certificate and key, same reload; no client certificates). Off loopback
  // it needs tls.cert and auth.tokens_file, unless `insecure`.
  // Default: 127.0.0.1:9464.
  std::string http_listen = "127.0.0.1:9464";
  // TLS for the gRPC port (cert + key; client_ca makes it mutual TLS, and
  // binds each agent to the server its certificate names). Off by default;
  // mutual TLS is required on a non-loopback address unless `insecure`. The
  // files are re-read every tls.reload_interval.
  ServerTls tls;
  // Plain text, or TLS without client certificates, on a non-loopback
  // address; for the HTTP port, plain HTTP or no tokens off loopback. Off by
  // default: agents' events are then readable and forgeable
  // on the network (plain text), or any client can write events for any
  // server (TLS without client_ca).
  bool insecure = false;
  // fsync each commit before acknowledging it. Default: true.
  bool sync_writes = true;
  // Batches are refused with RESOURCE_EXHAUSTED ("collector disk full") while
  // the data dir's file system has less free space than this; the agents keep
  // them spooled and re-send once space is freed. 0 turns it off. Default:
  // 256 MiB (room for RocksDB's own flushes and compactions).
  uint64_t min_free_disk_bytes = 256 * 1024 * 1024;
  // gRPC transport limit on one message; a larger message breaks its stream.
  // Default: 64 MiB.
  size_t max_message_bytes = 64 * 1024 * 1024;
  // Largest batch stored; larger ones are refused on a live stream. Must not
  // exceed max_message_bytes. Default: 16 MiB.
  size_t max_batch_bytes = 16 * 1024 * 1024;
  ValidationLimits limits;
  // Streams and event rate per agent (YAML `limits:`).
  AgentLimits agent_limits;
  // Alert rules and notifiers (YAML `rules:` and `notifiers:`). Default: every
  // rule on with its default thresholds, no receivers (alerts are only listed).
  alerts::AlertsOptions alerts;
  // How long runs, export errors and snapshot history are kept (YAML
  // `retention:`). Default: runs and export errors 400 days, snapshot history
  // 90 days, a pass every hour.
  RetentionOptions retention;
  // Token access control (YAML `auth:`). Default: off.
  AuthOptions auth;

  // OK, or InvalidArgument naming the setting and the problem.
  absl::Status Validate() const;
};

// Reads a collector YAML config (keys: data_dir, listen, http_listen, tls (cert,
// key, client_ca, reload_interval), insecure, sync_writes, max_message_bytes,
// max_batch_bytes, limits (max_streams_per_agent, agent_events_per_second),
// auth (tokens_file, protect_metrics), retention, rules, notifiers;
// see collector/storage/retention.h for retention and collector/alerts/alerts_options.h
// for the last two) over `base`. Retention ages are durations ("400d", "36h")
// or "off"/"0" to keep that kind forever. An unknown key or a bad value is an
// InvalidArgument error "FILE:LINE: …".
absl::StatusOr<CollectorOptions> LoadCollectorConfig(const std::string& path,
                                                     CollectorOptions base);

// True for 127.0.0.0/8, ::1 and "localhost" (the host part of host:port).
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_COLLECTOR_OPTIONS_H_
