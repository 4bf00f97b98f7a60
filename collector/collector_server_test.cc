// The ingest protocol as agents meet it, over real gRPC (TCP on 127.0.0.1) into
// a real RocksDB, through the whole collector (CollectorServer: TLS, the HTTP
// port, restarts).
#include "collector/collector_server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncwatch/v1/ingest.grpc.pb.h"
#include "syncwatch/v1/query.grpc.pb.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/grpc_server.h"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;

class IngestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartCollector(); }

  void StartCollector() {
    options_.data_dir = dir_.Sub("collector");
    options_.listen = "127.0.0.1:0";
    options_.http_listen = "127.0.0.1:0";
    auto server = CollectorServer::Start(options_, clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    grpc::ChannelArguments args;
    // A channel of its own per collector start, so that a new certificate is
    // used (gRPC shares connections between channels by default).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (options_.tls.enabled()) args.SetSslTargetNameOverride("collector.test");
    channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->port()),
                                         credentials_, args);
    ingest_ = v1::Ingest::NewStub(channel_);
    query_ = v1::Query::NewStub(channel_);
  }

  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>> rw;
  };

  // `first_seq`: Hello.first_seq (0: not stated, as old agents).
  std::unique_ptr<Stream> Open(const std::string& epoch = "e1",
                               const std::string& server = "sync01", uint64_t first_seq = 0) {
    auto s = std::make_unique<Stream>();
    s->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    s->rw = ingest_->StreamEvents(&s->context);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_agent_id("agent-" + server);
    hello.mutable_hello()->set_server(server);
    hello.mutable_hello()->set_tenant("fabrikam.onmicrosoft.com");
    hello.mutable_hello()->set_role(v1::SERVER_ROLE_ACTIVE);
    hello.mutable_hello()->set_agent_version("test");
    hello.mutable_hello()->set_spool_epoch(epoch);
    hello.mutable_hello()->set_first_seq(first_seq);
    EXPECT_TRUE(s->rw->Write(hello));
    return s;
  }

  static v1::AgentMessage Batch(uint64_t seq, const std::string& run_id,
                                const std::string& connector = "contoso.com") {
    v1::AgentMessage m;
    v1::EventBatch* b = m.mutable_batch();
    b->set_seq(seq);
    v1::Event* e = b->add_events();
    e->set_source("runs");
    *e->mutable_observed_at() = ToProtoTimestamp(absl::FromUnixSeconds(1649391100));
    v1::RunProfileResult* r = e->mutable_run();
    r->set_run_history_id(run_id);
    r->set_connector_name(connector);
    r->set_run_number(26147);
    r->set_result("success");
    *r->mutable_start_time() = ToProtoTimestamp(absl::FromUnixMillis(1649391053843));
    return m;
  }

  // Sends batch `seq` (one run, id "run-<seq>") on `s` and expects its ack.
  static void SendAcked(Stream& s, uint64_t seq, bool duplicate = false) {
    v1::CollectorMessage m;
    ASSERT_TRUE(s.rw->Write(Batch(seq, absl::StrCat("run-", seq))));
    ASSERT_TRUE(s.rw->Read(&m));
    ASSERT_TRUE(m.has_ack()) << m.DebugString();
    EXPECT_EQ(m.ack().seq(), seq);
    EXPECT_EQ(m.ack().duplicate(), duplicate) << "seq " << seq;
  }

  // Reads the Welcome on `s`: its stored_seq.
  static uint64_t Welcome(Stream& s) {
    v1::CollectorMessage m;
    EXPECT_TRUE(s.rw->Read(&m));
    EXPECT_TRUE(m.has_welcome()) << m.DebugString();
    return m.welcome().stored_seq();
  }

  int StoredRuns(const std::string& server = "") {
    grpc::ClientContext ctx;
    v1::ListRunsRequest req;
    req.set_page_size(1000);
    v1::ListRunsResponse resp;
    grpc::Status s = query_->ListRuns(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    int n = 0;
    for (const v1::StoredRun& r : resp.runs()) n += server.empty() || r.server() == server;
    return n;
  }

  // A batch of `events` runs with distinct ids.
  static v1::AgentMessage BigBatch(uint64_t seq, int events) {
    v1::AgentMessage m = Batch(seq, absl::StrCat("run-", seq, "-0"));
    for (int i = 1; i < events; ++i) {
      v1::Event* e = m.mutable_batch()->add_events();
      *e = m.batch().events(0);
      e->mutable_run()->set_run_history_id(absl::StrCat("run-", seq, "-", i));
    }
    return m;
  }

  // Restarts the collector with mutual TLS (MakeTestPki's files) and connects
  // with the client certificate for sync01.
  void RestartWithMutualTls() {
    server_.reset();
    ASSERT_TRUE(testing::MakeTestPki(dir_.path()));
    const std::string pki = dir_.path() + "/";
    options_.tls = ServerTls{pki + "server.pem", pki + "server.key", pki + "ca.pem"};
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = testing::ReadFileOrEmpty(pki + "ca.pem");
    ssl.pem_cert_chain = testing::ReadFileOrEmpty(pki + "client.pem");
    ssl.pem_private_key = testing::ReadFileOrEmpty(pki + "client.key");
    credentials_ = grpc::SslCredentials(ssl);
    StartCollector();
  }

  std::string Metrics() {
    // With a certificate the HTTP port serves HTTPS (MakeTestPki's CA).
    httplib::Client http(absl::StrCat(options_.tls.enabled() ? "https" : "http",
                                      "://127.0.0.1:", server_->http_port()));
    http.set_ca_cert_path(dir_.path() + "/ca.pem");
    auto metrics = http.Get("/metrics");
    return metrics ? metrics->body : "";
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  CollectorOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();
  std::unique_ptr<CollectorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ingest::Stub> ingest_;
  std::unique_ptr<v1::Query::Stub> query_;
};

TEST_F(IngestServiceTest, WelcomesThenAcksEachBatchOnceStored) {
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_welcome());
  EXPECT_EQ(m.welcome().stored_seq(), 0u);
  ASSERT_TRUE(s->rw->Write(Batch(1, "81d206e6-392a-4485-9834-4c241723332d")));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack()) << m.DebugString();
  EXPECT_EQ(m.ack().seq(), 1u);
  EXPECT_FALSE(m.ack().duplicate());
  // Acked means stored: a query sees it at once.
  EXPECT_EQ(StoredRuns(), 1);
  s->rw->WritesDone();
  EXPECT_TRUE(s->rw->Finish().ok());
}

