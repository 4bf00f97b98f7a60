#include "collector/alerts/alert_store.h"

#include <memory>
#include <string>
#include <vector>

#include "collector/alerts/alert.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector::alerts {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1714550400);

v1::Alert Alert(const std::string& name, const std::string& server,
                const std::string& summary = "something") {
  return AlertBuilder(name, kWarning).Server(server).Summary(summary).Build();
}

const std::set<std::string> kOwned = {"A", "B"};

class AlertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open({"r1", "r2"}); }

  void Open(std::vector<std::string> receivers) {
    alerts_.reset();
    store_.reset();
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto alerts = AlertStore::Open(*store_, std::move(receivers));
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    alerts_ = *std::move(alerts);
  }

  AlertStore::Changes Reconcile(const std::vector<v1::Alert>& current, absl::Time now,
                                const std::string& scope = "server/sync01") {
    auto changes = alerts_->Reconcile(scope, kOwned, current, now);
    EXPECT_TRUE(changes.ok()) << changes.status();
    return changes.ok() ? *changes : AlertStore::Changes();
  }

  std::vector<OutboxEntry> Outbox(const std::string& receiver) {
    auto entries = alerts_->PeekOutbox(receiver, 100);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<OutboxEntry>();
  }

  std::vector<v1::Alert> All() {
    auto all = alerts_->List("", std::nullopt);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<v1::Alert>();
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AlertStore> alerts_;
};

TEST_F(AlertStoreTest, FiringAndResolvingQueueOneNotificationPerReceiver) {
  AlertStore::Changes c = Reconcile({Alert("A", "sync01")}, kT0);
  EXPECT_EQ(c.fired, 1);
  ASSERT_THAT(Outbox("r1"), SizeIs(1));
  ASSERT_THAT(Outbox("r2"), SizeIs(1));
  EXPECT_EQ(Outbox("r1")[0].alert.state(), v1::ALERT_STATE_FIRING);

  c = Reconcile({}, kT0 + absl::Minutes(5));
  EXPECT_EQ(c.resolved, 1);
  const auto r1 = Outbox("r1");
  ASSERT_THAT(r1, SizeIs(2));
  EXPECT_LT(r1[0].seq, r1[1].seq);
  EXPECT_EQ(r1[1].alert.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(FromProtoTimestamp(r1[1].alert.resolved_at()), kT0 + absl::Minutes(5));

  const auto all = All();
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_EQ(all[0].state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(FromProtoTimestamp(all[0].started_at()), kT0);
  EXPECT_EQ(FromProtoTimestamp(all[0].last_change()), kT0 + absl::Minutes(5));
  EXPECT_EQ(all[0].scope(), "server/sync01");
}

TEST_F(AlertStoreTest, TheSameAlertsAgainChangeNothing) {
  Reconcile({Alert("A", "sync01")}, kT0);
  AlertStore::Changes c = Reconcile({Alert("A", "sync01")}, kT0 + absl::Minutes(1));
  EXPECT_EQ(c.fired + c.resolved + c.updated, 0);
  EXPECT_THAT(Outbox("r1"), SizeIs(1));
  EXPECT_EQ(FromProtoTimestamp(All()[0].started_at()), kT0);
}

TEST_F(AlertStoreTest, NewDetailsUpdateTheRecordWithoutANotification) {
  Reconcile({Alert("A", "sync01", "501 pending deletes")}, kT0);
  AlertStore::Changes c =
      Reconcile({Alert("A", "sync01", "700 pending deletes")}, kT0 + absl::Minutes(1));
  EXPECT_EQ(c.updated, 1);
  EXPECT_EQ(c.fired, 0);
  EXPECT_THAT(Outbox("r1"), SizeIs(1));
  EXPECT_EQ(All()[0].summary(), "700 pending deletes");
  EXPECT_EQ(FromProtoTimestamp(All()[0].started_at()), kT0);
}

TEST_F(AlertStoreTest, ARestartNeitherLosesNorRefires) {
  Reconcile({Alert("A", "sync01"), Alert("B", "sync01")}, kT0);
  Open({"r1", "r2"});  // the collector restarts
  ASSERT_THAT(All(), SizeIs(2));
  AlertStore::Changes c =
      Reconcile({Alert("A", "sync01"), Alert("B", "sync01")}, kT0 + absl::Hours(1));
  EXPECT_EQ(c.fired, 0);
  EXPECT_THAT(Outbox("r1"), SizeIs(2));  // the two undelivered ones, not four
  // Sequence numbers go on after the restart: new entries queue behind old ones.
  Reconcile({Alert("A", "sync01")}, kT0 + absl::Hours(2));
  const auto r1 = Outbox("r1");
  ASSERT_THAT(r1, SizeIs(3));
  EXPECT_EQ(r1[2].alert.name(), "B");
  EXPECT_EQ(r1[2].alert.state(), v1::ALERT_STATE_RESOLVED);
}

TEST_F(AlertStoreTest, FiringNamesAreThoseOfTheScopeFiringNow) {
  Reconcile({Alert("A", "sync01"), Alert("B", "sync01")}, kT0);
  Reconcile({Alert("A", "sync010")}, kT0, "server/sync010");
  EXPECT_THAT(alerts_->FiringNames("server/sync01"), ElementsAre("A", "B"));
  EXPECT_THAT(alerts_->FiringNames("server/sync010"), ElementsAre("A"));
  Reconcile({Alert("B", "sync01")}, kT0 + absl::Minutes(1));  // A resolves
  EXPECT_THAT(alerts_->FiringNames("server/sync01"), ElementsAre("B"));
  EXPECT_THAT(alerts_->FiringNames("server/nosuch"), IsEmpty());
  // Rebuilt from the store after a restart.
  Open({"r1", "r2"});
  EXPECT_THAT(alerts_->FiringNames("server/sync01"), ElementsAre("B"));
}

TEST_F(AlertStoreTest, OnlyOwnedNamesOfTheScopeResolve) {
  Reconcile({Alert("A", "sync01")}, kT0);
  // Another evaluation owns "C" and leaves "A" alone...
  auto c = alerts_->Reconcile("server/sync01", {"C"}, {Alert("C", "sync01")}, kT0);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->fired, 1);
  EXPECT_EQ(c->resolved, 0);
  // ...and one that owns "A" only leaves C firing.
  c = alerts_->Reconcile("server/sync01", {"A"}, {}, kT0 + absl::Minutes(1));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->resolved, 1);
  auto firing = alerts_->List("server/sync01", v1::ALERT_STATE_FIRING);
  ASSERT_TRUE(firing.ok());
  ASSERT_THAT(*firing, SizeIs(1));
  EXPECT_EQ((*firing)[0].name(), "C");
  // Other scopes are untouched.
  Reconcile({Alert("A", "sync02")}, kT0, "server/sync02");
  Reconcile({}, kT0 + absl::Minutes(2), "server/sync01");
  auto other = alerts_->List("server/sync02", v1::ALERT_STATE_FIRING);
  ASSERT_TRUE(other.ok());
  EXPECT_THAT(*other, SizeIs(1));
}

