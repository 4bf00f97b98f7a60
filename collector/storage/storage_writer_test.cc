#include "collector/storage/storage_writer.h"

#include <atomic>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "collector/state/server_state.h"
#include "collector/storage/record_keys.h"
#include "collector/storage/store.h"
#include "collector/storage/stored_record.h"
#include "collector/storage/wire_batch.h"
#include "common/mutex.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::FakeClock;
using ::syncwatch::testing::StatusIs;
using ::syncwatch::testing::TempDir;
using ::testing::HasSubstr;

struct Outcome {
  absl::Status status;
  bool duplicate = false;
};

class StorageWriterTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto writer = StorageWriter::Create(*store_, clock_, StorageWriter::Options());
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = *std::move(writer);
  }

  void Reopen() {
    writer_.reset();
    store_.reset();
    Open();
  }

  static std::shared_ptr<AgentContext> Agent(const std::string& epoch = "epoch-1",
                                             const std::string& server = "sync01") {
    auto a = std::make_shared<AgentContext>();
    a->hello.set_agent_id(server);
    a->hello.set_server(server);
    a->hello.set_tenant("fabrikam.onmicrosoft.com");
    a->hello.set_role(v1::SERVER_ROLE_ACTIVE);
    a->hello.set_spool_epoch(epoch);
    return a;
  }

  static v1::RunProfileResult Run(const std::string& id, const std::string& result,
                                  bool complete = true) {
    v1::RunProfileResult r;
    r.set_run_history_id(id);
    r.set_connector_name("contoso.com");
    r.set_run_profile_name("Delta Import");
    r.set_run_number(7);
    r.set_result(result);
    r.set_is_run_complete(complete);
    *r.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1600000000));
    return r;
  }

  static std::unique_ptr<v1::EventBatch> Batch(uint64_t seq,
                                               std::vector<v1::RunProfileResult> runs) {
    auto b = std::make_unique<v1::EventBatch>();
    b->set_seq(seq);
    for (auto& r : runs) {
      v1::Event* e = b->add_events();
      *e->mutable_observed_at() = ToProtoTimestamp(absl::FromUnixSeconds(1600000100));
      *e->mutable_run() = std::move(r);
    }
    return b;
  }

  Outcome Submit(std::shared_ptr<AgentContext> agent, std::unique_ptr<v1::EventBatch> batch) {
    std::promise<Outcome> p;
    writer_->Submit(std::move(agent), std::move(batch), [&p](absl::Status s, bool dup) {
      p.set_value(Outcome{std::move(s), dup});
    });
    return p.get_future().get();
  }

  // An export error whose stored record (written here) does not parse: a
  // batch with it fails with DataLoss.
  v1::ExportError DamagedExportError() {
    v1::ExportError e;
    e.set_connector_name("contoso.com");
    e.set_cs_guid("g1");
    e.set_error_type("AttributeValueMustBeUnique");
    *e.mutable_date_occurred() = ToProtoTimestamp(absl::FromUnixSeconds(1000));
    rocksdb::WriteBatch damage;
    damage.Put(store_->cf(Family::kExportErrors), ExportErrorKey("sync01", e),
               std::string("\x1a\x04\x42\x10", 4));  // the date's length runs past the end
    const absl::Status written = store_->Write(&damage);
    EXPECT_TRUE(written.ok()) << written;
    return e;
  }

  // Every record of `family` as stored, in key order.
  template <typename Record>
  std::vector<Record> Records(Family family) {
    std::vector<Record> out;
    auto it = store_->NewIterator(family, nullptr);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto record = ParseRecord<Record>(it->value());
      EXPECT_TRUE(record.ok()) << record.status();
      if (record.ok()) out.push_back(*std::move(record));
    }
    return out;
  }

  std::vector<v1::StoredRun> Runs() { return Records<v1::StoredRun>(Family::kRuns); }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StorageWriter> writer_;
};

TEST(AppendStoredRecord, AppendsTheBytesOfTheStoredRunRecord) {
  v1::RunProfileResult run;
  run.set_run_history_id("{9B3F0D2A-0001}");
  run.set_connector_name("contoso.onmicrosoft.com - AAD");
  run.set_run_profile_name("Export");
  run.set_result("completed-export-errors");
  run.set_is_run_complete(true);
  *run.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1714550400));
  v1::RunStep& step = *run.add_steps();
  step.set_step_number(1);
  v1::ExportError& error = *step.add_export_errors();
  error.set_dn("CN=Ann,OU=Sales,DC=contoso,DC=com");
  error.set_error_type("AttributeValueMustBeUnique");
  for (const std::string tenant : {"contoso.onmicrosoft.com", ""}) {
    for (const v1::RunProfileResult& r : {run, v1::RunProfileResult()}) {
      v1::StoredRun record;
      record.set_server("sync01");
      record.set_tenant(tenant);
      *record.mutable_run() = r;
      // Appended after what the buffer already holds (a group's earlier records).
      std::string buffer = "earlier records";
      AppendStoredRecord("sync01", tenant, r, &buffer);
      ASSERT_EQ(buffer.substr(0, 15), "earlier records");
      const std::string bytes = buffer.substr(15);
      EXPECT_EQ(bytes, record.SerializeAsString());
      v1::StoredRun parsed;
      ASSERT_TRUE(parsed.ParseFromString(bytes));
      EXPECT_EQ(parsed.run().SerializeAsString(), r.SerializeAsString());
      EXPECT_TRUE(parsed.has_run());
    }
  }
}

