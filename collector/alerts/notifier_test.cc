#include "collector/alerts/notifier.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/alerts/alert.h"
#include "collector/alerts/test_receiver.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector::alerts {
namespace {

using ::syncwatch::testing::FakeClock;
using ::syncwatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using Json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1714550400);  // 2024-05-01T08:00:00Z

v1::Alert FiringAlert() {
  v1::Alert a = AlertBuilder(kPendingDeletesOverThreshold, kCritical)
                    .Server("sync01")
                    .Tenant("contoso.onmicrosoft.com")
                    .Connector("contoso.onmicrosoft.com - AAD")
                    .Role(v1::SERVER_ROLE_ACTIVE)
                    .Summary("600 pending deletes exceed the deletion threshold of 500")
                    .Description("600 pending deletes.\n- CN={1} (a@contoso.com)")
                    .Build();
  a.set_state(v1::ALERT_STATE_FIRING);
  a.set_scope("server/sync01");
  *a.mutable_started_at() = ToProtoTimestamp(kT0);
  return a;
}

v1::Alert Resolved(v1::Alert a, absl::Time at) {
  a.set_state(v1::ALERT_STATE_RESOLVED);
  *a.mutable_resolved_at() = ToProtoTimestamp(at);
  return a;
}

TEST(AlertmanagerPayload, HasTheV2Shape) {
  const v1::Alert firing = FiringAlert();
  const v1::Alert resolved = Resolved(FiringAlert(), kT0 + absl::Minutes(7));
  const Json body = Json::parse(AlertmanagerPayload({firing, resolved}, kT0 + absl::Minutes(10),
                                                    absl::Minutes(1), "http://collector:9464/"));
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.size(), 2u);
  const Json& a = body[0];
  EXPECT_EQ(a["labels"]["alertname"], "PendingDeletesOverThreshold");
  EXPECT_EQ(a["labels"]["severity"], "critical");
  EXPECT_EQ(a["labels"]["server"], "sync01");
  EXPECT_EQ(a["labels"]["tenant"], "contoso.onmicrosoft.com");
  EXPECT_EQ(a["labels"]["connector"], "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(a["labels"]["role"], "active");
  EXPECT_EQ(a["annotations"]["summary"],
            "600 pending deletes exceed the deletion threshold of 500");
  EXPECT_EQ(a["startsAt"], "2024-05-01T08:00:00.000Z");
  // Firing: endsAt 4 re-send intervals ahead of now.
  EXPECT_EQ(a["endsAt"], "2024-05-01T08:14:00.000Z");
  EXPECT_EQ(a["generatorURL"], "http://collector:9464/");
  EXPECT_EQ(body[1]["endsAt"], "2024-05-01T08:07:00.000Z");

  const Json without_url = Json::parse(AlertmanagerPayload({firing}, kT0, absl::Minutes(1), ""));
  EXPECT_FALSE(without_url[0].contains("generatorURL"));
}

TEST(WebhookPayload, JsonCarriesTheAlert) {
  const Json body = Json::parse(WebhookPayload(FiringAlert(), WebhookFormat::kJson));
  EXPECT_EQ(body["status"], "firing");
  ASSERT_EQ(body["alerts"].size(), 1u);
  const Json& a = body["alerts"][0];
  EXPECT_EQ(a["name"], "PendingDeletesOverThreshold");
  EXPECT_EQ(a["severity"], "critical");
  EXPECT_EQ(a["state"], "firing");
  EXPECT_EQ(a["server"], "sync01");
  EXPECT_EQ(a["labels"]["role"], "active");
  EXPECT_EQ(a["started_at"], "2024-05-01T08:00:00.000Z");
  EXPECT_TRUE(a["resolved_at"].is_null());
  const Json resolved = Json::parse(
      WebhookPayload(Resolved(FiringAlert(), kT0 + absl::Hours(1)), WebhookFormat::kJson));
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["alerts"][0]["resolved_at"], "2024-05-01T09:00:00.000Z");
}