// A stream reads its next batch while one is stored, but must hand its
// batches to the writer in the order they came: a later seq stored first
// makes the earlier batch look like a re-send, acked as a duplicate and never
// stored. Many small batches, so that acks are written all the while batches
// are handed over (a read started by an ack's completion once overtook a
// hand-over and lost a batch in one run of the process tests in six).
TEST_F(IngestServiceTest, ManyBatchesOnOneStreamAreAllStoredNoneTakenForAResend) {
  constexpr int kBatches = 3000;
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_welcome());
  std::thread writer([&s] {
    for (int seq = 1; seq <= kBatches; ++seq) {
      if (!s->rw->Write(Batch(static_cast<uint64_t>(seq), absl::StrCat("run-", seq)))) return;
    }
    s->rw->WritesDone();
  });
  int acked = 0;
  int duplicates = 0;
  bool in_order = true;
  while (s->rw->Read(&m)) {
    if (!m.has_ack()) continue;
    ++acked;
    if (m.ack().duplicate()) ++duplicates;
    if (m.ack().seq() != static_cast<uint64_t>(acked)) in_order = false;
  }
  writer.join();
  EXPECT_TRUE(s->rw->Finish().ok());
  EXPECT_EQ(acked, kBatches);
  EXPECT_EQ(duplicates, 0) << "batches were taken for re-sends of batches stored after them";
  EXPECT_TRUE(in_order);
}