TEST_F(StorageWriterTest, StoresEventsBeforeCompleting) {
  Outcome o = Submit(Agent(), Batch(1, {Run("a", "success"), Run("b", "stopped-connectivity")}));
  SYNCWATCH_ASSERT_OK(o.status);
  EXPECT_FALSE(o.duplicate);
  auto runs = Runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].server(), "sync01");
  EXPECT_EQ(runs[0].tenant(), "fabrikam.onmicrosoft.com");
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 1u);
  EXPECT_EQ(writer_->stats().events_stored.load(), 2u);
}

TEST_F(StorageWriterTest, ResentBatchIsAcknowledgedAsDuplicateAndNotStoredAgain) {
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {Run("a", "success")})).status);
  // The same seq again, even with different content, is not applied.
  Outcome o = Submit(Agent(), Batch(1, {Run("z", "success")}));
  SYNCWATCH_ASSERT_OK(o.status);
  EXPECT_TRUE(o.duplicate);
  ASSERT_EQ(Runs().size(), 1u);
  EXPECT_EQ(writer_->stats().batches_duplicate.load(), 1u);
}

TEST_F(StorageWriterTest, HighWaterMarkSurvivesRestart) {
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {Run("a", "success")})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(2, {Run("b", "success")})).status);
  Reopen();
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 2u);
  EXPECT_TRUE(Submit(Agent(), Batch(1, {Run("q", "success")})).duplicate);
  EXPECT_EQ(Runs().size(), 2u);
  EXPECT_EQ(Submit(Agent(), Batch(4, {Run("d", "success")})).status.code(),
            absl::StatusCode::kFailedPrecondition);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(3, {Run("c", "success")})).status);
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 3u);
}

TEST_F(StorageWriterTest, ABatchBeyondTheNextSeqIsNotStoredAndNamesTheSeqExpected) {
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {Run("a", "success")})).status);
  Outcome o = Submit(Agent(), Batch(3, {Run("c", "success")}));
  EXPECT_THAT(o.status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("batch seq 3 is out of order: agent sync01 (spool "
                                           "epoch \"epoch-1\") has every batch through seq 1 "
                                           "stored, so the next must be seq 2")));
  EXPECT_FALSE(o.duplicate);
  EXPECT_EQ(Runs().size(), 1u);
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 1u);
  EXPECT_EQ(writer_->stats().batches_out_of_order.load(), 1u);
  // Another epoch of the same agent has a sequence of its own, from 1.
  EXPECT_EQ(Submit(Agent("epoch-2"), Batch(2, {Run("x", "success")})).status.code(),
            absl::StatusCode::kFailedPrecondition);
  SYNCWATCH_ASSERT_OK(Submit(Agent("epoch-2"), Batch(1, {Run("x", "success")})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(2, {Run("b", "success")})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(3, {Run("c", "success")})).status);
  EXPECT_EQ(Runs().size(), 4u);
}

// Batches in flight: the one after a batch that failed to store must not be
// stored either, whether it was prepared on top of it or after the failure.
TEST_F(StorageWriterTest, ABatchAfterOneThatFailedToStoreIsNotStored) {
  const v1::ExportError e = DamagedExportError();
  auto bad = std::make_unique<v1::EventBatch>();
  bad->set_seq(1);
  *bad->add_events()->mutable_export_error() = e;
  std::promise<Outcome> first;
  std::promise<Outcome> second;
  writer_->Submit(Agent(), std::move(bad), [&first](absl::Status s, bool dup) {
    first.set_value(Outcome{std::move(s), dup});
  });
  writer_->Submit(Agent(), Batch(2, {Run("b", "success")}), [&second](absl::Status s, bool dup) {
    second.set_value(Outcome{std::move(s), dup});
  });
  EXPECT_EQ(first.get_future().get().status.code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(second.get_future().get().status.ok());
  EXPECT_EQ(Submit(Agent(), Batch(2, {Run("b", "success")})).status.code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Runs().empty());
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 0u);
}

TEST_F(StorageWriterTest, ARefusedSeqIsSettledSoTheNextBatchFollowsIt) {
  auto refuse = [this](uint64_t seq) {
    std::promise<Outcome> p;
    writer_->SubmitRefusal(Agent(), seq, [&p](absl::Status s, bool dup) {
      p.set_value(Outcome{std::move(s), dup});
    });
    return p.get_future().get();
  };
  SYNCWATCH_ASSERT_OK(refuse(1).status);
  Reopen();
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 1u);  // the refusal is durable
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(2, {Run("b", "success")})).status);
  EXPECT_TRUE(Submit(Agent(), Batch(1, {Run("a", "success")})).duplicate);
  EXPECT_EQ(refuse(4).status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 2u);
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_F(StorageWriterTest, NaturalKeysDeduplicateAcrossSpoolEpochs) {
  SYNCWATCH_ASSERT_OK(Submit(Agent("old"), Batch(1, {Run("a", "success")})).status);
  // A wiped agent spool starts a new epoch at seq 1 and re-reads its files.
  Outcome o = Submit(Agent("new"), Batch(1, {Run("a", "success")}));
  SYNCWATCH_ASSERT_OK(o.status);
  EXPECT_FALSE(o.duplicate);
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_F(StorageWriterTest, CompletedRunIsNotReplacedByAnOlderInProgressReport) {
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {Run("a", "success", true)})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(2, {Run("a", "in-progress", false)})).status);
  auto runs = Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].run().result(), "success");
  // The other way round the complete report wins too.
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(3, {Run("b", "in-progress", false)})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(4, {Run("b", "completed-sync-errors", true)})).status);
  runs = Runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].run().result(), "completed-sync-errors");
  // Both reports in one batch, the late in-progress one last: the group
  // itself holds the complete one (the store does not have it yet).
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(5, {Run("c", "success", true), Run("x", "success"),
                                                Run("c", "in-progress", false)}))
                          .status);
  runs = Runs();
  ASSERT_EQ(runs.size(), 4u);
  for (const v1::StoredRun& r : runs) {
    if (r.run().run_history_id() == "c") {
      EXPECT_EQ(r.run().result(), "success");
    }
  }
}

