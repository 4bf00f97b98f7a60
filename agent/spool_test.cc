#include "agent/spool.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::testing::StatusIs;

v1::Event Ev(int i) {
  v1::Event e;
  e.set_source("runs");
  e.mutable_observed_at()->set_seconds(1700000000 + i);
  e.mutable_run()->set_connector_name("c" + std::to_string(i));
  return e;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> Open(Spool::Options o = {}) {
    auto s = Spool::Open(dir_.Sub("spool"), {"c1", "c2"}, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  testing::TempDir dir_;
};

TEST_F(SpoolTest, SplitsEventsIntoSequencedBatches) {
  Spool::Options o;
  o.batch_max_events = 2;
  auto spool = Open(o);
  SYNCWATCH_ASSERT_OK(spool->Append({Ev(1), Ev(2), Ev(3), Ev(4), Ev(5)}, std::nullopt));
  EXPECT_EQ(spool->LastSeq(), 3u);
  auto batches = spool->ReadAfter(0, 10);
  SYNCWATCH_ASSERT_OK(batches);
  ASSERT_EQ(batches->size(), 3u);
  EXPECT_EQ((*batches)[0].seq(), 1u);
  EXPECT_EQ((*batches)[0].events_size(), 2);
  EXPECT_EQ((*batches)[2].events_size(), 1);
  EXPECT_EQ((*spool->ReadAfter(1, 1))[0].seq(), 2u);
}

TEST_F(SpoolTest, KeepsBatchesUntilEveryCollectorAcked) {
  auto spool = Open();
  SYNCWATCH_ASSERT_OK(spool->Append({Ev(1)}, std::nullopt));
  SYNCWATCH_ASSERT_OK(spool->Append({Ev(2)}, std::nullopt));
  SYNCWATCH_ASSERT_OK(spool->Ack("c1", 2));
  EXPECT_FALSE(spool->AllHandled());
  EXPECT_EQ(spool->ReadAfter(0, 10)->size(), 2u);  // c2 still needs them
  SYNCWATCH_ASSERT_OK(spool->Ack("c2", 1));
  EXPECT_EQ(spool->ReadAfter(0, 10)->size(), 1u);
  SYNCWATCH_ASSERT_OK(spool->Ack("c2", 2));
  EXPECT_TRUE(spool->AllHandled());
  EXPECT_EQ(spool->BytesUsed(), 0u);
}

TEST_F(SpoolTest, SurvivesReopenWithEpochSeqAndAcks) {
  std::string epoch;
  {
    auto spool = Open();
    epoch = spool->epoch();
    SYNCWATCH_ASSERT_OK(spool->Append({Ev(1)}, Spool::InputMark{"runs:/a.xml", "10:1"}));
    SYNCWATCH_ASSERT_OK(spool->Append({Ev(2)}, std::nullopt));
    SYNCWATCH_ASSERT_OK(spool->Ack("c1", 1));
    SYNCWATCH_ASSERT_OK(spool->Ack("c2", 1));
  }
  auto spool = Open();
  EXPECT_EQ(spool->epoch(), epoch);
  EXPECT_EQ(spool->LastSeq(), 2u);
  EXPECT_EQ(spool->AckedSeq("c1"), 1u);
  auto batches = spool->ReadAfter(0, 10);
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].seq(), 2u);
  EXPECT_TRUE(spool->IsRead({"runs:/a.xml", "10:1"}));
  EXPECT_FALSE(spool->IsRead({"runs:/a.xml", "11:1"}));
  SYNCWATCH_ASSERT_OK(spool->Append({Ev(3)}, std::nullopt));
  EXPECT_EQ(spool->LastSeq(), 3u);  // numbering goes on after the restart
}

TEST_F(SpoolTest, RefusesBeyondItsBudgetAndSpoolsNothingOfThatInput) {
  Spool::Options o;
  o.max_bytes = 300;
  auto spool = Open(o);
  std::vector<v1::Event> many;
  for (int i = 0; i < 50; ++i) many.push_back(Ev(i));
  EXPECT_THAT(spool->Append(many, Spool::InputMark{"runs:/big.xml", "1"}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(spool->LastSeq(), 0u);
  EXPECT_FALSE(spool->IsRead({"runs:/big.xml", "1"}));
  SYNCWATCH_EXPECT_OK(spool->Append({Ev(1)}, std::nullopt));
}

TEST_F(SpoolTest, LowPriorityEventsGiveWayBeforeTheBudgetIsReached) {
  Spool::Options o;
  o.max_bytes = 2000;
  o.low_priority_share = 0.5;
  o.batch_max_events = 1;
  auto spool = Open(o);
  // Fill past half the budget with run history (normal priority).
  for (int i = 0; spool->BytesUsed() <= 1100 && i < 1000; ++i) {
    SYNCWATCH_ASSERT_OK(spool->Append({Ev(i)}, std::nullopt));
  }
  ASSERT_GT(spool->BytesUsed(), 1000u);
  ASSERT_LT(spool->BytesUsed(), 1900u);
  EXPECT_THAT(spool->Append({Ev(100)}, std::nullopt, Spool::Priority::kLow),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(spool->low_priority_refused(), 1u);
  // Normal events still fit in the rest of the budget.
  SYNCWATCH_EXPECT_OK(spool->Append({Ev(101)}, std::nullopt));
  // Once collectors acknowledge, low-priority events are welcome again.
  SYNCWATCH_ASSERT_OK(spool->Ack("c1", spool->LastSeq()));
  SYNCWATCH_ASSERT_OK(spool->Ack("c2", spool->LastSeq()));
  SYNCWATCH_EXPECT_OK(spool->Append({Ev(102)}, std::nullopt, Spool::Priority::kLow));
}

TEST_F(SpoolTest, RefusalCountsAsHandledAndIsRemembered) {
  auto spool = Open();
  SYNCWATCH_ASSERT_OK(spool->Append({Ev(1)}, std::nullopt));
  SYNCWATCH_ASSERT_OK(spool->Refuse("c1", 1, "event 0 (run): result is empty"));
  SYNCWATCH_ASSERT_OK(spool->Ack("c2", 1));
  EXPECT_TRUE(spool->AllHandled());
  ASSERT_EQ(spool->Refusals().size(), 1u);
  EXPECT_THAT(spool->Refusals()[0], ::testing::HasSubstr("batch 1 refused by c1: event 0"));
}

}  // namespace
}  // namespace syncwatch::agent