TEST_F(IngestServiceTest, BatchResentOnANewStreamIsAckedAsDuplicate) {
  {
    auto s = Open();
    v1::CollectorMessage m;
    ASSERT_TRUE(s->rw->Read(&m));
    ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));
    ASSERT_TRUE(s->rw->Read(&m));
    s->context.TryCancel();  // the connection drops before the agent saw more
    (void)s->rw->Finish();
  }
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_EQ(m.welcome().stored_seq(), 1u);
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_TRUE(m.ack().duplicate());
  EXPECT_EQ(StoredRuns(), 1);
}

TEST_F(IngestServiceTest, InvalidBatchIsRefusedWithReasonAndTheStreamGoesOn) {
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-a", /*connector=*/"")));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_refusal()) << m.DebugString();
  EXPECT_EQ(m.refusal().seq(), 1u);
  EXPECT_THAT(m.refusal().reason(), HasSubstr("event 0 (run): connector_name is empty"));
  ASSERT_TRUE(s->rw->Write(Batch(2, "run-b")));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack());
  EXPECT_EQ(m.ack().seq(), 2u);
  EXPECT_EQ(StoredRuns(), 1);
  // The refused seq counts in the sequence: the agent does not send it again,
  // so the batch after it is the next.
  s->rw->WritesDone();
  EXPECT_TRUE(s->rw->Finish().ok());
  auto again = Open();
  ASSERT_TRUE(again->rw->Read(&m));
  EXPECT_EQ(m.welcome().stored_seq(), 2u);
}

// Issue 16: the collector stores a batch only when its seq is the next in the
// agent's sequence, so an ack (or a Welcome's stored_seq) never vouches for a
// batch that was not stored. Each case checks the store, not only the answers.

// Reads what is left on `s` until the collector ends it: the acks it got (by
// seq) and the final status.
struct Rest {
  std::vector<uint64_t> acks;
  grpc::Status status;
};
template <typename Stream>
Rest ReadToEnd(Stream& s) {
  Rest rest;
  v1::CollectorMessage m;
  while (s.rw->Read(&m)) {
    if (m.has_ack()) rest.acks.push_back(m.ack().seq());
  }
  rest.status = s.rw->Finish();
  return rest;
}

