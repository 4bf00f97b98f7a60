#include "collector/cli/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>

namespace syncwatch::cli {
namespace {

// gRPC's default limit is 4 MiB per message; a page of pending-export
// snapshots, each with its list of objects to delete, can exceed that on a
// large tenant. The collector bounds its pages; this only has to be above them.
constexpr int kMaxResponseBytes = 64 * 1024 * 1024;

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewCollectorChannel(const CliOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxResponseBytes);
  auto credentials = MakeChannelCredentials(options.tls, &args);
  if (!credentials.ok()) return credentials.status();
  return grpc::CreateCustomChannel(options.collector, *credentials, args);
}

}  // namespace syncwatch::cli