TEST_F(StorageWriterTest, RunWithoutIdIsKeyedByConnectorAndRunNumber) {
  v1::RunProfileResult r = Run("", "success");
  SYNCWATCH_ASSERT_OK(Submit(Agent("e1"), Batch(1, {r})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent("e2"), Batch(1, {r})).status);
  r.set_run_number(8);
  SYNCWATCH_ASSERT_OK(Submit(Agent("e2"), Batch(2, {r})).status);
  EXPECT_EQ(Runs().size(), 2u);
}

TEST_F(StorageWriterTest, ExportErrorsInRunStepsAreIndexedWithTheirFirstOccurrence) {
  v1::RunProfileResult r = Run("a", "completed-export-errors");
  v1::ExportError* e = r.add_steps()->add_export_errors();
  e->set_cs_guid("12345678-df83-e611-8ce8-00505689546c");
  e->set_error_type("AttributeValueMustBeUnique");
  *e->mutable_first_occurred() = ToProtoTimestamp(absl::FromUnixSeconds(1500000000));
  *e->mutable_date_occurred() = ToProtoTimestamp(absl::FromUnixSeconds(1600000000));
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {r})).status);
  // A later report of the same error that lost its first-occurred date keeps the old one.
  v1::RunProfileResult later = Run("b", "completed-export-errors");
  v1::ExportError* e2 = later.add_steps()->add_export_errors();
  *e2 = *e;
  e2->clear_first_occurred();
  *e2->mutable_date_occurred() = ToProtoTimestamp(absl::FromUnixSeconds(1600001800));
  e2->set_retry_count(1);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(2, {later})).status);

  const auto errors = Records<v1::StoredExportError>(Family::kExportErrors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].error().connector_name(), "contoso.com");
  EXPECT_EQ(errors[0].error().retry_count(), 1);
  EXPECT_EQ(errors[0].error().first_occurred().seconds(), 1500000000);
  EXPECT_EQ(errors[0].error().date_occurred().seconds(), 1600001800);
}

TEST_F(StorageWriterTest, SettingsDecideTheRoleAndLastSeenFollowsTheClock) {
  auto b = std::make_unique<v1::EventBatch>();
  b->set_seq(1);
  v1::Event* e = b->add_events();
  *e->mutable_observed_at() = ToProtoTimestamp(clock_.Now());
  e->mutable_settings()->set_staging_mode_enabled(true);
  e->mutable_settings()->set_deletion_threshold(500);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), std::move(b)).status);
  clock_.Advance(absl::Minutes(5));
  SYNCWATCH_ASSERT_OK(Submit(Agent(), nullptr).status);  // a Hello's sign of life

  const auto servers = Records<v1::ServerInfo>(Family::kServers);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].role(), v1::SERVER_ROLE_STAGING);  // the hello said active
  EXPECT_EQ(servers[0].settings().deletion_threshold(), 500);
  EXPECT_EQ(FromProtoTimestamp(servers[0].last_seen()), clock_.Now());
}

TEST_F(StorageWriterTest, ManyConcurrentSubmissionsAreAllCommitted) {
  constexpr int kAgents = 4;
  constexpr int kBatches = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int a = 0; a < kAgents; ++a) {
    threads.emplace_back([&, a] {
      auto agent = Agent("e", "sync" + std::to_string(a));
      for (int i = 1; i <= kBatches; ++i) {
        std::promise<absl::Status> p;
        writer_->Submit(agent,
                        Batch(i, {Run(std::to_string(a) + "-" + std::to_string(i), "success")}),
                        [&p](absl::Status s, bool) { p.set_value(s); });
        if (p.get_future().get().ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kAgents * kBatches);
  EXPECT_EQ(Runs().size(), static_cast<size_t>(kAgents * kBatches));
  EXPECT_LE(writer_->stats().commits.load(), static_cast<uint64_t>(kAgents * kBatches));
}

TEST_F(StorageWriterTest, CommitObserverSeesEachCommittedSubmissionBeforeItCompletes) {
  struct Seen {
    std::string server;
    std::string tenant;
    int events = -1;  // -1: no batch
  };
  Mutex mu;
  std::vector<Seen> seen;
  StorageWriter::Options options;
  options.on_commit = [&](const std::vector<CommittedSubmission>& committed) {
    MutexLock lock(&mu);
    for (const CommittedSubmission& c : committed) {
      seen.push_back({c.server, c.tenant, c.batch ? c.batch->events_size() : -1});
    }
  };
  writer_.reset();
  auto writer = StorageWriter::Create(*store_, clock_, options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  writer_ = *std::move(writer);

  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {Run("a", "success"), Run("b", "success")})).status);
  {
    // Completion runs after the observer: what is acknowledged was observed.
    MutexLock lock(&mu);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].server, "sync01");
    EXPECT_EQ(seen[0].tenant, "fabrikam.onmicrosoft.com");
    EXPECT_EQ(seen[0].events, 2);
  }
  // A re-sent batch and a Hello-only submission are signs of life, no data.
  SYNCWATCH_ASSERT_OK(Submit(Agent(), Batch(1, {Run("a", "success")})).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent("epoch-1", "sync02"), nullptr).status);
  MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].events, -1);
  EXPECT_EQ(seen[2].server, "sync02");
  EXPECT_EQ(seen[2].events, -1);
}