TEST_F(IngestServiceTest, AGapIsNeverAckedTheStreamEndsNamingTheSeqExpected) {
  {
    auto s = Open();
    EXPECT_EQ(Welcome(*s), 0u);
    SendAcked(*s, 1);
    ASSERT_TRUE(s->rw->Write(Batch(3, "run-3")));  // 2 is missing
    Rest rest = ReadToEnd(*s);
    EXPECT_TRUE(rest.acks.empty()) << "acked " << rest.acks[0];
    EXPECT_EQ(rest.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(rest.status.error_message(),
                HasSubstr("batch seq 3 is out of order: agent agent-sync01 (spool epoch \"e1\") "
                          "has every batch through seq 1 stored, so the next must be seq 2"));
  }
  EXPECT_EQ(StoredRuns(), 1);  // run-3 is not in the store
  // The agent re-sends from the seq expected: 2, then 3, both stored.
  auto s = Open();
  EXPECT_EQ(Welcome(*s), 1u);
  SendAcked(*s, 2);
  SendAcked(*s, 3);
  EXPECT_EQ(StoredRuns(), 3);
  EXPECT_EQ(server_->writer_stats().batches_out_of_order.load(), 1u);
}

// The report: 20 then 19 on a fresh epoch were acked (19 as a
// duplicate) and run 19 was lost. Both are sent before any answer is read, so
// that both can be in flight in the collector.
TEST_F(IngestServiceTest, AReorderedPairIsNeverAckedAndNothingIsLost) {
  {
    auto s = Open("fresh");
    EXPECT_EQ(Welcome(*s), 0u);
    ASSERT_TRUE(s->rw->Write(Batch(20, "run-20")));
    (void)s->rw->Write(Batch(19, "run-19"));  // the stream may already be ending
    Rest rest = ReadToEnd(*s);
    EXPECT_TRUE(rest.acks.empty()) << "acked " << rest.acks[0];
    EXPECT_EQ(rest.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(rest.status.error_message(), HasSubstr("the next must be seq 1"));
  }
  EXPECT_EQ(StoredRuns(), 0);
  // In order from 1 to 18, then 20 before 19 in the middle of the sequence.
  {
    auto s = Open("fresh");
    EXPECT_EQ(Welcome(*s), 0u);
    for (uint64_t seq = 1; seq <= 18; ++seq) SendAcked(*s, seq);
    ASSERT_TRUE(s->rw->Write(Batch(20, "run-20")));
    (void)s->rw->Write(Batch(19, "run-19"));
    Rest rest = ReadToEnd(*s);
    EXPECT_TRUE(rest.acks.empty()) << "acked " << rest.acks[0];
    EXPECT_THAT(rest.status.error_message(), HasSubstr("the next must be seq 19"));
  }
  auto s = Open("fresh");
  // 19 is the next seq: if the collector read it before the stream ended (it
  // reads ahead while 20 is checked), it stored it (unacknowledged; a re-send
  // gets a duplicate ack). The mark says exactly what the store holds.
  const uint64_t stored = Welcome(*s);
  EXPECT_TRUE(stored == 18 || stored == 19) << stored;
  EXPECT_EQ(StoredRuns(), static_cast<int>(stored));
  for (uint64_t seq = stored + 1; seq <= 20; ++seq) SendAcked(*s, seq);
  EXPECT_EQ(StoredRuns(), 20);  // run 19 is there
}

TEST_F(IngestServiceTest, ARepeatOfAStoredSeqIsAckedAsDuplicateAndTheStreamGoesOn) {
  auto s = Open();
  Welcome(*s);
  SendAcked(*s, 1);
  SendAcked(*s, 2);
  // Seq 1 again, with other content: acked as stored before, not stored twice.
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-other")));
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack()) << m.DebugString();
  EXPECT_EQ(m.ack().seq(), 1u);
  EXPECT_TRUE(m.ack().duplicate());
  SendAcked(*s, 2, /*duplicate=*/true);
  SendAcked(*s, 3);
  EXPECT_EQ(StoredRuns(), 3);
}

TEST_F(IngestServiceTest, ANewSpoolEpochStartsAtSeqOne) {
  {
    auto s = Open("e1");
    Welcome(*s);
    SendAcked(*s, 1);
    SendAcked(*s, 2);
  }
  {
    // The epoch's sequence is its own: 3 does not follow e1's 2.
    auto s = Open("e2");
    EXPECT_EQ(Welcome(*s), 0u);
    ASSERT_TRUE(s->rw->Write(Batch(3, "e2-run-3")));
    Rest rest = ReadToEnd(*s);
    EXPECT_TRUE(rest.acks.empty());
    EXPECT_THAT(rest.status.error_message(), HasSubstr("the next must be seq 1"));
  }
  EXPECT_EQ(StoredRuns(), 2);
  auto s = Open("e2");
  Welcome(*s);
  ASSERT_TRUE(s->rw->Write(Batch(1, "e2-run-1")));  // not a re-send of e1's batch 1
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack());
  EXPECT_FALSE(m.ack().duplicate());
  EXPECT_EQ(StoredRuns(), 3);
}

// Two streams of one agent (a reconnect while the old stream lingers) share
// one sequence: each stores only what follows the other.
TEST_F(IngestServiceTest, TwoStreamsOfOneAgentShareItsSequence) {
  auto a = Open();
  auto b = Open();
  Welcome(*a);
  Welcome(*b);
  SendAcked(*a, 1);
  SendAcked(*b, 2);                      // follows a's 1
  SendAcked(*a, 2, /*duplicate=*/true);  // b stored it
  ASSERT_TRUE(a->rw->Write(Batch(4, "run-4")));
  Rest rest = ReadToEnd(*a);
  EXPECT_TRUE(rest.acks.empty());
  EXPECT_THAT(rest.status.error_message(), HasSubstr("the next must be seq 3"));
  SendAcked(*b, 3);  // b goes on
  EXPECT_EQ(StoredRuns(), 3);
}