TEST_F(AlertStoreTest, FiringAgainStartsANewEpisodeAndKeepsFirstSeen) {
  Reconcile({Alert("A", "sync01")}, kT0);
  Reconcile({}, kT0 + absl::Minutes(10));
  Reconcile({Alert("A", "sync01")}, kT0 + absl::Minutes(20));
  const auto all = All();
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_EQ(all[0].state(), v1::ALERT_STATE_FIRING);
  EXPECT_EQ(FromProtoTimestamp(all[0].started_at()), kT0 + absl::Minutes(20));
  EXPECT_EQ(FromProtoTimestamp(all[0].first_seen()), kT0);
  EXPECT_FALSE(all[0].has_resolved_at());
  EXPECT_THAT(Outbox("r1"), SizeIs(3));
}

TEST_F(AlertStoreTest, CompletingTheOutboxRemovesEntriesAndRecordsTheDelivery) {
  Reconcile({Alert("A", "sync01")}, kT0);
  const auto entries = Outbox("r1");
  SYNCWATCH_ASSERT_OK(alerts_->CompleteOutbox("r1", entries, kT0 + absl::Seconds(3)));
  EXPECT_THAT(Outbox("r1"), IsEmpty());
  EXPECT_THAT(Outbox("r2"), SizeIs(1));
  EXPECT_EQ(FromProtoTimestamp(All()[0].last_delivery()), kT0 + absl::Seconds(3));
  EXPECT_EQ(alerts_->OutboxSizes().at("r1"), 0u);
  EXPECT_EQ(alerts_->OutboxSizes().at("r2"), 1u);
}