// A store written by an earlier collector has server records without the
// connectors' run state the alert rules now judge; starting the writer folds
// it in from the stored runs, giving what ingesting those runs gives.
TEST_F(StorageWriterTest, RecordsOfAnEarlierCollectorAreUpgradedFromTheirRunsOnStart) {
  v1::RunProfileResult export_run = Run("e", "completed-export-errors");
  export_run.set_run_profile_name("Export");
  *export_run.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1600000600));
  v1::RunProfileResult failed_import = Run("i2", "stopped-server-down");
  *failed_import.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1600000300));
  SYNCWATCH_ASSERT_OK(
      Submit(Agent(), Batch(1, {Run("i1", "success"), failed_import, export_run})).status);
  auto stored = store_->Get(Family::kServers, ServerKey("sync01"));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto current = ParseRecord<v1::ServerInfo>(**stored);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->state_version(), kServerStateVersion);
  ASSERT_EQ(current->connectors_size(), 1);
  EXPECT_EQ(current->connectors(0).latest_complete_runs().size(), 2u);

  // What an earlier collector stored: the same record without the run state.
  v1::ServerInfo old = *current;
  old.clear_state_version();
  for (v1::ConnectorState& c : *old.mutable_connectors()) {
    c.clear_latest_complete_runs();
    c.clear_latest_export_start();
    c.clear_first_run_start();
  }
  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(Family::kServers), ServerKey("sync01"), old.SerializeAsString());
  SYNCWATCH_ASSERT_OK(store_->Write(&batch));

  Reopen();
  stored = store_->Get(Family::kServers, ServerKey("sync01"));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto upgraded = ParseRecord<v1::ServerInfo>(**stored);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*upgraded, *current))
      << "upgraded:\n"
      << upgraded->DebugString() << "\nas ingested:\n"
      << current->DebugString();
}

TEST_F(StorageWriterTest, ADamagedServerRecordStopsTheUpgradeNamingIt) {
  writer_.reset();
  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(Family::kServers), ServerKey("sync01"), "\xff\xff not a record");
  SYNCWATCH_ASSERT_OK(store_->Write(&batch));
  EXPECT_THAT(UpgradeServerRecords(*store_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ServerInfo")));
  EXPECT_THAT(StorageWriter::Create(*store_, clock_, StorageWriter::Options()).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ServerInfo")));
}

// The writer prepares the next group while the one before commits. These
// tests hold the commit thread in the observer after a first commit, so that
// two more groups are prepared meanwhile, the second on top of the first.
class StorageWriterPipelineTest : public StorageWriterTest {
 protected:
  void SetUp() override {
    StorageWriterTest::SetUp();
    StorageWriter::Options options;
    options.on_commit = [this](const std::vector<CommittedSubmission>&) {
      if (hold_first_.exchange(false)) {
        held_.Notify();
        release_.WaitForNotification();
      }
    };
    writer_.reset();
    auto writer = StorageWriter::Create(*store_, clock_, options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = *std::move(writer);
  }

  // Submits, then waits until the writer has made it into a group of its own;
  // the first one also until its group is written and the commit thread held
  // after it, so that what the test does next (a "full" disk) cannot reach
  // that write on a slow machine.
  std::future<Outcome> SubmitAndAwaitPrepared(std::unique_ptr<v1::EventBatch> batch) {
    auto promise = std::make_shared<std::promise<Outcome>>();
    std::future<Outcome> outcome = promise->get_future();
    const uint64_t before = writer_->stats().groups_prepared.load();
    writer_->Submit(Agent(), std::move(batch), [promise](absl::Status s, bool dup) {
      promise->set_value(Outcome{std::move(s), dup});
    });
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (writer_->stats().groups_prepared.load() == before && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_EQ(writer_->stats().groups_prepared.load(), before + 1);
    if (!first_submitted_) {
      first_submitted_ = true;
      EXPECT_TRUE(held_.WaitForNotificationWithTimeout(absl::Seconds(10)));
    }
    return outcome;
  }

  std::atomic<bool> hold_first_{true};
  bool first_submitted_ = false;
  absl::Notification held_;
  absl::Notification release_;
};

TEST_F(StorageWriterPipelineTest, AGroupPreparedBeforeTheOneBeforeItCommitsSeesItsWrites) {
  auto first = SubmitAndAwaitPrepared(Batch(1, {Run("other", "success")}));
  // Prepared while the commit thread is held: not committed when the next
  // group is made.
  auto complete = SubmitAndAwaitPrepared(Batch(2, {Run("r", "success")}));
  auto in_progress = SubmitAndAwaitPrepared(Batch(3, {Run("r", "in-progress", false)}));
  release_.Notify();
  SYNCWATCH_EXPECT_OK(first.get().status);
  SYNCWATCH_EXPECT_OK(complete.get().status);
  SYNCWATCH_EXPECT_OK(in_progress.get().status);
  // The late in-progress report must not replace the complete run, though
  // the complete one was not in the store yet when its group was made.
  std::vector<v1::StoredRun> runs = Runs();
  ASSERT_EQ(runs.size(), 2u);
  for (const v1::StoredRun& r : runs) {
    if (r.run().run_history_id() != "r") continue;
    EXPECT_TRUE(r.run().is_run_complete());
    EXPECT_EQ(r.run().result(), "success");
  }
}

TEST_F(StorageWriterPipelineTest, ACommitThatFailsVoidsTheGroupsPreparedOnTopOfIt) {
  auto first = SubmitAndAwaitPrepared(Batch(1, {Run("a", "success")}));
  auto failing = SubmitAndAwaitPrepared(Batch(2, {Run("b", "success")}));
  auto on_top = SubmitAndAwaitPrepared(Batch(3, {Run("c", "success")}));
  store_->SetMinFreeBytes(std::numeric_limits<uint64_t>::max());  // the disk is "full"
  release_.Notify();
  SYNCWATCH_EXPECT_OK(first.get().status);
  EXPECT_THAT(failing.get().status,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("collector disk full")));
  // Not written at all: it was made on top of a group that is not stored.
  EXPECT_THAT(on_top.get().status, StatusIs(absl::StatusCode::kUnavailable,
                                            HasSubstr("an earlier write of the collector's store "
                                                      "failed")));
  ASSERT_EQ(Runs().size(), 1u);
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 1u);

  // The agent re-sends both: they are new to the store, so they are stored,
  // not taken for re-sends of what the failed groups had counted.
  store_->SetMinFreeBytes(0);
  Outcome b = Submit(Agent(), Batch(2, {Run("b", "success")}));
  SYNCWATCH_EXPECT_OK(b.status);
  EXPECT_FALSE(b.duplicate);
  Outcome c = Submit(Agent(), Batch(3, {Run("c", "success")}));
  SYNCWATCH_EXPECT_OK(c.status);
  EXPECT_FALSE(c.duplicate);
  EXPECT_EQ(Runs().size(), 3u);
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 3u);
}

// After a failed commit the writer reads the servers again before it
// prepares anything; when that read fails, the group fails with it (nothing
// is written on a view of the servers it could not read), and the next group
// reads again.
TEST_F(StorageWriterPipelineTest, AServerReadThatFailsAfterAFailedCommitFailsGroupsUntilItReads) {
  auto first = SubmitAndAwaitPrepared(Batch(1, {Run("a", "success")}));
  auto failing = SubmitAndAwaitPrepared(Batch(2, {Run("b", "success")}));
  store_->SetMinFreeBytes(std::numeric_limits<uint64_t>::max());  // the disk is "full"
  release_.Notify();
  SYNCWATCH_EXPECT_OK(first.get().status);
  EXPECT_THAT(failing.get().status, StatusIs(absl::StatusCode::kResourceExhausted));
  store_->SetMinFreeBytes(0);

  rocksdb::WriteBatch damage;
  damage.Put(store_->cf(Family::kServers), ServerKey("sync99"), "\xff\xff not a record");
  SYNCWATCH_ASSERT_OK(store_->Write(&damage));
  EXPECT_THAT(
      Submit(Agent(), Batch(2, {Run("b", "success")})).status,
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ServerInfo record under key \"sync99")));
  EXPECT_THAT(Submit(Agent(), Batch(2, {Run("b", "success")})).status,
              StatusIs(absl::StatusCode::kDataLoss))
      << "read again, and still damaged";
  ASSERT_EQ(Runs().size(), 1u);

  rocksdb::WriteBatch mend;
  mend.Delete(store_->cf(Family::kServers), ServerKey("sync99"));
  SYNCWATCH_ASSERT_OK(store_->Write(&mend));
  Outcome b = Submit(Agent(), Batch(2, {Run("b", "success")}));
  SYNCWATCH_EXPECT_OK(b.status);
  EXPECT_FALSE(b.duplicate);
  EXPECT_EQ(Runs().size(), 2u);
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 2u);
}

