#include "collector/storage/retention.h"

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "collector/storage/storage_writer.h"
#include "collector/storage/store.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"
#include "syncwatch/v1/query.pb.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::FakeClock;
using ::syncwatch::testing::StatusIs;
using ::syncwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr absl::Duration kDay = absl::Hours(24);

// A pass that succeeded and deleted exactly these many records of each kind.
MATCHER_P3(Deleted, runs, export_errors, snapshots, "") {
  if (!arg.ok()) {
    *result_listener << arg.status();
    return false;
  }
  *result_listener << "deleted " << arg->runs << " runs, " << arg->export_errors
                   << " export errors, " << arg->snapshots << " snapshots";
  return arg->runs == static_cast<uint64_t>(runs) &&
         arg->export_errors == static_cast<uint64_t>(export_errors) &&
         arg->snapshots == static_cast<uint64_t>(snapshots);
}

// Waits (in real time, generously) until `done` holds.
template <typename Predicate>
bool WaitFor(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Records are written through the real StorageWriter and read back raw from
// the store, each named "server/connector/<id>" so that a test can say
// exactly which survived.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto writer = StorageWriter::Create(*store_, clock_, StorageWriter::Options());
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = *std::move(writer);
  }

  absl::Time Now() const { return clock_.Now(); }

  std::unique_ptr<Retention> MakeRetention(const RetentionOptions& options = {},
                                           Retention::Options tuning = {}) {
    return std::make_unique<Retention>(*store_, clock_, options, tuning);
  }

  // Submits `events` as the next batch of `server`'s agent, without waiting.
  std::future<absl::Status> SubmitAsync(const std::string& server, std::vector<v1::Event> events) {
    auto agent = std::make_shared<AgentContext>();
    agent->hello.set_agent_id(server);
    agent->hello.set_server(server);
    agent->hello.set_spool_epoch("epoch-1");
    auto batch = std::make_unique<v1::EventBatch>();
    batch->set_seq(++seq_[server]);
    for (v1::Event& e : events) *batch->add_events() = std::move(e);
    auto done = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> f = done->get_future();
    writer_->Submit(std::move(agent), std::move(batch),
                    [done](absl::Status s, bool) { done->set_value(std::move(s)); });
    return f;
  }

  void Submit(const std::string& server, std::vector<v1::Event> events) {
    SYNCWATCH_ASSERT_OK(SubmitAsync(server, std::move(events)).get());
  }

  static v1::Event Run(const std::string& connector, const std::string& id, absl::Time start) {
    v1::Event e;
    v1::RunProfileResult* r = e.mutable_run();
    r->set_run_history_id(id);
    r->set_connector_name(connector);
    r->set_result("success");
    r->set_is_run_complete(true);
    *r->mutable_start_time() = ToProtoTimestamp(start);
    *r->mutable_end_time() = ToProtoTimestamp(start + absl::Minutes(2));
    return e;
  }

  static v1::Event Error(const std::string& connector, const std::string& cs_guid,
                         std::optional<absl::Time> first, std::optional<absl::Time> last) {
    v1::Event e;
    v1::ExportError* x = e.mutable_export_error();
    x->set_connector_name(connector);
    x->set_cs_guid(cs_guid);
    x->set_error_type("AttributeValueMustBeUnique");
    if (first) *x->mutable_first_occurred() = ToProtoTimestamp(*first);
    if (last) *x->mutable_date_occurred() = ToProtoTimestamp(*last);
    return e;
  }

  static v1::Event Snapshot(const std::string& connector, const std::string& id,
                            absl::Time taken_at) {
    v1::Event e;
    v1::PendingExportSnapshot* s = e.mutable_pending_exports();
    s->set_snapshot_id(id);
    s->set_connector_name(connector);
    *s->mutable_taken_at() = ToProtoTimestamp(taken_at);
    return e;
  }

  // "server/connector/<run id>" of every stored run.
  std::vector<std::string> Runs() {
    return Names<v1::StoredRun>(Family::kRuns, [](const v1::StoredRun& r) {
      return r.server() + "/" + r.run().connector_name() + "/" + r.run().run_history_id();
    });
  }
  std::vector<std::string> Errors() {
    return Names<v1::StoredExportError>(Family::kExportErrors, [](const v1::StoredExportError& r) {
      return r.server() + "/" + r.error().connector_name() + "/" + r.error().cs_guid();
    });
  }
  std::vector<std::string> History() { return SnapshotNames(Family::kSnapshotHistory); }
  std::vector<std::string> Latest() { return SnapshotNames(Family::kSnapshots); }

  size_t Count(Family f) {
    size_t n = 0;
    auto it = store_->NewIterator(f, nullptr);
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return n;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StorageWriter> writer_;
  std::map<std::string, uint64_t> seq_;

 private:
  template <typename Message, typename NameFn>
  std::vector<std::string> Names(Family f, NameFn name) {
    std::vector<std::string> out;
    auto it = store_->NewIterator(f, nullptr);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      Message m;
      EXPECT_TRUE(m.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
      out.push_back(name(m));
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }

  std::vector<std::string> SnapshotNames(Family f) {
    return Names<v1::StoredPendingExports>(f, [](const v1::StoredPendingExports& r) {
      return r.server() + "/" + r.snapshot().connector_name() + "/" + r.snapshot().snapshot_id();
    });
  }
};

TEST_F(RetentionTest, DeletesRunsThatStartedBeforeTheWindowAndKeepsTheRest) {
  const absl::Time edge = Now() - 400 * kDay;
  Submit("sync01", {Run("AD", "outside", edge - absl::Seconds(1)),
                    Run("AD", "inside", edge + absl::Seconds(1)), Run("AD", "new", Now()),
                    Run("AAD", "old", edge - 30 * kDay), Run("AAD", "new", Now() - kDay)});
  Submit("sync02", {Run("AD", "old", edge - kDay), Run("AD", "new", Now() - kDay)});

  auto retention = MakeRetention();
  EXPECT_THAT(retention->RunOnce(), Deleted(3, 0, 0));
  EXPECT_THAT(Runs(), UnorderedElementsAre("sync01/AD/inside", "sync01/AD/new", "sync01/AAD/new",
                                           "sync02/AD/new"));
  EXPECT_EQ(retention->stats().runs_deleted.load(), 3u);
  EXPECT_EQ(retention->stats().passes.load(), 1u);

  // The window moves with the clock.
  clock_.Advance(absl::Seconds(2));
  EXPECT_THAT(retention->RunOnce(), Deleted(1, 0, 0));
  EXPECT_THAT(Runs(), UnorderedElementsAre("sync01/AD/new", "sync01/AAD/new", "sync02/AD/new"));
}

TEST_F(RetentionTest, DeletesInBoundedBatches) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 7; ++i) {
    events.push_back(Run("AD", "old" + std::to_string(i), Now() - 500 * kDay + absl::Hours(i)));
    events.push_back(
        Snapshot("AD", "old" + std::to_string(i), Now() - 100 * kDay + absl::Hours(i)));
    events.push_back(Error("AD", "guid-old" + std::to_string(i), std::nullopt,
                           Now() - 500 * kDay + absl::Hours(i)));
  }
  events.push_back(Run("AD", "new", Now()));
  events.push_back(Snapshot("AD", "new", Now()));
  events.push_back(Error("AD", "guid-new", std::nullopt, Now()));
  Submit("sync01", std::move(events));

  Retention::Options tuning;
  tuning.max_batch = 2;
  auto retention = MakeRetention({}, tuning);
  EXPECT_THAT(retention->RunOnce(), Deleted(7, 7, 7));
  EXPECT_THAT(Runs(), ElementsAre("sync01/AD/new"));
  EXPECT_THAT(History(), ElementsAre("sync01/AD/new"));
  EXPECT_THAT(Errors(), ElementsAre("sync01/AD/guid-new"));
}