// A collector that lost batches the agent's spool then deleted (its store
// restored from a backup) would wait for them forever: the Hello's first_seq
// tells it they are gone, and it records the loss and skips over them.
TEST_F(IngestServiceTest, AHelloBeyondTheMarkRecordsTheLostSeqsAndSkipsThem) {
  {
    auto s = Open();
    EXPECT_EQ(Welcome(*s), 0u);
    SendAcked(*s, 1);
    SendAcked(*s, 2);
    s->rw->WritesDone();
    ASSERT_TRUE(s->rw->Finish().ok());
  }
  {
    ::testing::internal::CaptureStderr();
    auto s = Open("e1", "sync01", /*first_seq=*/6);
    const uint64_t stored = Welcome(*s);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(stored, 5u);
    EXPECT_THAT(log, HasSubstr("agent agent-sync01 (spool epoch \"e1\") lost 3 batches, seqs 3 "
                               "through 5: its spool holds none before seq 6"));
    s->rw->WritesDone();
    ASSERT_TRUE(s->rw->Finish().ok());
  }
  EXPECT_EQ(server_->writer_stats().batches_lost.load(), 3u);
  EXPECT_THAT(Metrics(), HasSubstr("# TYPE syncwatch_ingest_batches_lost_total counter\n"
                                   "syncwatch_ingest_batches_lost_total 3\n"));
  EXPECT_THAT(Metrics(), HasSubstr("syncwatch_ingest_batches_out_of_order_total 0\n"));
  // The skip is durable: after a restart an agent that states nothing (an old
  // one) is welcomed at 5 too, and 6 is stored as the next.
  server_.reset();
  StartCollector();
  auto s = Open();
  EXPECT_EQ(Welcome(*s), 5u);
  SendAcked(*s, 6);
  SendAcked(*s, 7);
  EXPECT_EQ(StoredRuns(), 4);  // 1, 2, 6, 7
  // The same first_seq again (a reconnect) changes nothing.
  auto again = Open("e1", "sync01", /*first_seq=*/6);
  EXPECT_EQ(Welcome(*again), 7u);
  SendAcked(*again, 7, /*duplicate=*/true);
  EXPECT_EQ(server_->writer_stats().batches_lost.load(), 0u);  // counted since the restart
  EXPECT_THAT(Metrics(), HasSubstr("syncwatch_ingest_batches_lost_total 0\n"));
}

TEST_F(IngestServiceTest, AFirstSeqWithinTheSequenceChangesNothing) {
  {
    auto s = Open();
    EXPECT_EQ(Welcome(*s), 0u);
    for (uint64_t seq = 1; seq <= 3; ++seq) SendAcked(*s, seq);
    s->rw->WritesDone();
    ASSERT_TRUE(s->rw->Finish().ok());
  }
  // The spool still holds batches the collector has (2 and 3), or holds the
  // next one first (4): nothing is lost.
  for (uint64_t first_seq : {1u, 2u, 4u}) {
    auto s = Open("e1", "sync01", first_seq);
    EXPECT_EQ(Welcome(*s), 3u) << "first_seq " << first_seq;
    s->rw->WritesDone();
    ASSERT_TRUE(s->rw->Finish().ok());
  }
  // A new epoch whose spool starts at 1.
  {
    auto s = Open("e2", "sync01", /*first_seq=*/1);
    EXPECT_EQ(Welcome(*s), 0u);
    ASSERT_TRUE(s->rw->Write(Batch(1, "e2-run-1")));
    v1::CollectorMessage m;
    ASSERT_TRUE(s->rw->Read(&m));
    EXPECT_EQ(m.ack().seq(), 1u) << m.DebugString();
  }
  auto s = Open("e1", "sync01", /*first_seq=*/4);
  EXPECT_EQ(Welcome(*s), 3u);
  SendAcked(*s, 4);
  ASSERT_TRUE(s->rw->Write(Batch(6, "run-6")));  // still a gap: 5 is missing
  Rest rest = ReadToEnd(*s);
  EXPECT_THAT(rest.status.error_message(), HasSubstr("the next must be seq 5"));
  EXPECT_EQ(StoredRuns(), 5);
  EXPECT_EQ(server_->writer_stats().batches_lost.load(), 0u);
  EXPECT_THAT(Metrics(), HasSubstr("syncwatch_ingest_batches_lost_total 0\n"));
  EXPECT_THAT(Metrics(), HasSubstr("syncwatch_ingest_batches_out_of_order_total 1\n"));
}