TEST_F(StorageWriterTest, SubmitAfterStopFailsUnavailable) {
  writer_->Stop();
  EXPECT_EQ(Submit(Agent(), Batch(1, {Run("a", "success")})).status.code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(StorageWriterTest, PendingExportSnapshotLatestWinsAndHistoryKeepsFigures) {
  auto snap = [&](int64_t t, int64_t deletes, uint64_t seq) {
    auto b = std::make_unique<v1::EventBatch>();
    b->set_seq(seq);
    v1::Event* e = b->add_events();
    *e->mutable_observed_at() = ToProtoTimestamp(absl::FromUnixSeconds(t));
    v1::PendingExportSnapshot* s = e->mutable_pending_exports();
    s->set_snapshot_id("s" + std::to_string(t));
    s->set_connector_name("fabrikam.onmicrosoft.com - AAD");
    *s->mutable_taken_at() = ToProtoTimestamp(absl::FromUnixSeconds(t));
    s->set_pending_deletes(deletes);
    s->add_deletes()->set_dn("CN=x");
    return b;
  };
  SYNCWATCH_ASSERT_OK(Submit(Agent(), snap(2000, 10, 1)).status);
  SYNCWATCH_ASSERT_OK(Submit(Agent(), snap(1000, 700, 2)).status);  // older, arrives late
  const auto snapshots = Records<v1::StoredPendingExports>(Family::kSnapshots);
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].snapshot().pending_deletes(), 10);
  EXPECT_EQ(snapshots[0].snapshot().deletes_size(), 1);
  EXPECT_EQ(snapshots[0].server(), "sync01");

  // The history holds both, oldest first: the record without the object list.
  const auto history = Records<v1::StoredPendingExports>(Family::kSnapshotHistory);
  ASSERT_EQ(history.size(), 2u);
  for (const auto& [record, t, deletes] :
       {std::tuple(history[0], 1000, 700), std::tuple(history[1], 2000, 10)}) {
    v1::StoredPendingExports expected;
    expected.set_server("sync01");
    expected.set_tenant(Agent()->hello.tenant());
    *expected.mutable_snapshot() = snap(t, deletes, 0)->events(0).pending_exports();
    expected.mutable_snapshot()->clear_deletes();
    EXPECT_EQ(record.SerializeAsString(), expected.SerializeAsString()) << record.DebugString();
  }

  // A snapshot taken at the same time as the stored one replaces it.
  SYNCWATCH_ASSERT_OK(Submit(Agent(), snap(2000, 11, 3)).status);
  const auto replaced = Records<v1::StoredPendingExports>(Family::kSnapshots);
  ASSERT_EQ(replaced.size(), 1u);
  EXPECT_EQ(replaced[0].snapshot().pending_deletes(), 11);
}

