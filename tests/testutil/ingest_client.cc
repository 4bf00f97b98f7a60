#include "tests/testutil/ingest_client.h"

#include <grpcpp/create_channel.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncwatch/v1/ingest.grpc.pb.h"

namespace syncwatch::testing {

absl::Status SendBatch(const std::string& address, const v1::Hello& hello,
                       std::vector<v1::Event> events, uint64_t seq) {
  return SendBatch(address, grpc::InsecureChannelCredentials(), hello, std::move(events), seq);
}

absl::Status SendBatch(const std::string& address,
                       const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                       const v1::Hello& hello, std::vector<v1::Event> events, uint64_t seq) {
  auto stub = v1::Ingest::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->StreamEvents(&context);
  v1::AgentMessage message;
  *message.mutable_hello() = hello;
  v1::CollectorMessage reply;
  if (!stream->Write(message) || !stream->Read(&reply) || !reply.has_welcome()) {
    return absl::UnavailableError(absl::StrCat(
        "no welcome from ", address, ": ", reply.DebugString(), stream->Finish().error_message()));
  }
  message.Clear();
  message.mutable_batch()->set_seq(seq);
  for (v1::Event& e : events) *message.mutable_batch()->add_events() = std::move(e);
  if (!stream->Write(message) || !stream->Read(&reply) || !reply.has_ack()) {
    return absl::UnavailableError(absl::StrCat("no ack from ", address, ": ", reply.DebugString(),
                                               stream->Finish().error_message()));
  }
  stream->WritesDone();
  stream->Finish();
  return absl::OkStatus();
}

}  // namespace syncwatch::testing