TEST_F(AlertStoreTest, EntriesOfRemovedReceiversAreDroppedOnOpen) {
  Reconcile({Alert("A", "sync01")}, kT0);
  Open({"r2", "r3"});
  EXPECT_THAT(Outbox("r1"), IsEmpty());
  EXPECT_THAT(Outbox("r2"), SizeIs(1));
  EXPECT_THAT(Outbox("r3"), IsEmpty());
}

TEST_F(AlertStoreTest, PurgesResolvedAlertsPastRetention) {
  Reconcile({Alert("A", "sync01"), Alert("B", "sync01")}, kT0);
  Reconcile({Alert("B", "sync01")}, kT0 + absl::Hours(1));  // A resolves
  auto purged = alerts_->PurgeResolved(kT0 + absl::Minutes(30));
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);
  purged = alerts_->PurgeResolved(kT0 + absl::Hours(2));
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  const auto all = All();
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_EQ(all[0].name(), "B");
}

TEST_F(AlertStoreTest, ListsScopes) {
  Reconcile({Alert("A", "sync01")}, kT0, "server/sync01");
  Reconcile({Alert("A", "sync02")}, kT0, "server/sync02");
  Reconcile({Alert("A", "x")}, kT0, "tenant/contoso");
  auto scopes = alerts_->Scopes();
  ASSERT_TRUE(scopes.ok());
  EXPECT_THAT(*scopes, ElementsAre("server/sync01", "server/sync02", "tenant/contoso"));
}

// ---- acks and silences ----

v1::Silence SilenceFor(const std::string& server, absl::Time ends_at) {
  v1::Silence silence;
  silence.set_server(server);
  silence.set_comment("maintenance");
  silence.set_created_by("ops");
  *silence.mutable_ends_at() = ToProtoTimestamp(ends_at);
  return silence;
}

TEST_F(AlertStoreTest, AckRecordsWhoAndWhenAndANewEpisodeStartsWithout) {
  Reconcile({Alert("A", "sync01")}, kT0);
  const std::string id = All()[0].fingerprint();
  auto acked = alerts_->Ack(id, "ops-oncall", "looking", kT0 + absl::Minutes(1));
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->ack().by(), "ops-oncall");
  EXPECT_EQ(acked->ack().comment(), "looking");
  EXPECT_EQ(FromProtoTimestamp(acked->ack().at()), kT0 + absl::Minutes(1));
  // The same ack again (every collector, or a re-run) keeps the first time;
  // another comment replaces it.
  acked = alerts_->Ack(id, "ops-oncall", "looking", kT0 + absl::Minutes(2));
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(FromProtoTimestamp(All()[0].ack().at()), kT0 + absl::Minutes(1));
  acked = alerts_->Ack(id, "ops-oncall", "found it", kT0 + absl::Minutes(2));
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(All()[0].ack().comment(), "found it");
  EXPECT_EQ(FromProtoTimestamp(All()[0].ack().at()), kT0 + absl::Minutes(2));

  // Still firing with new details: the ack stays, and no notification.
  Reconcile({Alert("A", "sync01", "changed")}, kT0 + absl::Minutes(2));
  EXPECT_EQ(All()[0].ack().by(), "ops-oncall");
  EXPECT_THAT(Outbox("r1"), SizeIs(1));

  Reconcile({}, kT0 + absl::Minutes(3));                      // resolves
  Reconcile({Alert("A", "sync01")}, kT0 + absl::Minutes(4));  // a new episode
  EXPECT_FALSE(All()[0].has_ack());
}

TEST_F(AlertStoreTest, AckOfAnUnknownOrResolvedAlertSaysWhy) {
  EXPECT_THAT(alerts_->Ack("0123456789abcdef", "ops", "", kT0),
              testing::StatusIs(absl::StatusCode::kNotFound,
                                ::testing::HasSubstr("no alert has the id \"0123456789abcdef\"")));
  Reconcile({Alert("A", "sync01")}, kT0);
  Reconcile({}, kT0 + absl::Minutes(1));
  EXPECT_THAT(alerts_->Ack(All()[0].fingerprint(), "ops", "", kT0 + absl::Minutes(2)),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                ::testing::HasSubstr("only a firing alert can be acknowledged")));
}

TEST_F(AlertStoreTest, ASilenceNeedsAMatcherAndAnEndInTheFuture) {
  v1::Silence none;
  *none.mutable_ends_at() = ToProtoTimestamp(kT0 + absl::Hours(1));
  EXPECT_THAT(alerts_->AddSilence(none, kT0),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("at least one matcher")));
  EXPECT_THAT(alerts_->AddSilence(SilenceFor("sync01", kT0), kT0),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("not in the future")));
  EXPECT_THAT(alerts_->Silences(kT0), IsEmpty());
}

