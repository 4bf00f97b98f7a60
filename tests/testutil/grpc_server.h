// Test only: an in-process gRPC server on loopback for service-level tests.
#ifndef SYNCWATCH_TESTS_TESTUTIL_GRPC_SERVER_H_
#define SYNCWATCH_TESTS_TESTUTIL_GRPC_SERVER_H_

#include <grpcpp/channel.h>
#include <grpcpp/server.h>

#include <memory>
#include <vector>

namespace syncwatch::testing {

// A plain-text server on 127.0.0.1 at a port of the kernel's choosing, with a
// channel to it. Shut down when destroyed (before its services go: declare it
// after them).
struct LocalGrpcServer {
  LocalGrpcServer() = default;
  LocalGrpcServer(const LocalGrpcServer&) = delete;
  LocalGrpcServer& operator=(const LocalGrpcServer&) = delete;
  ~LocalGrpcServer();

  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::shared_ptr<grpc::Channel> channel;
};

// Serves `services` (which must outlive the server); nullptr when the server
// could not start.
std::unique_ptr<LocalGrpcServer> StartLocalGrpcServer(const std::vector<grpc::Service*>& services);

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_GRPC_SERVER_H_