TEST_F(StorageWriterTest, ASnapshotRecordThatDoesNotParseFailsTheBatchNamingItsKey) {
  auto batch = [](uint64_t seq) {
    auto b = std::make_unique<v1::EventBatch>();
    b->set_seq(seq);
    v1::PendingExportSnapshot* s = b->add_events()->mutable_pending_exports();
    s->set_connector_name("contoso.com");
    *s->mutable_taken_at() = ToProtoTimestamp(absl::FromUnixSeconds(5000));
    return b;
  };
  rocksdb::WriteBatch damage;
  damage.Put(store_->cf(Family::kSnapshots), SnapshotKey("sync01", "contoso.com"),
             std::string("\x1a\x05\x22\x10", 4));  // the time's length runs past the end
  SYNCWATCH_ASSERT_OK(store_->Write(&damage));
  Outcome o = Submit(Agent(), batch(1));
  EXPECT_EQ(o.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(o.status.message()),
              HasSubstr("snapshots: the StoredPendingExports record under key "
                        "\"sync01\\x00\\x01\\x63ontoso.com"));
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 0u);  // nothing of the batch is stored
}

TEST_F(StorageWriterTest, AnExportErrorKeepsItsNewestReportAndItsFirstOccurrence) {
  auto report = [](int64_t date, std::optional<int64_t> first, int64_t retries) {
    v1::ExportError e;
    e.set_connector_name("contoso.com");
    e.set_connector_id("a1b2");
    e.set_cs_guid("12345678-df83-e611-8ce8-00505689546c");
    e.set_error_type("AttributeValueMustBeUnique");
    *e.mutable_date_occurred() = ToProtoTimestamp(absl::FromUnixSeconds(date));
    if (first) *e.mutable_first_occurred() = ToProtoTimestamp(absl::FromUnixSeconds(*first));
    e.set_retry_count(retries);
    return e;
  };
  auto submit = [this](uint64_t seq, const v1::ExportError& e) {
    auto b = std::make_unique<v1::EventBatch>();
    b->set_seq(seq);
    *b->add_events()->mutable_export_error() = e;
    SYNCWATCH_ASSERT_OK(Submit(Agent(), std::move(b)).status);
  };
  auto stored = [this]() {
    const auto errors = Records<v1::StoredExportError>(Family::kExportErrors);
    EXPECT_EQ(errors.size(), 1u);
    return errors.size() == 1 ? errors[0].error() : v1::ExportError();
  };
  submit(1, report(1000, 500, 1));
  EXPECT_EQ(stored().retry_count(), 1);
  // An older report re-sent changes nothing.
  submit(2, report(900, 400, 7));
  EXPECT_EQ(stored().retry_count(), 1);
  EXPECT_EQ(stored().first_occurred().seconds(), 500);
  // A newer one replaces it but keeps the earlier first occurrence...
  submit(3, report(1100, 700, 2));
  EXPECT_EQ(stored().retry_count(), 2);
  EXPECT_EQ(stored().date_occurred().seconds(), 1100);
  EXPECT_EQ(stored().first_occurred().seconds(), 500);
  submit(4, report(1200, std::nullopt, 3));
  EXPECT_EQ(stored().first_occurred().seconds(), 500);
  // ...unless it knows of an earlier one; an equal date is a newer report.
  submit(5, report(1200, 300, 4));
  EXPECT_EQ(stored().retry_count(), 4);
  EXPECT_EQ(stored().first_occurred().seconds(), 300);
  // Written whole: the stored record is the report, as a message would be.
  v1::StoredExportError expected;
  expected.set_server("sync01");
  expected.set_tenant("fabrikam.onmicrosoft.com");
  *expected.mutable_error() = report(1200, 300, 4);
  absl::StatusOr<std::optional<std::string>> bytes =
      store_->Get(Family::kExportErrors, ExportErrorKey("sync01", report(0, 0, 0)));
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  EXPECT_EQ(**bytes, expected.SerializeAsString());
}

TEST_F(StorageWriterTest, AnExportErrorRecordThatDoesNotParseFailsTheBatchNamingItsKey) {
  const v1::ExportError e = DamagedExportError();
  auto b = std::make_unique<v1::EventBatch>();
  b->set_seq(1);
  *b->add_events()->mutable_export_error() = e;
  *b->add_events()->mutable_run() = Run("a", "success");
  Outcome o = Submit(Agent(), std::move(b));
  EXPECT_EQ(o.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(o.status.message()),
              HasSubstr("export_errors: the StoredExportError record under key \"sync01\\x00"));
  EXPECT_EQ(writer_->StoredSeq("sync01", "epoch-1"), 0u);  // nothing of the batch is stored
  EXPECT_TRUE(Runs().empty());
}

TEST(StoredRecord, AppendsAPayloadAlreadySerializedAsTheRecordWouldHoldIt) {
  v1::PendingExportSnapshot snapshot;
  snapshot.set_connector_name("contoso.com");
  snapshot.set_pending_deletes(3);
  snapshot.add_deletes()->set_dn("CN=a");
  for (const std::string server : {"sync01", ""}) {
    v1::StoredPendingExports record;
    record.set_server(server);
    record.set_tenant("contoso.onmicrosoft.com");
    *record.mutable_snapshot() = snapshot;
    std::string from_message = "x";
    std::string from_bytes = "x";
    AppendStoredRecord(server, "contoso.onmicrosoft.com", snapshot, &from_message);
    AppendStoredRecord(server, "contoso.onmicrosoft.com", snapshot.SerializeAsString(),
                       &from_bytes);
    EXPECT_EQ(from_message, "x" + record.SerializeAsString());
    EXPECT_EQ(from_bytes, from_message);
  }
}