TEST(WebhookPayload, SlackAndTeamsLegacyGetAText) {
  for (WebhookFormat format : {WebhookFormat::kSlack, WebhookFormat::kTeamsLegacy}) {
    const Json body = Json::parse(WebhookPayload(FiringAlert(), format));
    ASSERT_TRUE(body.contains("text"));
    const std::string text = body["text"];
    EXPECT_THAT(text, HasSubstr("[FIRING] critical"));
    EXPECT_THAT(text, HasSubstr("PendingDeletesOverThreshold"));
    EXPECT_THAT(text, HasSubstr("600 pending deletes exceed the deletion threshold of 500"));
    EXPECT_THAT(text, HasSubstr("server sync01"));
    EXPECT_THAT(text, HasSubstr("CN={1} (a@contoso.com)"));
    const std::string resolved =
        Json::parse(WebhookPayload(Resolved(FiringAlert(), kT0), format))["text"];
    EXPECT_THAT(resolved, HasSubstr("[RESOLVED]"));
  }
  // Teams renders single line breaks as spaces: paragraphs need two.
  const std::string teams =
      Json::parse(WebhookPayload(FiringAlert(), WebhookFormat::kTeamsLegacy))["text"];
  EXPECT_THAT(teams, HasSubstr("600 pending deletes.\n\n- CN={1}"));
}

// The fields the Adaptive Card schema requires (adaptivecards.io/schemas/
// adaptive-card.json; schema explorer: AdaptiveCard needs type and version,
// TextBlock type and text, FactSet type and facts, Fact title and value),
// and the message envelope a Teams Workflows webhook takes. Returns the
// card's body.
Json CheckTeamsMessage(const std::string& payload) {
  const Json m = Json::parse(payload);
  EXPECT_EQ(m.value("type", ""), "message");
  EXPECT_TRUE(m["attachments"].is_array());
  if (!m["attachments"].is_array() || m["attachments"].size() != 1u) {
    ADD_FAILURE() << "want one attachment: " << payload;
    return Json::array();
  }
  const Json& a = m["attachments"][0];
  EXPECT_EQ(a.value("contentType", ""), "application/vnd.microsoft.card.adaptive");
  const Json& card = a["content"];
  EXPECT_EQ(card.value("type", ""), "AdaptiveCard");
  EXPECT_EQ(card.value("$schema", ""), "http://adaptivecards.io/schemas/adaptive-card.json");
  EXPECT_TRUE(card["version"].is_string());
  EXPECT_TRUE(card["body"].is_array());
  for (const Json& e : card["body"]) {
    EXPECT_TRUE(e["type"].is_string()) << e.dump();
    const std::string type = e.value("type", "");
    if (type == "TextBlock") {
      EXPECT_TRUE(e["text"].is_string()) << e.dump();
    } else if (type == "FactSet") {
      EXPECT_TRUE(e["facts"].is_array() && !e["facts"].empty()) << e.dump();
      for (const Json& f : e["facts"]) {
        EXPECT_TRUE(f["title"].is_string() && f["value"].is_string()) << f.dump();
      }
    } else {
      ADD_FAILURE() << "unexpected element " << e.dump();
    }
  }
  return card["body"];
}

std::vector<std::string> Texts(const Json& body) {
  std::vector<std::string> out;
  for (const Json& e : body) {
    if (e.value("type", "") == "TextBlock") out.push_back(e["text"]);
  }
  return out;
}

std::map<std::string, std::string> Facts(const Json& body) {
  std::map<std::string, std::string> out;
  for (const Json& e : body) {
    if (e.value("type", "") != "FactSet") continue;
    for (const Json& f : e["facts"]) out[f["title"]] = f["value"];
  }
  return out;
}

TEST(WebhookPayload, TeamsGetsAnAdaptiveCardForFiringAndResolved) {
  v1::Alert alert = FiringAlert();
  (*alert.mutable_annotations())["pending_deletes"] = "600";
  (*alert.mutable_annotations())["deletion_threshold"] = "500";
  (*alert.mutable_annotations())["objects"] = "CN={1} (a@contoso.com)\nCN={2} (b@contoso.com)";
  const Json firing = CheckTeamsMessage(WebhookPayload(alert, WebhookFormat::kTeams));
  EXPECT_THAT(Texts(firing), ElementsAre("FIRING · critical", "PendingDeletesOverThreshold",
                                         "600 pending deletes exceed the deletion threshold of 500",
                                         "Objects (first 2 of 600)", "CN={1} (a@contoso.com)",
                                         "CN={2} (b@contoso.com)", "… and 598 more"));
  EXPECT_EQ(firing[0].value("color", ""), "Attention");
  EXPECT_EQ(Facts(firing),
            (std::map<std::string, std::string>{{"Server", "sync01"},
                                                {"Tenant", "contoso.onmicrosoft.com"},
                                                {"Connector", "contoso.onmicrosoft.com - AAD"},
                                                {"Role", "active"},
                                                {"Pending deletes", "600"},
                                                {"Deletion threshold", "500"}}));

  const Json resolved = CheckTeamsMessage(
      WebhookPayload(Resolved(alert, kT0 + absl::Hours(1)), WebhookFormat::kTeams));
  const std::vector<std::string> texts = Texts(resolved);
  ASSERT_GE(texts.size(), 4u);
  EXPECT_EQ(texts[0], "RESOLVED");
  EXPECT_EQ(resolved[0].value("color", ""), "Good");
  EXPECT_EQ(texts[3], "Resolved at 2024-05-01T09:00:00.000Z");
  EXPECT_EQ(Facts(resolved), Facts(firing));
}