TEST_F(RetentionTest, ExportErrorsAgeByTheirLastOccurrence) {
  const absl::Time edge = Now() - 400 * kDay;
  const absl::Time long_ago = edge - 100 * kDay;
  Submit("sync01", {Error("AD", "last-outside", long_ago, edge - absl::Seconds(1)),
                    Error("AD", "last-inside", long_ago, edge + absl::Seconds(1)),
                    // Without date_occurred, first_occurred is the last occurrence.
                    Error("AD", "first-only-outside", edge - absl::Seconds(1), std::nullopt),
                    Error("AD", "first-only-inside", edge + absl::Seconds(1), std::nullopt),
                    // Without any time its age is unknown: kept.
                    Error("AD", "no-time", std::nullopt, std::nullopt)});
  Submit("sync02", {Error("AD", "recent", long_ago, Now())});
  // Reported again: the writer keeps the new occurrence (and the first one).
  Submit("sync02", {Error("AD", "again", long_ago, long_ago)});
  Submit("sync02", {Error("AD", "again", std::nullopt, Now())});

  auto retention = MakeRetention();
  EXPECT_THAT(retention->RunOnce(), Deleted(0, 2, 0));
  EXPECT_THAT(Errors(),
              UnorderedElementsAre("sync01/AD/last-inside", "sync01/AD/first-only-inside",
                                   "sync01/AD/no-time", "sync02/AD/recent", "sync02/AD/again"));
  EXPECT_EQ(retention->stats().export_errors_deleted.load(), 2u);
}

