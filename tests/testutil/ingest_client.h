// Test only: one agent batch sent to a collector over the real Ingest stream,
// for tests that need stored data without running an agent.
#ifndef SYNCWATCH_TESTS_TESTUTIL_INGEST_CLIENT_H_
#define SYNCWATCH_TESTS_TESTUTIL_INGEST_CLIENT_H_

#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "syncwatch/v1/ingest.pb.h"

namespace syncwatch::testing {

// Opens a plain-text Ingest stream to `address`, sends `hello`, then `events`
// as batch `seq`, and waits (at most 30 s) for the collector's ack. An error
// says which step failed.
absl::Status SendBatch(const std::string& address, const v1::Hello& hello,
                       std::vector<v1::Event> events, uint64_t seq = 1);

// The same over a channel with `credentials` (e.g. grpc::SslCredentials for a
// collector with a certificate).
absl::Status SendBatch(const std::string& address,
                       const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                       const v1::Hello& hello, std::vector<v1::Event> events, uint64_t seq = 1);

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_INGEST_CLIENT_H_