TEST_F(AlertStoreTest, SilencedChangesAreStoredButNotQueuedUntilTheSilenceEnds) {
  auto silence = alerts_->AddSilence(SilenceFor("sync01", kT0 + absl::Hours(1)), kT0);
  ASSERT_TRUE(silence.ok()) << silence.status();
  EXPECT_EQ(silence->id().size(), 16u);

  AlertStore::Changes c =
      Reconcile({Alert("A", "sync01"), Alert("B", "sync02")}, kT0, "server/sync01");
  EXPECT_EQ(c.fired, 2);
  EXPECT_EQ(c.withheld, 1);
  ASSERT_THAT(Outbox("r1"), SizeIs(1));
  EXPECT_EQ(Outbox("r1")[0].alert.server(), "sync02");
  const std::vector<v1::Alert> all = All();
  ASSERT_THAT(all, SizeIs(2));
  const v1::Alert& silenced = all[0].server() == "sync01" ? all[0] : all[1];
  EXPECT_EQ(silenced.state(), v1::ALERT_STATE_FIRING);
  EXPECT_TRUE(alerts_->Silenced(silenced, kT0));
  v1::Alert marked = silenced;
  alerts_->MarkSilenced(&marked, kT0);
  EXPECT_THAT(marked.silenced_by(), ElementsAre(silence->id()));

  // Not yet over: nothing happens.
  auto ended = alerts_->EndExpiredSilences(kT0 + absl::Minutes(59));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 0);
  // Over while the alert still fires: its firing is queued now, once.
  ended = alerts_->EndExpiredSilences(kT0 + absl::Hours(1));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 1);
  ASSERT_THAT(Outbox("r2"), SizeIs(2));
  EXPECT_EQ(Outbox("r2")[1].alert.server(), "sync01");
  EXPECT_EQ(Outbox("r2")[1].alert.state(), v1::ALERT_STATE_FIRING);
  EXPECT_THAT(alerts_->Silences(kT0), IsEmpty());
  ended = alerts_->EndExpiredSilences(kT0 + absl::Hours(2));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 0);
  EXPECT_THAT(Outbox("r2"), SizeIs(2));
}

