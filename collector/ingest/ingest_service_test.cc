// The ingest protocol's parts over real gRPC (TCP on 127.0.0.1) into a real
// RocksDB: the per-agent limits and the back-pressure of one IngestService.
#include "collector/ingest/ingest_service.h"

#include <grpcpp/create_channel.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "collector/storage/storage_writer.h"
#include "collector/storage/store.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncwatch/v1/ingest.grpc.pb.h"
#include "tests/testutil/grpc_server.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;

TEST(AgentLimiter, RefusesStreamsBeyondTheLimitUntilOneEnds) {
  testing::FakeClock clock;
  AgentLimits limits;
  limits.max_streams_per_agent = 2;
  AgentLimiter limiter(limits, clock);
  SYNCWATCH_EXPECT_OK(limiter.AcquireStream("sync01"));
  SYNCWATCH_EXPECT_OK(limiter.AcquireStream("sync01"));
  EXPECT_THAT(limiter.AcquireStream("sync01"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("sync01 already has 2 streams open "
                                 "(limits.max_streams_per_agent is 2)")));
  SYNCWATCH_EXPECT_OK(limiter.AcquireStream("sync02"));  // each agent has its own
  limiter.ReleaseStream("sync01");
  SYNCWATCH_EXPECT_OK(limiter.AcquireStream("sync01"));
}

TEST(AgentLimiter, AllowsABurstOfTwoSecondsThenAsksForAPauseThatRepaysTheDebt) {
  testing::FakeClock clock;
  AgentLimits limits;
  limits.agent_events_per_second = 100;
  AgentLimiter limiter(limits, clock);
  EXPECT_EQ(limiter.TakeEvents("sync01", 150), absl::ZeroDuration());
  EXPECT_EQ(limiter.TakeEvents("sync01", 50), absl::ZeroDuration());  // the burst is 200
  EXPECT_EQ(limiter.TakeEvents("sync01", 150), absl::Milliseconds(1500));
  EXPECT_EQ(limiter.TakeEvents("sync02", 10), absl::ZeroDuration());  // its own bucket
  clock.Advance(absl::Milliseconds(1500));                            // the agent paused as asked
  EXPECT_EQ(limiter.TakeEvents("sync01", 100), absl::Seconds(1));
  clock.Advance(absl::Minutes(5));  // the bucket refills, to the burst only
  EXPECT_EQ(limiter.TakeEvents("sync01", 200), absl::ZeroDuration());
  EXPECT_EQ(limiter.TakeEvents("sync01", 1), absl::Milliseconds(10));
}

TEST(AgentLimiter, AskedPauseIsCappedAtAMinute) {
  testing::FakeClock clock;
  AgentLimits limits;
  limits.agent_events_per_second = 1;
  AgentLimiter limiter(limits, clock);
  EXPECT_EQ(limiter.TakeEvents("sync01", 1000000), absl::Minutes(1));
}

// Back-pressure keeps the collector's memory bounded: a stream reads ahead
// only while fewer than max_batches_in_flight of its batches wait for their
// acks, so while the store is slow the collector holds that many batches per
// stream and gRPC's flow control stops the agents' writes; once the store
// catches up, everything arrives, acked in order. The real service, writer
// and store over TCP; the commit observer stands in for a store that has
// stopped moving.
TEST(IngestBackPressure, ASlowStoreHoldsABoundedNumberOfBatchesPerStreamAndStopsTheAgentsWrites) {
  constexpr int kStreams = 3;
  constexpr int kBatches = 24;
  constexpr int kEventsPerBatch = 256;  // ~1 MiB a batch
  testing::TempDir dir;
  testing::FakeClock clock;
  auto store = Store::Open(dir.Sub("db"), Store::Options());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Notification release;
  StorageWriter::Options writer_options;
  writer_options.on_commit = [&release](const std::vector<CommittedSubmission>&) {
    release.WaitForNotification();
  };
  auto writer = StorageWriter::Create(**store, clock, writer_options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  IngestService::Options ingest_options;
  ingest_options.max_batches_in_flight = 2;
  IngestService service(**writer, clock, ingest_options);
  auto server = testing::StartLocalGrpcServer({&service});
  ASSERT_NE(server, nullptr);
  auto stub = v1::Ingest::NewStub(server->channel);

  struct Agent {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>> rw;
    std::atomic<int> written{0};
    std::atomic<int> acked{0};
    std::atomic<bool> in_order{true};
    std::thread writer;
    std::thread reader;
  };
  std::vector<std::unique_ptr<Agent>> agents;
  for (int a = 0; a < kStreams; ++a) {
    auto agent = std::make_unique<Agent>();
    agent->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    agent->rw = stub->StreamEvents(&agent->context);
    const std::string name = absl::StrCat("sync0", a);
    agent->writer = std::thread([&agent = *agent, name] {
      v1::AgentMessage hello;
      hello.mutable_hello()->set_agent_id("agent-" + name);
      hello.mutable_hello()->set_server(name);
      hello.mutable_hello()->set_role(v1::SERVER_ROLE_ACTIVE);
      hello.mutable_hello()->set_spool_epoch("e1");
      if (!agent.rw->Write(hello)) return;
      for (int b = 1; b <= kBatches; ++b) {
        v1::AgentMessage m;
        m.mutable_batch()->set_seq(static_cast<uint64_t>(b));
        for (int i = 0; i < kEventsPerBatch; ++i) {
          v1::Event& e = *m.mutable_batch()->add_events();
          *e.mutable_observed_at() = ToProtoTimestamp(absl::FromUnixSeconds(1649391200));
          v1::RunProfileResult& r = *e.mutable_run();
          r.set_run_history_id(absl::StrCat(name, "-", b, "-", i));
          r.set_connector_name("contoso.com");
          r.set_run_profile_name(std::string(4000, 'p'));
          r.set_result("success");
          *r.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1649391100 + i));
        }
        if (!agent.rw->Write(m)) return;
        agent.written.fetch_add(1);
      }
      agent.rw->WritesDone();
    });
    agent->reader = std::thread([&agent = *agent] {
      v1::CollectorMessage m;
      while (agent.rw->Read(&m)) {
        if (!m.has_ack()) continue;
        const int n = agent.acked.fetch_add(1) + 1;
        if (m.ack().seq() != static_cast<uint64_t>(n)) agent.in_order = false;
      }
    });
    agents.push_back(std::move(agent));
  }

  // Give the agents every chance to push what they can.
  absl::SleepFor(absl::Seconds(2));
  // The store took the first commit and has not come back: no batch is
  // acknowledged, each stream read ahead to its limit and no further, and
  // the agents' writes wait (the rest of the ~24 MiB each stays with them).
  EXPECT_EQ(service.stats().batches_received.load(),
            static_cast<uint64_t>(kStreams) * ingest_options.max_batches_in_flight);
  for (const auto& agent : agents) {
    EXPECT_EQ(agent->acked.load(), 0);
    EXPECT_LT(agent->written.load(), kBatches) << "the collector read everything it was sent";
    std::printf("while the store is stuck: %d of %d batches written\n", agent->written.load(),
                kBatches);
  }

  release.Notify();
  for (auto& agent : agents) {
    agent->writer.join();
    agent->reader.join();
    EXPECT_EQ(agent->written.load(), kBatches);
    EXPECT_EQ(agent->acked.load(), kBatches);
    EXPECT_TRUE(agent->in_order) << "acks came out of the order of their batches";
  }
  EXPECT_EQ((*writer)->stats().events_stored.load(),
            static_cast<uint64_t>(kStreams * kBatches * kEventsPerBatch));
}

}  // namespace
}  // namespace syncwatch::collector