TEST_F(IngestServiceTest, FirstMessageMustBeAHello) {
  grpc::ClientContext ctx;
  auto rw = ingest_->StreamEvents(&ctx);
  ASSERT_TRUE(rw->Write(Batch(1, "run-a")));
  v1::CollectorMessage m;
  EXPECT_FALSE(rw->Read(&m));
  grpc::Status st = rw->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("first message must be a hello"));
}

TEST_F(IngestServiceTest, ABatchInPiecesIsStoredAndAMessageThatDoesNotParseEndsTheStream) {
  // The agent's messages as bytes: a Hello, a batch in two pieces, then bytes
  // no AgentMessage has.
  grpc::GenericStub stub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&ctx, "/syncwatch.v1.Ingest/StreamEvents", &cq);
  int tags = 0;
  // Waits for the operation just started; whether it succeeded.
  auto completed = [&cq, &tags]() {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(static_cast<intptr_t>(tags)));
    return ok;
  };
  auto next_tag = [&tags]() { return reinterpret_cast<void*>(static_cast<intptr_t>(++tags)); };
  auto bytes = [](const std::string& s) {
    grpc::Slice slice(s);
    return grpc::ByteBuffer(&slice, 1);
  };
  call->StartCall(next_tag());
  ASSERT_TRUE(completed());
  v1::AgentMessage hello;
  hello.mutable_hello()->set_agent_id("agent-sync01");
  hello.mutable_hello()->set_server("sync01");
  hello.mutable_hello()->set_tenant("fabrikam.onmicrosoft.com");
  hello.mutable_hello()->set_role(v1::SERVER_ROLE_ACTIVE);
  hello.mutable_hello()->set_agent_version("test");
  hello.mutable_hello()->set_spool_epoch("e1");
  call->Write(bytes(hello.SerializeAsString()), next_tag());
  ASSERT_TRUE(completed());
  grpc::ByteBuffer in;
  call->Read(&in, next_tag());
  ASSERT_TRUE(completed());
  v1::CollectorMessage welcome;
  ASSERT_TRUE(grpc::SerializationTraits<v1::CollectorMessage>::Deserialize(&in, &welcome).ok());
  ASSERT_TRUE(welcome.has_welcome());

  // A batch in two pieces (its seq, then its run: protobuf merges them) is
  // not where FindBatchWire takes runs from; it is stored all the same, the
  // run serialized from the parse.
  v1::AgentMessage seq_only = Batch(1, "run-in-pieces");
  v1::AgentMessage events_only = seq_only;
  seq_only.mutable_batch()->clear_events();
  events_only.mutable_batch()->clear_seq();
  call->Write(bytes(seq_only.SerializeAsString() + events_only.SerializeAsString()), next_tag());
  ASSERT_TRUE(completed());
  call->Read(&in, next_tag());
  ASSERT_TRUE(completed());
  v1::CollectorMessage ack;
  ASSERT_TRUE(grpc::SerializationTraits<v1::CollectorMessage>::Deserialize(&in, &ack).ok());
  ASSERT_TRUE(ack.has_ack()) << ack.DebugString();
  EXPECT_EQ(ack.ack().seq(), 1u);
  {
    grpc::ClientContext list_ctx;
    v1::ListRunsRequest req;
    v1::ListRunsResponse resp;
    ASSERT_TRUE(query_->ListRuns(&list_ctx, req, &resp).ok());
    ASSERT_EQ(resp.runs_size(), 1);
    EXPECT_EQ(resp.runs(0).run().SerializeAsString(),
              Batch(1, "run-in-pieces").batch().events(0).run().SerializeAsString());
  }

  // Field 2 (the batch) says 9 bytes follow; 5 do.
  call->Write(bytes(std::string("\x12\x09short", 7)), next_tag());
  ASSERT_TRUE(completed());
  call->Read(&in, next_tag());
  EXPECT_FALSE(completed());
  grpc::Status st;
  call->Finish(&st, next_tag());
  ASSERT_TRUE(completed());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(),
              HasSubstr("7 bytes does not parse as a syncwatch.v1.AgentMessage"));
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }

  // Nothing was stored from it, and the next stream is served.
  EXPECT_EQ(StoredRuns(), 1);
  auto s = Open("e2");
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_TRUE(m.has_ack());
  EXPECT_EQ(StoredRuns(), 2);
}