TEST_F(RetentionTest, SnapshotHistoryIsPrunedButTheLatestSnapshotStays) {
  const absl::Time edge = Now() - 90 * kDay;
  Submit("sync01", {Snapshot("AD", "outside", edge - absl::Seconds(1)),
                    Snapshot("AD", "inside", edge + absl::Seconds(1)),
                    // AAD's only snapshot is old: its history goes, its latest stays.
                    Snapshot("AAD", "old", edge - 10 * kDay)});
  Submit("sync02", {Snapshot("AD", "old", edge - kDay), Snapshot("AD", "new", Now())});

  auto retention = MakeRetention();
  EXPECT_THAT(retention->RunOnce(), Deleted(0, 0, 3));
  EXPECT_THAT(History(), UnorderedElementsAre("sync01/AD/inside", "sync02/AD/new"));
  EXPECT_THAT(Latest(),
              UnorderedElementsAre("sync01/AD/inside", "sync01/AAD/old", "sync02/AD/new"));
  EXPECT_EQ(retention->stats().snapshots_deleted.load(), 3u);
}

TEST_F(RetentionTest, LeavesServersMarksAndAlertsAlone) {
  Submit("sync01", {Run("AD", "old", Now() - 500 * kDay)});
  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(Family::kAlerts), "scope/fingerprint", "alert");
  batch.Put(store_->cf(Family::kAlertOutbox), "receiver/seq", "notification");
  SYNCWATCH_ASSERT_OK(store_->Write(&batch));
  clock_.Advance(1000 * kDay);  // everything is old now

  auto retention = MakeRetention();
  EXPECT_THAT(retention->RunOnce(), Deleted(1, 0, 0));
  EXPECT_EQ(Count(Family::kServers), 1u);
  EXPECT_EQ(Count(Family::kAgentMarks), 1u);
  EXPECT_EQ(Count(Family::kAlerts), 1u);
  EXPECT_EQ(Count(Family::kAlertOutbox), 1u);
}