TEST(StoredRecord, AppendWithoutFieldsDropsOnlyThoseFields) {
  v1::PendingExportSnapshot snapshot;
  snapshot.set_snapshot_id("s1");
  snapshot.set_pending_deletes(2);
  snapshot.add_deletes()->set_dn("CN=a");
  snapshot.add_deletes()->set_dn("CN=b");
  snapshot.set_deletes_truncated(true);
  snapshot.add_adds_and_updates()->set_dn("CN=c");
  v1::PendingExportSnapshot expected = snapshot;
  expected.clear_deletes();
  expected.clear_adds_and_updates();
  std::string out = "kept";
  ASSERT_TRUE(AppendWithoutFields(snapshot.SerializeAsString(),
                                  {v1::PendingExportSnapshot::kDeletesFieldNumber,
                                   v1::PendingExportSnapshot::kAddsAndUpdatesFieldNumber},
                                  &out));
  EXPECT_EQ(out, "kept" + expected.SerializeAsString());

  // Not wire format: false, and nothing appended.
  for (const std::string& bad : {std::string("\x0a\x05"
                                             "ab",
                                             4),
                                 std::string("\x00\x01", 2), std::string("\x0f", 1)}) {
    std::string untouched = "kept";
    EXPECT_FALSE(AppendWithoutFields(bad, {9}, &untouched)) << absl::CHexEscape(bad);
    EXPECT_EQ(untouched, "kept");
  }
}

TEST(StoredRecord, ForEachFieldGivesEveryOccurrenceWhichMergeAsTheWholeParses) {
  v1::PendingExportSnapshot first;
  first.set_connector_name("contoso.com");
  *first.mutable_taken_at() = ToProtoTimestamp(absl::FromUnixSeconds(100));
  v1::PendingExportSnapshot second;
  second.set_pending_deletes(4);
  second.mutable_taken_at()->set_nanos(5);
  v1::StoredPendingExports a;
  a.set_server("sync01");
  *a.mutable_snapshot() = first;
  v1::StoredPendingExports b;
  *b.mutable_snapshot() = second;
  // Two serializations one after the other parse as their merge.
  const std::string bytes = a.SerializeAsString() + b.SerializeAsString();
  v1::StoredPendingExports whole;
  ASSERT_TRUE(whole.ParseFromString(bytes));

  std::vector<std::string> payloads;
  auto collect = [&payloads](absl::string_view p) {
    payloads.emplace_back(p);
    return true;
  };
  ASSERT_TRUE(ForEachField(bytes, 3, collect));
  ASSERT_EQ(payloads,
            (std::vector<std::string>{first.SerializeAsString(), second.SerializeAsString()}));
  v1::PendingExportSnapshot parsed;
  for (const std::string& p : payloads) ASSERT_TRUE(parsed.MergeFromString(p));
  EXPECT_EQ(parsed.SerializeAsString(), whole.snapshot().SerializeAsString());
  EXPECT_EQ(parsed.taken_at().seconds(), 100);
  EXPECT_EQ(parsed.taken_at().nanos(), 5);

  // `take` saying stop: false, after the first.
  payloads.clear();
  EXPECT_FALSE(ForEachField(bytes, 3, [&payloads](absl::string_view p) {
    payloads.emplace_back(p);
    return false;
  }));
  EXPECT_EQ(payloads.size(), 1u);

  payloads.clear();
  EXPECT_TRUE(ForEachField(bytes, 7, collect));  // absent
  EXPECT_TRUE(payloads.empty());
  EXPECT_FALSE(ForEachField(second.SerializeAsString(), 7, collect));       // a varint field
  EXPECT_FALSE(ForEachField(std::string("\x1a\x09short", 7), 3, collect));  // runs past the end
  EXPECT_FALSE(ForEachField(std::string("\x0f", 1), 3, collect));           // not wire format
  EXPECT_TRUE(payloads.empty());
  EXPECT_TRUE(ForEachField(std::string("\x0a\x00", 2), 1, collect));
  EXPECT_EQ(payloads, std::vector<std::string>{""});
}

// A length-delimited field as protobuf writes it (numbers and sizes below 128).
std::string LengthDelimited(int number, const std::string& payload) {
  EXPECT_LT(number, 16);
  EXPECT_LT(payload.size(), 128u);
  return std::string{static_cast<char>(number << 3 | 2), static_cast<char>(payload.size())} +
         payload;
}

v1::RunProfileResult WireRun(const std::string& id) {
  v1::RunProfileResult r;
  r.set_run_history_id(id);
  r.set_connector_name("contoso.com");
  r.set_result("success");
  return r;
}

TEST(FindBatchWire, GivesEachRunAsSentAndNothingForOtherEvents) {
  v1::AgentMessage m;
  v1::EventBatch* b = m.mutable_batch();
  b->set_seq(3);
  *b->add_events()->mutable_run() = WireRun("a");
  b->add_events()->mutable_export_error()->set_dn("CN=x");
  *b->add_events()->mutable_run() = WireRun("b");
  b->add_events()->mutable_heartbeat();
  const std::string bytes = m.SerializeAsString();
  v1::AgentMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));

  std::optional<BatchWire> wire = FindBatchWire(bytes, parsed.batch());
  ASSERT_TRUE(wire.has_value());
  EXPECT_EQ(wire->size, m.batch().ByteSizeLong());
  ASSERT_EQ(wire->runs.size(), 4u);
  EXPECT_EQ(wire->runs[0], WireRun("a").SerializeAsString());
  EXPECT_TRUE(wire->runs[1].empty());
  EXPECT_EQ(wire->runs[2], WireRun("b").SerializeAsString());
  EXPECT_TRUE(wire->runs[3].empty());
  // Views into the message, not copies.
  EXPECT_GE(wire->runs[2].data(), bytes.data());
  EXPECT_LE(wire->runs[2].data() + wire->runs[2].size(), bytes.data() + bytes.size());
}