TEST(WebhookPayload, TeamsCardListsOnlyTheFactsTheAlertHas) {
  v1::Alert alert = AlertBuilder("UniquenessConflict", kWarning)
                        .Tenant("contoso.onmicrosoft.com")
                        .Summary("2 objects claim smtp:x@contoso.com")
                        .Annotation("claimants", "2")
                        .Annotation("objects", "CN={1}\nCN={2}")
                        .Build();
  alert.set_state(v1::ALERT_STATE_FIRING);
  const Json body = CheckTeamsMessage(WebhookPayload(alert, WebhookFormat::kTeams));
  EXPECT_EQ(Facts(body), (std::map<std::string, std::string>{{"Tenant", "contoso.onmicrosoft.com"},
                                                             {"Objects claiming the value", "2"}}));
  EXPECT_EQ(body[0].value("color", ""), "Warning");
  EXPECT_THAT(Texts(body), ::testing::Contains("Objects (2)"));
  EXPECT_THAT(Texts(body), ::testing::Not(::testing::Contains(HasSubstr("more"))));

  // No facts at all: no FactSet (it would need at least one fact).
  v1::Alert bare = AlertBuilder("AgentSilent", kWarning).Summary("silent").Build();
  bare.set_state(v1::ALERT_STATE_FIRING);
  const Json bare_body = CheckTeamsMessage(WebhookPayload(bare, WebhookFormat::kTeams));
  EXPECT_THAT(Facts(bare_body), IsEmpty());
}

TEST(WebhookPayload, TeamsCardWith612ObjectsStaysUnderTheMessageLimit) {
  // Usual lines, and lines so long (a DN can be) that the size limit, not
  // the count, decides how many fit; those are cut short with "…".
  for (size_t padding : {size_t{0}, size_t{700}}) {
    std::vector<std::string> objects;
    for (int i = 0; i < 612; ++i) {
      objects.push_back(absl::StrCat("CN={", 100000 + i, std::string(padding, 'x'),
                                     "DEADBEEFCAFE0123456789ABCDEF0123456789},OU=Users,"
                                     "DC=contoso,DC=com (user",
                                     i, "@contoso.com, \"User ", i, "\", user)"));
    }
    v1::Alert alert = FiringAlert();
    (*alert.mutable_annotations())["pending_deletes"] = "612";
    (*alert.mutable_annotations())["objects"] = absl::StrJoin(objects, "\n");
    const std::string payload = WebhookPayload(alert, WebhookFormat::kTeams);
    EXPECT_LT(payload.size(), 28u * 1024) << "padding " << padding;
    const Json body = CheckTeamsMessage(payload);
    const std::vector<std::string> texts = Texts(body);
    // The first objects in order (whole, or cut and marked), then how many
    // were left out.
    auto same = [](const std::string& text, const std::string& object) {
      if (text == object) return true;
      const std::string mark = "…";
      return text.size() > mark.size() && text.size() < object.size() &&
             text.compare(text.size() - mark.size(), mark.size(), mark) == 0 &&
             object.compare(0, text.size() - mark.size(), text, 0, text.size() - mark.size()) == 0;
    };
    size_t shown = 0;
    while (shown < objects.size() && 4 + shown < texts.size() &&
           same(texts[4 + shown], objects[shown])) {
      ++shown;
    }
    EXPECT_GE(shown, 20u) << "padding " << padding;
    // At most 100 objects; long ones stop earlier, at the size budget.
    EXPECT_LE(shown, padding == 0 ? 100u : 60u) << "padding " << padding;
    ASSERT_GE(texts.size(), 4u);
    EXPECT_EQ(texts[3], absl::StrCat("Objects (first ", shown, " of 612)"));
    ASSERT_EQ(texts.size(), 4 + shown + 1) << "padding " << padding;
    EXPECT_EQ(texts.back(), absl::StrCat("… and ", 612 - shown, " more"));
  }
}