TEST_F(RetentionTest, ZeroDurationKeepsThatKindForever) {
  Submit("sync01", {Run("AD", "old", Now() - 5000 * kDay),
                    Error("AD", "old", std::nullopt, Now() - 5000 * kDay),
                    Snapshot("AD", "old", Now() - 5000 * kDay)});
  RetentionOptions options;
  options.runs = absl::ZeroDuration();
  options.snapshots = absl::ZeroDuration();
  auto retention = MakeRetention(options);
  EXPECT_THAT(retention->RunOnce(), Deleted(0, 1, 0));
  EXPECT_THAT(Runs(), ElementsAre("sync01/AD/old"));
  EXPECT_THAT(History(), ElementsAre("sync01/AD/old"));
  EXPECT_THAT(Errors(), IsEmpty());
}

TEST_F(RetentionTest, PassDuringIngestLosesNoNewRecord) {
  // Enough old records for the pass to take many small batches.
  constexpr int kOld = 3000;
  std::vector<v1::Event> old;
  for (int i = 0; i < kOld; ++i) {
    const absl::Time t = Now() - 500 * kDay + absl::Seconds(i);
    old.push_back(Run("AD", "old" + std::to_string(i), t));
    old.push_back(Error("AD", "old" + std::to_string(i), std::nullopt, t));
    old.push_back(Snapshot("AD", "old" + std::to_string(i), t));
  }
  Submit("sync01", std::move(old));

  Retention::Options tuning;
  tuning.max_batch = 50;
  auto retention = MakeRetention({}, tuning);
  // New records of the same connectors arrive, one batch at a time as from
  // live streams, while the pass runs.
  constexpr int kNew = 200;
  std::thread ingest([&] {
    // From the pass's first deletes on.
    ASSERT_TRUE(WaitFor([&] { return retention->stats().runs_deleted.load() > 0; }));
    for (int i = 0; i < kNew; ++i) {
      const std::string n = std::to_string(i);
      SYNCWATCH_EXPECT_OK(
          SubmitAsync("sync01",
                      {Run("AD", "new" + n, Now()), Error("AD", "new" + n, std::nullopt, Now()),
                       Snapshot("AD", "new" + n, Now() - absl::Seconds(i))})
              .get());
    }
  });
  absl::StatusOr<RetentionResult> result = retention->RunOnce();
  ingest.join();
  EXPECT_THAT(result, Deleted(kOld, kOld, kOld));

  std::vector<std::string> expected;
  for (int i = 0; i < kNew; ++i) expected.push_back("sync01/AD/new" + std::to_string(i));
  EXPECT_THAT(Runs(), UnorderedElementsAreArray(expected));
  EXPECT_THAT(Errors(), UnorderedElementsAreArray(expected));
  EXPECT_THAT(History(), UnorderedElementsAreArray(expected));
}

TEST_F(RetentionTest, BackgroundPassesFollowTheClock) {
  Submit("sync01", {Run("AD", "a", Now() - 400 * kDay - absl::Minutes(30))});
  RetentionOptions options;
  options.interval = absl::Hours(1);
  Retention::Options tuning;
  tuning.first_pass_delay = absl::Minutes(1);
  tuning.idle_poll = absl::Milliseconds(1);
  auto retention = MakeRetention(options, tuning);
  retention->Start();

  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(WaitFor([&] { return retention->stats().passes.load() == 1; }));
  EXPECT_EQ(retention->stats().runs_deleted.load(), 1u);

  // The next one ages out within the hour, and the next pass is due in one.
  Submit("sync01", {Run("AD", "b", Now() - 400 * kDay + absl::Minutes(30))});
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(WaitFor([&] { return retention->stats().passes.load() == 2; }));
  EXPECT_EQ(retention->stats().runs_deleted.load(), 2u);
  EXPECT_THAT(Runs(), IsEmpty());
  EXPECT_EQ(retention->stats().failures.load(), 0u);
}