TEST(FindBatchWire, ARunIsGivenAsSentEvenOutOfFieldOrderWithUnknownFields) {
  // result (8), an unknown field 15, then the id (1): not how protobuf
  // writes it, but one piece that parses as the run.
  const std::string run =
      LengthDelimited(8, "success") + LengthDelimited(15, "later") + LengthDelimited(1, "a");
  const std::string bytes =
      LengthDelimited(2, std::string("\x08\x01", 2) + LengthDelimited(2, LengthDelimited(10, run)));
  v1::AgentMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_TRUE(parsed.batch().events(0).has_run());

  std::optional<BatchWire> wire = FindBatchWire(bytes, parsed.batch());
  ASSERT_TRUE(wire.has_value());
  ASSERT_EQ(wire->runs.size(), 1u);
  EXPECT_EQ(wire->runs[0], run);
  v1::RunProfileResult again;
  ASSERT_TRUE(again.ParseFromString(std::string(wire->runs[0])));
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(again, parsed.batch().events(0).run()));
}

TEST(FindBatchWire, ARunInPiecesIsLeftToTheParseAndAMessageNotInOnePieceGivesNothing) {
  const std::string a = LengthDelimited(10, LengthDelimited(1, "a"));
  const std::string b = LengthDelimited(10, LengthDelimited(8, "success"));
  const std::string heartbeat = LengthDelimited(14, "");
  // Event 0: its run in two pieces (they merge); event 1: a run replaced by
  // a heartbeat (one oneof); event 2: a heartbeat replaced by a run.
  const std::string events = LengthDelimited(2, a + b) + LengthDelimited(2, a + heartbeat) +
                             LengthDelimited(2, heartbeat + b);
  const std::string bytes = LengthDelimited(2, events);
  v1::AgentMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(parsed.batch().events(0).run().run_history_id(), "a");
  ASSERT_EQ(parsed.batch().events(0).run().result(), "success");
  ASSERT_TRUE(parsed.batch().events(1).has_heartbeat());

  std::optional<BatchWire> wire = FindBatchWire(bytes, parsed.batch());
  ASSERT_TRUE(wire.has_value());
  ASSERT_EQ(wire->runs.size(), 3u);
  EXPECT_TRUE(wire->runs[0].empty());
  EXPECT_TRUE(wire->runs[1].empty());
  EXPECT_EQ(wire->runs[2], LengthDelimited(8, "success"));

  // The batch field twice merges two batches; a hello beside it replaces it.
  const std::string one = LengthDelimited(2, LengthDelimited(2, a));
  const std::string hello = LengthDelimited(1, LengthDelimited(1, "agent"));
  for (const std::string& message : {one + one, hello + one, one + hello}) {
    v1::AgentMessage m;
    ASSERT_TRUE(m.ParseFromString(message));
    EXPECT_FALSE(FindBatchWire(message, m.batch()).has_value()) << absl::CHexEscape(message);
  }
  // Bytes that are not the message parsed.
  v1::EventBatch two_events;
  two_events.add_events();
  two_events.add_events();
  EXPECT_FALSE(FindBatchWire(one, two_events).has_value());
  EXPECT_FALSE(FindBatchWire(std::string("\x12\x09short", 7), two_events).has_value());
}

TEST_F(StorageWriterTest, RunsAreStoredFromTheBytesTheyCameInOrSerializedWithout) {
  // As an agent might send it: an unknown field (a newer agent's) first.
  const v1::RunProfileResult sent = Run("a", "success");
  const std::string wire_run = LengthDelimited(15, "newer") + sent.SerializeAsString();
  auto batch = Batch(1, {sent, Run("b", "success")});
  BatchWire wire;
  wire.size = batch->ByteSizeLong();
  wire.runs = {wire_run, absl::string_view()};
  std::promise<Outcome> p;
  writer_->Submit(Agent(), std::move(batch), wire, [&p](absl::Status s, bool dup) {
    p.set_value(Outcome{std::move(s), dup});
  });
  SYNCWATCH_ASSERT_OK(p.get_future().get().status);

  auto stored = [this](const v1::RunProfileResult& run) {
    absl::StatusOr<std::optional<std::string>> bytes =
        store_->Get(Family::kRuns, RunKey("sync01", run));
    EXPECT_TRUE(bytes.ok() && bytes->has_value()) << run.run_history_id();
    return bytes.ok() && bytes->has_value() ? **bytes : std::string();
  };
  std::string expected;
  AppendStoredRecord("sync01", "fabrikam.onmicrosoft.com", wire_run, &expected);
  EXPECT_EQ(stored(sent), expected);
  expected.clear();
  AppendStoredRecord("sync01", "fabrikam.onmicrosoft.com", Run("b", "success"), &expected);
  EXPECT_EQ(stored(Run("b", "success")), expected);
  ASSERT_EQ(Runs().size(), 2u);

  // A layout that does not match the batch is not used.
  auto mismatched = Batch(2, {Run("c", "success")});
  wire.runs = {"not the run", "nor this"};
  std::promise<Outcome> q;
  writer_->Submit(Agent(), std::move(mismatched), wire, [&q](absl::Status s, bool dup) {
    q.set_value(Outcome{std::move(s), dup});
  });
  SYNCWATCH_ASSERT_OK(q.get_future().get().status);
  expected.clear();
  AppendStoredRecord("sync01", "fabrikam.onmicrosoft.com", Run("c", "success"), &expected);
  EXPECT_EQ(stored(Run("c", "success")), expected);
}

}  // namespace
}  // namespace syncwatch::collector