TEST(MakeReceivers, AlertmanagerGetsTheApiPathAndEveryUrlItsOwnQueue) {
  NotifiersOptions options;
  options.alertmanager_urls = {"http://127.0.0.1:9093", "http://127.0.0.1:9094/api/v2/alerts"};
  options.webhooks = {{"http://127.0.0.1:8080/hook", WebhookFormat::kSlack}};
  auto receivers = MakeReceivers(options, "");
  SYNCWATCH_ASSERT_OK(receivers);
  ASSERT_THAT(*receivers, SizeIs(3));
  EXPECT_EQ((*receivers)[0]->id(), "alertmanager:http://127.0.0.1:9093");
  EXPECT_EQ((*receivers)[1]->id(), "alertmanager:http://127.0.0.1:9094/api/v2/alerts");
  EXPECT_EQ((*receivers)[2]->id(), "webhook:slack:http://127.0.0.1:8080/hook");
  EXPECT_TRUE((*receivers)[0]->wants_current_state());
  EXPECT_FALSE((*receivers)[2]->wants_current_state());
}

TEST(MakeReceivers, TeamsWebhookPostsTheCardOverHttp) {
  TestReceiver receiver(testing::PickFreePort());
  ASSERT_TRUE(receiver.Start());
  NotifiersOptions options;
  options.webhooks = {{receiver.url() + "/workflows/hook", WebhookFormat::kTeams},
                      {receiver.url() + "/legacy", WebhookFormat::kTeamsLegacy}};
  auto receivers = MakeReceivers(options, "");
  SYNCWATCH_ASSERT_OK(receivers);
  ASSERT_THAT(*receivers, SizeIs(2));
  EXPECT_EQ((*receivers)[0]->id(),
            absl::StrCat("webhook:teams:", receiver.url(), "/workflows/hook"));
  EXPECT_EQ((*receivers)[1]->id(),
            absl::StrCat("webhook:teams-legacy:", receiver.url(), "/legacy"));
  SYNCWATCH_ASSERT_OK((*receivers)[0]->Send({FiringAlert()}, kT0));
  SYNCWATCH_ASSERT_OK((*receivers)[1]->Send({FiringAlert()}, kT0));
  ASSERT_THAT(receiver.requests(), SizeIs(2));
  EXPECT_EQ(receiver.requests()[0].path, "/workflows/hook");
  const Json body = CheckTeamsMessage(receiver.requests()[0].body);
  EXPECT_EQ(Texts(body)[1], "PendingDeletesOverThreshold");
  EXPECT_THAT(Json::parse(receiver.requests()[1].body).value("text", ""),
              HasSubstr("[FIRING] critical **PendingDeletesOverThreshold**"));
}

TEST(PostJson, ReportsConnectionFailuresAndHttpErrors) {
  const int port = testing::PickFreePort();
  const HttpUrl url{"http://127.0.0.1:" + std::to_string(port), "/hook"};
  EXPECT_THAT(PostJson(url, "{}", absl::Seconds(2)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("127.0.0.1")));
  TestReceiver receiver(port);
  ASSERT_TRUE(receiver.Start());
  receiver.AnswerWith(500);
  EXPECT_THAT(PostJson(url, "{}", absl::Seconds(2)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("HTTP 500")));
  receiver.AnswerWith(202);
  SYNCWATCH_EXPECT_OK(PostJson(url, "{\"a\":1}", absl::Seconds(2)));
  ASSERT_THAT(receiver.requests(), SizeIs(2));  // the first found nobody listening
  EXPECT_EQ(receiver.requests()[1].path, "/hook");
  EXPECT_EQ(receiver.requests()[1].body, "{\"a\":1}");
}

