// How the CLI connects to the collector: the one place that builds channel
// credentials, so that TLS (CA, client certificate, server name) can be added
// to CliOptions and honoured here without touching the commands.
#ifndef SYNCWATCH_COLLECTOR_CLI_CHANNEL_H_
#define SYNCWATCH_COLLECTOR_CLI_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "collector/cli/cli_options.h"

namespace syncwatch::cli {

// The credentials for the collector channel. Plaintext for now: the collector
// accepts plaintext on loopback only (ARCHITECTURE.md), which is where the CLI
// usually runs.

// A channel to options.collector, for the Query and Admin stubs. Connects
// lazily: an unreachable collector shows up as UNAVAILABLE on the first call,
// not here.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewCollectorChannel(const CliOptions& options);

}  // namespace syncwatch::cli

#endif  // SYNCWATCH_COLLECTOR_CLI_CHANNEL_H_