TEST_F(RetentionTest, StopIsPromptAndEndsPasses) {
  Retention::Options tuning;
  tuning.idle_poll = absl::Hours(1);  // only Stop's signal can end the wait
  auto retention = MakeRetention({}, tuning);
  retention->Start();
  const auto start = std::chrono::steady_clock::now();
  retention->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(retention->stats().passes.load(), 0u);
  EXPECT_THAT(retention->RunOnce(), StatusIs(absl::StatusCode::kCancelled));
}

TEST(RetentionOptions, DefaultsAreValidAndBadValuesNameTheSetting) {
  RetentionOptions o;
  SYNCWATCH_EXPECT_OK(o.Validate());
  EXPECT_EQ(o.runs, 400 * kDay);
  EXPECT_EQ(o.export_errors, 400 * kDay);
  EXPECT_EQ(o.snapshots, 90 * kDay);
  EXPECT_EQ(o.interval, absl::Hours(1));
  o.snapshots = -kDay;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     ::testing::HasSubstr("retention.snapshots")));
  o = RetentionOptions();
  o.interval = absl::ZeroDuration();
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     ::testing::HasSubstr("retention.interval")));
}

TEST_F(RetentionTest, AnAdminsWindowsApplyFromTheNextPassAndSurviveARestart) {
  const absl::Time edge = Now() - 200 * kDay;
  Submit("sync01", {Run("AD", "old", edge - kDay), Run("AD", "new", edge + kDay)});
  auto retention = MakeRetention();  // runs: 400 days
  SYNCWATCH_ASSERT_OK(retention->LoadOverride());
  EXPECT_FALSE(retention->override_windows().has_value());
  EXPECT_THAT(retention->RunOnce(), Deleted(0, 0, 0));

  v1::RetentionWindows windows;
  *windows.mutable_runs() = ToProtoDuration(200 * kDay);
  SYNCWATCH_ASSERT_OK(retention->SetOverride(windows, "ops", Now()));
  EXPECT_EQ(retention->options().runs, 200 * kDay);
  EXPECT_EQ(retention->options().snapshots, RetentionOptions().snapshots);  // not set: the YAML's
  EXPECT_THAT(retention->RunOnce(), Deleted(1, 0, 0));
  EXPECT_THAT(Runs(), UnorderedElementsAre("sync01/AD/new"));

  // A restart: the stored windows win over the YAML's.
  retention.reset();
  retention = MakeRetention();
  EXPECT_EQ(retention->options().runs, RetentionOptions().runs);
  SYNCWATCH_ASSERT_OK(retention->LoadOverride());
  EXPECT_EQ(retention->options().runs, 200 * kDay);
  ASSERT_TRUE(retention->override_windows().has_value());
  EXPECT_EQ(retention->override_windows()->changed_by(), "ops");

  // Another change keeps the windows set before; a reset drops them all.
  v1::RetentionWindows off;
  *off.mutable_snapshots() = ToProtoDuration(absl::ZeroDuration());
  SYNCWATCH_ASSERT_OK(retention->SetOverride(off, "ops2", Now()));
  EXPECT_EQ(retention->options().runs, 200 * kDay);
  EXPECT_EQ(retention->options().snapshots, absl::ZeroDuration());
  SYNCWATCH_ASSERT_OK(retention->ClearOverride());
  EXPECT_EQ(retention->options().runs, RetentionOptions().runs);
  retention = MakeRetention();
  SYNCWATCH_ASSERT_OK(retention->LoadOverride());
  EXPECT_FALSE(retention->override_windows().has_value());
}

TEST_F(RetentionTest, ANegativeWindowIsRefusedAndChangesNothing) {
  auto retention = MakeRetention();
  v1::RetentionWindows windows;
  *windows.mutable_runs() = ToProtoDuration(-kDay);
  EXPECT_THAT(retention->SetOverride(windows, "ops", Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("retention.runs")));
  EXPECT_EQ(retention->options().runs, RetentionOptions().runs);
  EXPECT_FALSE(retention->override_windows().has_value());
}

}  // namespace
}  // namespace syncwatch::collector