// An outbox in a real store, a receiver on a real port, a fake clock.
class DelivererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::PickFreePort();
    receiver_ = std::make_unique<TestReceiver>(port_);
    auto store = Store::Open(dir_.Sub("db"), Store::Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // A deliverer for one receiver of `kind` ("webhook" or "alertmanager").
  void MakeDeliverer(const std::string& kind) {
    NotifiersOptions options;
    if (kind == "webhook") {
      options.webhooks = {{receiver_->url() + "/hook", WebhookFormat::kJson}};
    } else {
      options.alertmanager_urls = {receiver_->url()};
      options.alertmanager_resend_interval = absl::Minutes(1);
    }
    options.timeout = absl::Seconds(5);
    auto receivers = MakeReceivers(options, "");
    ASSERT_TRUE(receivers.ok()) << receivers.status();
    auto alerts = AlertStore::Open(*store_, {(*receivers)[0]->id()});
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    alerts_ = *std::move(alerts);
    Deliverer::Options d;
    d.initial_backoff = absl::Seconds(1);
    d.max_backoff = absl::Seconds(8);
    deliverer_ = std::make_unique<Deliverer>(*alerts_, clock_, std::move((*receivers)[0]), d);
  }

  void Fire(const std::vector<v1::Alert>& current) {
    auto c = alerts_->Reconcile("server/sync01", {std::string(kPendingDeletesOverThreshold)},
                                current, clock_.Now());
    ASSERT_TRUE(c.ok()) << c.status();
  }

  size_t Queued() {
    auto entries = alerts_->PeekOutbox(deliverer_->receiver().id(), 100);
    EXPECT_TRUE(entries.ok());
    return entries.ok() ? entries->size() : 0;
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  int port_ = 0;
  std::unique_ptr<TestReceiver> receiver_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AlertStore> alerts_;
  std::unique_ptr<Deliverer> deliverer_;
};

TEST_F(DelivererTest, AReceiverThatWasDownGetsEveryNotificationInOrder) {
  MakeDeliverer("webhook");
  Fire({FiringAlert()});
  clock_.Advance(absl::Minutes(1));
  Fire({});  // resolved while the receiver is down
  ASSERT_EQ(Queued(), 2u);

  deliverer_->RunOnce();  // nobody listens
  EXPECT_EQ(deliverer_->consecutive_failures(), 1);
  EXPECT_EQ(Queued(), 2u);

  // Back-off: 1s, then 2s, then 4s between attempts.
  ASSERT_TRUE(receiver_->Start());
  receiver_->AnswerWith(503);
  deliverer_->RunOnce();  // still backing off: no request
  EXPECT_THAT(receiver_->requests(), IsEmpty());
  clock_.Advance(absl::Seconds(1));
  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), SizeIs(1));
  EXPECT_EQ(deliverer_->consecutive_failures(), 2);
  clock_.Advance(absl::Seconds(1));
  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), SizeIs(1));
  clock_.Advance(absl::Seconds(1));
  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), SizeIs(2));
  EXPECT_EQ(Queued(), 2u);

  // The receiver is back: both notifications, firing before resolved.
  receiver_->AnswerWith(200);
  clock_.Advance(absl::Seconds(4));
  deliverer_->RunOnce();
  EXPECT_EQ(deliverer_->consecutive_failures(), 0);
  EXPECT_EQ(Queued(), 0u);
  const auto requests = receiver_->requests();
  ASSERT_THAT(requests, SizeIs(4));
  EXPECT_EQ(requests[2].path, "/hook");
  EXPECT_EQ(Json::parse(requests[2].body)["status"], "firing");
  EXPECT_EQ(Json::parse(requests[3].body)["status"], "resolved");
  EXPECT_EQ(deliverer_->stats().delivered.load(), 2u);
  auto stored = alerts_->List("", std::nullopt);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(FromProtoTimestamp((*stored)[0].last_delivery()), clock_.Now());
}

TEST_F(DelivererTest, BackOffIsCapped) {
  MakeDeliverer("webhook");
  Fire({FiringAlert()});
  for (int i = 0; i < 6; ++i) {
    deliverer_->RunOnce();
    clock_.Advance(absl::Seconds(8));  // the cap: every attempt is due again
  }
  EXPECT_EQ(deliverer_->consecutive_failures(), 6);
  EXPECT_EQ(deliverer_->stats().failed_sends.load(), 6u);
  EXPECT_EQ(Queued(), 1u);
}

TEST_F(DelivererTest, UndeliveredNotificationsSurviveARestart) {
  MakeDeliverer("webhook");
  Fire({FiringAlert()});
  deliverer_->RunOnce();
  EXPECT_EQ(Queued(), 1u);
  deliverer_.reset();
  alerts_.reset();
  store_.reset();
  auto store = Store::Open(dir_.Sub("db"), Store::Options());
  ASSERT_TRUE(store.ok());
  store_ = *std::move(store);
  MakeDeliverer("webhook");
  ASSERT_TRUE(receiver_->Start());
  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), SizeIs(1));
  EXPECT_EQ(Queued(), 0u);
}