TEST_F(IngestServiceTest, HelloWithoutServerIsRejectedNamingTheField) {
  grpc::ClientContext ctx;
  auto rw = ingest_->StreamEvents(&ctx);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_agent_id("a");
  hello.mutable_hello()->set_spool_epoch("e");
  hello.mutable_hello()->set_role(v1::SERVER_ROLE_ACTIVE);
  ASSERT_TRUE(rw->Write(hello));
  v1::CollectorMessage m;
  EXPECT_FALSE(rw->Read(&m));
  grpc::Status st = rw->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("server is empty"));
}

TEST_F(IngestServiceTest, OversizedBatchIsRefusedButOversizedMessageOnlyEndsItsStream) {
  server_.reset();
  options_.max_batch_bytes = 4 * 1024;
  options_.max_message_bytes = 64 * 1024;
  StartCollector();

  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  v1::AgentMessage big = Batch(1, "run-a");
  big.mutable_batch()->mutable_events(0)->mutable_run()->set_username(std::string(8 * 1024, 'x'));
  ASSERT_TRUE(s->rw->Write(big));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_refusal());
  EXPECT_THAT(m.refusal().reason(), HasSubstr("limit 4096"));

  // Above the transport limit gRPC itself ends the stream...
  v1::AgentMessage huge = Batch(2, "run-b");
  huge.mutable_batch()->mutable_events(0)->mutable_run()->set_username(
      std::string(128 * 1024, 'x'));
  (void)s->rw->Write(huge);
  EXPECT_FALSE(s->rw->Read(&m));
  EXPECT_EQ(s->rw->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // ...and the collector carries on.
  auto again = Open();
  ASSERT_TRUE(again->rw->Read(&m));
  ASSERT_TRUE(again->rw->Write(Batch(2, "run-c")));  // 2 never came: it is next
  ASSERT_TRUE(again->rw->Read(&m));
  EXPECT_TRUE(m.has_ack());
  EXPECT_EQ(StoredRuns(), 1);
}

TEST_F(IngestServiceTest, DataSurvivesACollectorRestart) {
  {
    auto s = Open();
    v1::CollectorMessage m;
    ASSERT_TRUE(s->rw->Read(&m));
    ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));
    ASSERT_TRUE(s->rw->Read(&m));
    s->rw->WritesDone();
    ASSERT_TRUE(s->rw->Finish().ok());
  }
  server_.reset();
  StartCollector();
  EXPECT_EQ(StoredRuns(), 1);
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_EQ(m.welcome().stored_seq(), 1u);
}

TEST_F(IngestServiceTest, HttpPortServesHealthAndMetrics) {
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));  // a re-send
  ASSERT_TRUE(s->rw->Read(&m));

  httplib::Client http("127.0.0.1", server_->http_port());
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE syncwatch_ingest_events_stored_total counter\n"
                                       "syncwatch_ingest_events_stored_total 1\n"));
  EXPECT_THAT(metrics->body, HasSubstr("syncwatch_ingest_dedup_hits_total 1\n"));
  EXPECT_THAT(metrics->body, HasSubstr("syncwatch_ingest_streams_open 1\n"));
}

TEST_F(IngestServiceTest, BusyGrpcPortFailsStartupNamingIt) {
  CollectorOptions o = options_;
  o.data_dir = dir_.Sub("other");
  o.listen = "127.0.0.1:" + std::to_string(server_->port());
  auto second = CollectorServer::Start(o, clock_);
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("cannot listen on " + o.listen));
}

