// The one place where absl::Status and grpc::Status meet. Both follow
// google.rpc.Code, so the numeric codes carry over unchanged.
#ifndef SYNCWATCH_COMMON_GRPC_STATUS_H_
#define SYNCWATCH_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace syncwatch {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_GRPC_STATUS_H_