TEST_F(DelivererTest, AlertmanagerGetsTheCurrentStateAndReSendsWhileFiring) {
  MakeDeliverer("alertmanager");
  ASSERT_TRUE(receiver_->Start());
  Fire({FiringAlert()});
  deliverer_->RunOnce();
  auto requests = receiver_->requests();
  // The transition, then the first re-send round (due at once after a start).
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_EQ(requests[0].path, "/api/v2/alerts");
  const Json first = Json::parse(requests[0].body);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["labels"]["alertname"], "PendingDeletesOverThreshold");

  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), SizeIs(2));  // not due yet
  clock_.Advance(absl::Minutes(1));
  deliverer_->RunOnce();
  requests = receiver_->requests();
  ASSERT_THAT(requests, SizeIs(3));
  EXPECT_EQ(Json::parse(requests[2].body)[0]["endsAt"], "2024-05-01T08:05:00.000Z");
  EXPECT_EQ(deliverer_->stats().resends.load(), 2u);

  // Down while the alert fires and resolves: the late delivery says resolved
  // (the current state), once, and the re-sends stop.
  receiver_->Stop();
  clock_.Advance(absl::Seconds(5));
  Fire({});
  deliverer_->RunOnce();
  EXPECT_EQ(Queued(), 1u);
  receiver_ = std::make_unique<TestReceiver>(port_);
  ASSERT_TRUE(receiver_->Start());
  clock_.Advance(absl::Minutes(2));
  deliverer_->RunOnce();
  requests = receiver_->requests();
  ASSERT_THAT(requests, SizeIs(1));
  const Json late = Json::parse(requests[0].body);
  EXPECT_EQ(late[0]["endsAt"], "2024-05-01T08:01:05.000Z");
  EXPECT_EQ(Queued(), 0u);
}

TEST_F(DelivererTest, TheThreadDeliversWhenWoken) {
  MakeDeliverer("webhook");
  ASSERT_TRUE(receiver_->Start());
  deliverer_->Start();
  Fire({FiringAlert()});
  deliverer_->Wake();
  EXPECT_TRUE(receiver_->WaitForRequests(1, absl::Seconds(30)));
  deliverer_->Stop();
}

TEST_F(DelivererTest, ASilencedAlertReachesTheReceiverOnlyWhenItsSilenceEnds) {
  MakeDeliverer("webhook");
  ASSERT_TRUE(receiver_->Start());
  v1::Silence silence;
  silence.set_alert_name(std::string(kPendingDeletesOverThreshold));
  *silence.mutable_ends_at() = ToProtoTimestamp(kT0 + absl::Hours(2));
  ASSERT_TRUE(alerts_->AddSilence(silence, clock_.Now()).ok());
  Fire({FiringAlert()});
  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), IsEmpty());

  clock_.Advance(absl::Hours(1));
  deliverer_->RunOnce();
  EXPECT_THAT(receiver_->requests(), IsEmpty());

  // The silence runs out while the alert still fires: the receiver hears of it.
  clock_.Advance(absl::Hours(1));
  deliverer_->RunOnce();
  const auto requests = receiver_->requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(Json::parse(requests[0].body)["status"], "firing");
  EXPECT_EQ(Queued(), 0u);
}

TEST_F(DelivererTest, SilencedAlertsAreNotReSentToAlertmanager) {
  MakeDeliverer("alertmanager");
  ASSERT_TRUE(receiver_->Start());
  Fire({FiringAlert()});
  deliverer_->RunOnce();  // the firing, then the first re-send round
  const size_t before = receiver_->requests().size();
  ASSERT_GE(before, 1u);
  v1::Silence silence;
  silence.set_server("sync01");
  *silence.mutable_ends_at() = ToProtoTimestamp(kT0 + absl::Hours(1));
  ASSERT_TRUE(alerts_->AddSilence(silence, clock_.Now()).ok());
  clock_.Advance(absl::Minutes(5));
  deliverer_->RunOnce();
  EXPECT_EQ(receiver_->requests().size(), before);
}

}  // namespace
}  // namespace syncwatch::collector::alerts