TEST_F(IngestServiceTest, BusyHttpPortFailsStartupNamingIt) {
  CollectorOptions o = options_;
  o.data_dir = dir_.Sub("other");
  o.http_listen = "127.0.0.1:" + std::to_string(server_->http_port());
  auto second = CollectorServer::Start(o, clock_);
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(o.http_listen));
}

// issue 6: under mutual TLS an agent writes only for the server its
// certificate names.
TEST_F(IngestServiceTest, MutualTlsAgentWritesForTheServerItsCertificateNames) {
  RestartWithMutualTls();
  auto s = Open("e1", "sync01");
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_welcome()) << m.DebugString();
  ASSERT_TRUE(s->rw->Write(Batch(1, "run-a")));
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_TRUE(m.has_ack()) << m.DebugString();
  s->rw->WritesDone();
  EXPECT_TRUE(s->rw->Finish().ok());

  auto upper = Open("e1", "SYNC01");  // names compare case-insensitively
  ASSERT_TRUE(upper->rw->Read(&m));
  EXPECT_TRUE(m.has_welcome());
  EXPECT_EQ(server_->ingest_stats().identity_rejections.load(), 0u);
}

TEST_F(IngestServiceTest, MutualTlsAgentCannotWriteForAnotherServer) {
  RestartWithMutualTls();
  auto s = Open("e1", "sync02");
  (void)s->rw->Write(Batch(1, "run-forged"));
  v1::CollectorMessage m;
  EXPECT_FALSE(s->rw->Read(&m));
  grpc::Status st = s->rw->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(),
              HasSubstr("the client certificate names sync01, not server sync02"));
  EXPECT_EQ(server_->ingest_stats().identity_rejections.load(), 1u);
  EXPECT_THAT(Metrics(), HasSubstr("syncwatch_ingest_identity_rejections_total 1\n"));
  EXPECT_EQ(StoredRuns("sync02"), 0);
  EXPECT_EQ(StoredRuns(), 0);
}

TEST_F(IngestServiceTest, StreamsBeyondTheLimitPerAgentAreRefused) {
  server_.reset();
  options_.agent_limits.max_streams_per_agent = 2;
  StartCollector();
  v1::CollectorMessage m;
  auto first = Open("e1");
  ASSERT_TRUE(first->rw->Read(&m));
  auto second = Open("e1");
  ASSERT_TRUE(second->rw->Read(&m));
  auto third = Open("e1");
  EXPECT_FALSE(third->rw->Read(&m));
  grpc::Status st = third->rw->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("limits.max_streams_per_agent is 2"));
  EXPECT_EQ(server_->ingest_stats().stream_limit_rejections.load(), 1u);

  auto other = Open("e1", "sync02");  // another agent is not affected
  ASSERT_TRUE(other->rw->Read(&m));
  EXPECT_TRUE(m.has_welcome());
}

TEST_F(IngestServiceTest, OverTheRateAThrottleComesBeforeTheAckAndNothingIsDropped) {
  server_.reset();
  options_.agent_limits.agent_events_per_second = 10;  // a burst of 20; the clock stands still
  StartCollector();
  auto s = Open();
  v1::CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(s->rw->Write(BigBatch(1, 15)));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack()) << m.DebugString();  // within the burst

  ASSERT_TRUE(s->rw->Write(BigBatch(2, 15)));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_throttle()) << m.DebugString();
  EXPECT_EQ(FromProtoDuration(m.throttle().retry_after()), absl::Seconds(1));
  EXPECT_THAT(m.throttle().reason(), HasSubstr("limits.agent_events_per_second (10)"));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack()) << m.DebugString();
  EXPECT_EQ(m.ack().seq(), 2u);

  EXPECT_EQ(StoredRuns(), 30);
  EXPECT_EQ(server_->ingest_stats().throttles.load(), 1u);
  EXPECT_THAT(Metrics(), HasSubstr("syncwatch_ingest_throttles_total 1\n"));
}

}  // namespace
}  // namespace syncwatch::collector
