#include "tests/testutil/grpc_server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <string>

namespace syncwatch::testing {

LocalGrpcServer::~LocalGrpcServer() {
  if (server != nullptr) server->Shutdown();
}

std::unique_ptr<LocalGrpcServer> StartLocalGrpcServer(const std::vector<grpc::Service*>& services) {
  auto out = std::make_unique<LocalGrpcServer>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &out->port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  out->server = builder.BuildAndStart();
  if (out->server == nullptr || out->port <= 0) return nullptr;
  out->channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(out->port),
                                     grpc::InsecureChannelCredentials());
  return out;
}

}  // namespace syncwatch::testing