TEST_F(AlertStoreTest, DeletingASilenceSendsTheResolutionTheReceiversMissed) {
  Reconcile({Alert("A", "sync01")}, kT0);  // firing: queued
  auto silence = alerts_->AddSilence(SilenceFor("sync01", kT0 + absl::Hours(4)), kT0);
  ASSERT_TRUE(silence.ok());
  Reconcile({}, kT0 + absl::Minutes(5));  // resolved: withheld
  EXPECT_THAT(Outbox("r1"), SizeIs(1));
  auto removed = alerts_->RemoveSilence(silence->id(), kT0 + absl::Minutes(10));
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_THAT(Outbox("r1"), SizeIs(2));
  EXPECT_EQ(Outbox("r1")[1].alert.state(), v1::ALERT_STATE_RESOLVED);
  // Removing it again (the CLI repeated on every collector) is harmless.
  bool already_ended = false;
  auto again = alerts_->RemoveSilence(silence->id(), kT0 + absl::Minutes(11), &already_ended);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(already_ended);
  EXPECT_EQ(again->id(), silence->id());
  EXPECT_THAT(Outbox("r1"), SizeIs(2));
  EXPECT_THAT(alerts_->Silences(kT0 + absl::Minutes(11)), IsEmpty());
  EXPECT_THAT(alerts_->RemoveSilence("0123456789abcdef", kT0 + absl::Minutes(11)),
              testing::StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AlertStoreTest, ARepeatedSilenceWithTheSameIdAndContentChangesNothing) {
  v1::Silence wanted = SilenceFor("sync01", kT0 + absl::Hours(4));
  wanted.set_id("maint-2024.05_01");
  bool existed = true;
  auto first = alerts_->AddSilence(wanted, kT0, &existed);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(existed);
  EXPECT_EQ(first->id(), "maint-2024.05_01");

  // The same request a minute later (a re-run): the stored one, unchanged.
  v1::Silence repeat = wanted;
  repeat.set_created_by("someone-else");
  auto second = alerts_->AddSilence(repeat, kT0 + absl::Minutes(1), &existed);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(existed);
  EXPECT_EQ(FromProtoTimestamp(second->starts_at()), kT0);
  EXPECT_EQ(second->created_by(), "ops");
  ASSERT_THAT(alerts_->Silences(kT0 + absl::Minutes(1)), SizeIs(1));

  // The same id for something else is refused, naming the silence it has.
  v1::Silence other = wanted;
  *other.mutable_ends_at() = ToProtoTimestamp(kT0 + absl::Hours(5));
  EXPECT_THAT(
      alerts_->AddSilence(other, kT0 + absl::Minutes(1)),
      testing::StatusIs(absl::StatusCode::kAlreadyExists,
                        ::testing::HasSubstr("the silence id \"maint-2024.05_01\" is "
                                             "taken by another silence (server \"sync01\"")));
  other = wanted;
  other.set_alert_name("AgentSilent");
  EXPECT_THAT(alerts_->AddSilence(other, kT0 + absl::Minutes(1)),
              testing::StatusIs(absl::StatusCode::kAlreadyExists));

  // Once ended, a late repeat does not bring it back, before or after a reopen.
  ASSERT_TRUE(alerts_->RemoveSilence(wanted.id(), kT0 + absl::Minutes(2)).ok());
  Open({"r1", "r2"});
  EXPECT_THAT(alerts_->AddSilence(wanted, kT0 + absl::Minutes(3)),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                ::testing::HasSubstr("was ended at")));
  bool already_ended = false;
  ASSERT_TRUE(alerts_->RemoveSilence(wanted.id(), kT0 + absl::Minutes(3), &already_ended).ok());
  EXPECT_TRUE(already_ended);
  EXPECT_THAT(alerts_->Silences(kT0 + absl::Minutes(3)), IsEmpty());
  Reconcile({Alert("A", "sync01")}, kT0 + absl::Minutes(3));
  EXPECT_THAT(Outbox("r1"), SizeIs(1));

  // Its record goes when its time is up; then the id is free again.
  auto ended = alerts_->EndExpiredSilences(kT0 + absl::Hours(4));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 0);
  EXPECT_THAT(alerts_->RemoveSilence(wanted.id(), kT0 + absl::Hours(4)),
              testing::StatusIs(absl::StatusCode::kNotFound));
  *wanted.mutable_ends_at() = ToProtoTimestamp(kT0 + absl::Hours(6));
  EXPECT_TRUE(alerts_->AddSilence(wanted, kT0 + absl::Hours(4)).ok());
}

TEST_F(AlertStoreTest, AClientChosenSilenceIdMustBeAPlainWord) {
  for (const std::string& bad : {std::string("has space"), std::string("a/b"), std::string(65, 'a'),
                                 std::string("caf\xc3\xa9")}) {
    v1::Silence silence = SilenceFor("sync01", kT0 + absl::Hours(1));
    silence.set_id(bad);
    EXPECT_THAT(alerts_->AddSilence(silence, kT0),
                testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                  ::testing::HasSubstr("bad silence id")))
        << bad;
  }
  EXPECT_THAT(alerts_->Silences(kT0), IsEmpty());
}

TEST_F(AlertStoreTest, AnEpisodeWhollyInsideASilenceIsNeverSent) {
  auto silence = alerts_->AddSilence(SilenceFor("sync01", kT0 + absl::Hours(1)), kT0);
  ASSERT_TRUE(silence.ok());
  Reconcile({Alert("A", "sync01")}, kT0);
  Reconcile({}, kT0 + absl::Minutes(5));
  ASSERT_TRUE(alerts_->EndExpiredSilences(kT0 + absl::Hours(1)).ok());
  EXPECT_THAT(Outbox("r1"), IsEmpty());
  EXPECT_FALSE(All()[0].notification_withheld());
}

TEST_F(AlertStoreTest, SilencesSurviveAReopen) {
  auto silence = alerts_->AddSilence(SilenceFor("sync01", kT0 + absl::Hours(1)), kT0);
  ASSERT_TRUE(silence.ok());
  Open({"r1", "r2"});
  const std::vector<v1::Silence> silences = alerts_->Silences(kT0);
  ASSERT_THAT(silences, SizeIs(1));
  EXPECT_EQ(silences[0].id(), silence->id());
  EXPECT_EQ(silences[0].created_by(), "ops");
  Reconcile({Alert("A", "sync01")}, kT0);
  EXPECT_THAT(Outbox("r1"), IsEmpty());
}

}  // namespace
}  // namespace syncwatch::collector::alerts
