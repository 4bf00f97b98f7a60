// Everything the collector can be told, with defaults; read from flags and/or
// a YAML file (--config), validated once at start-up.
#ifndef SYNCWATCH_COLLECTOR_COLLECTOR_OPTIONS_H_
#define SYNCWATCH_COLLECTOR_COLLECTOR_OPTIONS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/alerts/alerts_options.h"
#include "common/event_validation.h"
#include "common/tls.h"

namespace syncwatch::collector {

struct CollectorOptions {
  // Where the RocksDB store lives. Default: ./data/collector.
  std::string data_dir = "./data/collector";
  // gRPC address (host:port) for agents and the CLI; port 0 picks a free one.
  // Default: 127.0.0.1:7443.
  std::string listen = "127.0.0.1:7443";
  // HTTP address for /healthz, /readyz and /metrics; empty turns it off.
  // Default: 127.0.0.1:9464.
  std::string http_listen = "127.0.0.1:9464";
  // TLS for the gRPC port (cert + key; client_ca makes it mutual TLS). Off by
  // default; required on a non-loopback address unless `insecure`.
  ServerTls tls;
  // Plain text on a non-loopback address. Off by default: agents' events are
  // then readable and forgeable on the network.
  bool insecure = false;
  // fsync each commit before acknowledging it. Default: true.
  bool sync_writes = true;
  // gRPC transport limit on one message; a larger message breaks its stream.
  // Default: 64 MiB.
  size_t max_message_bytes = 64 * 1024 * 1024;
  // Largest batch stored; larger ones are refused on a live stream. Must not
  // exceed max_message_bytes. Default: 16 MiB.
  size_t max_batch_bytes = 16 * 1024 * 1024;
  ValidationLimits limits;
  // Alert rules and notifiers (YAML `rules:` and `notifiers:`). Default: every
  // rule on with its default thresholds, no receivers (alerts are only listed).
  alerts::AlertsOptions alerts;

  // OK, or InvalidArgument naming the setting and the problem.
  absl::Status Validate() const;
};

// Reads a collector YAML config (keys: data_dir, listen, http_listen, tls, insecure,
// sync_writes, max_message_bytes, max_batch_bytes, rules, notifiers; see
// collector/alerts/alerts_options.h for the last two) over `base`. An unknown key
// or a bad value is an InvalidArgument error "FILE:LINE: …".
absl::StatusOr<CollectorOptions> LoadCollectorConfig(const std::string& path,
                                                     CollectorOptions base);

// True for 127.0.0.0/8, ::1 and "localhost" (the host part of host:port).
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_COLLECTOR_OPTIONS_H_
