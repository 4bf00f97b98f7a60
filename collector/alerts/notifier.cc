#include "collector/alerts/notifier.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/time_util.h"
#include "nlohmann/json.hpp"

namespace syncwatch::collector::alerts {
namespace {

using Json = nlohmann::ordered_json;

// Longest text of a Slack/Teams message; both cut or refuse much longer ones.
constexpr size_t kMaxChatText = 3500;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json SortedMap(const google::protobuf::Map<std::string, std::string>& map) {
  const std::map<std::string, std::string> sorted(map.begin(), map.end());
  Json out = Json::object();
  for (const auto& [k, v] : sorted) out[k] = v;
  return out;
}

Json TimeOrNull(bool has, const google::protobuf::Timestamp& ts) {
  if (!has) return nullptr;
  return FormatIso8601(FromProtoTimestamp(ts));
}

bool Firing(const v1::Alert& alert) { return alert.state() == v1::ALERT_STATE_FIRING; }

std::string Annotation(const v1::Alert& alert, const std::string& name) {
  auto it = alert.annotations().find(name);
  return it == alert.annotations().end() ? "" : it->second;
}

class AlertmanagerReceiver final : public Receiver {
 public:
  AlertmanagerReceiver(std::string id, HttpUrl url, absl::Duration resend, absl::Duration timeout,
                       std::string generator_url)
      : id_(std::move(id)),
        url_(std::move(url)),
        resend_(resend),
        timeout_(timeout),
        generator_url_(std::move(generator_url)) {}

  const std::string& id() const override { return id_; }
  size_t max_batch() const override { return 64; }
  bool wants_current_state() const override { return true; }
  absl::Duration resend_interval() const override { return resend_; }
  absl::Status Send(const std::vector<v1::Alert>& alerts, absl::Time now) override {
    return PostJson(url_, AlertmanagerPayload(alerts, now, resend_, generator_url_), timeout_);
  }

 private:
  const std::string id_;
  const HttpUrl url_;
  const absl::Duration resend_;
  const absl::Duration timeout_;
  const std::string generator_url_;
};

class WebhookReceiver final : public Receiver {
 public:
  WebhookReceiver(std::string id, HttpUrl url, WebhookFormat format, absl::Duration timeout)
      : id_(std::move(id)), url_(std::move(url)), format_(format), timeout_(timeout) {}

  const std::string& id() const override { return id_; }
  // One message per state change, in order: chat channels read them one by one.
  size_t max_batch() const override { return 1; }
  bool wants_current_state() const override { return false; }
  absl::Duration resend_interval() const override { return absl::ZeroDuration(); }
  absl::Status Send(const std::vector<v1::Alert>& alerts, absl::Time) override {
    for (const v1::Alert& alert : alerts) {
      absl::Status s = PostJson(url_, WebhookPayload(alert, format_), timeout_);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  const std::string id_;
  const HttpUrl url_;
  const WebhookFormat format_;
  const absl::Duration timeout_;
};

const char* FormatName(WebhookFormat format) {
  switch (format) {
    case WebhookFormat::kJson:
      return "json";
    case WebhookFormat::kSlack:
      return "slack";
    case WebhookFormat::kTeams:
      return "teams";
    case WebhookFormat::kTeamsLegacy:
      return "teams-legacy";
  }
  return "json";
}

// Cuts `text` to at most `max` bytes on a UTF-8 boundary and marks the cut.
void CutUtf8(std::string* text, size_t max) {
  if (text->size() <= max) return;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>((*text)[cut]) & 0xC0) == 0x80) --cut;
  text->resize(cut);
  *text += "…";
}

std::string ChatText(const v1::Alert& alert, WebhookFormat format) {
  const bool teams = format == WebhookFormat::kTeamsLegacy;
  const absl::string_view bold = teams ? "**" : "*";
  const absl::string_view paragraph = teams ? "\n\n" : "\n";
  std::vector<std::string> where;
  for (const char* label : {"server", "tenant", "connector", "role"}) {
    auto it = alert.labels().find(label);
    if (it != alert.labels().end()) where.push_back(absl::StrCat(label, " ", it->second));
  }
  std::string text;
  if (Firing(alert)) {
    text = absl::StrCat("[FIRING] ", alert.severity(), " ", bold, alert.name(), bold, ": ",
                        alert.summary());
  } else {
    text = absl::StrCat("[RESOLVED] ", bold, alert.name(), bold, ": ", alert.summary(), paragraph,
                        "Resolved at ", FormatIso8601(FromProtoTimestamp(alert.resolved_at())));
  }
  if (!where.empty()) absl::StrAppend(&text, paragraph, absl::StrJoin(where, " · "));
  const std::string description = Annotation(alert, "description");
  if (Firing(alert) && !description.empty() && description != alert.summary()) {
    std::string body = description;
    if (teams) body = absl::StrJoin(absl::StrSplit(body, '\n'), "\n\n");
    absl::StrAppend(&text, paragraph, body);
  }
  CutUtf8(&text, kMaxChatText);
  return text;
}

// ---- Teams: an Adaptive Card for a Workflows flow ---------------------------
//
// A Teams channel receives webhooks through a Workflows flow ("Post to a
// channel when a webhook request is received"); it takes a message whose
// attachments hold Adaptive Cards. Required fields, from the Adaptive Card
// schema (adaptivecards.io/schemas/adaptive-card.json; schema explorer pages
// learn.microsoft.com/adaptive-cards/schema-explorer/adaptive-card,
// .../text-block, .../fact-set, .../fact):
//   AdaptiveCard: type "AdaptiveCard", version (required on the top-level card);
//   TextBlock: type, text;  FactSet: type, facts;  Fact: title, value.
// The Teams connector's actions fail on messages above about 28 KB ("Request
// Entity Too Large"; learn.microsoft.com/connectors/teams, known issues), so
// the card is kept well below that.

// What the card may take of Teams' 28 KB: Teams counts the message as
// rendered, not this JSON; leave room for that (and for the envelope).
constexpr size_t kTeamsCardBudget = 24 * 1024;
// Most objects a card lists, and the longest line of one.
constexpr size_t kTeamsMaxObjects = 100;
constexpr size_t kTeamsMaxObjectLine = 400;

Json TextBlock(std::string text) {
  Json t = Json::object();
  t["type"] = "TextBlock";
  t["text"] = std::move(text);
  t["wrap"] = true;
  return t;
}

// The count an alert is about, as (annotation, fact title).
constexpr std::pair<const char*, const char*> kCountFacts[] = {
    {"pending_deletes", "Pending deletes"},
    {"export_errors", "Export errors"},
    {"claimants", "Objects claiming the value"},
};

std::string TeamsCardPayload(const v1::Alert& alert) {
  const bool firing = Firing(alert);
  Json body = Json::array();

  Json state =
      TextBlock(firing ? absl::StrCat("FIRING · ", alert.severity()) : std::string("RESOLVED"));
  state["weight"] = "Bolder";
  state["color"] = !firing ? "Good" : alert.severity() == "critical" ? "Attention" : "Warning";
  body.push_back(std::move(state));
  Json name = TextBlock(alert.name());
  name["size"] = "Large";
  name["weight"] = "Bolder";
  body.push_back(std::move(name));
  std::string summary = alert.summary();
  CutUtf8(&summary, kMaxChatText);
  body.push_back(TextBlock(std::move(summary)));
  if (!firing) {
    Json when = TextBlock(
        absl::StrCat("Resolved at ", FormatIso8601(FromProtoTimestamp(alert.resolved_at()))));
    when["isSubtle"] = true;
    body.push_back(std::move(when));
  }

  // Only the facts the alert has: a FactSet needs at least one.
  Json facts = Json::array();
  auto fact = [&facts](const char* title, std::string value) {
    if (value.empty()) return;
    CutUtf8(&value, kTeamsMaxObjectLine);
    facts.push_back(Json{{"title", title}, {"value", std::move(value)}});
  };
  auto label = [&alert](const char* key) {
    auto it = alert.labels().find(key);
    return it == alert.labels().end() ? std::string() : it->second;
  };
  fact("Server", label("server"));
  fact("Tenant", label("tenant"));
  fact("Connector", label("connector"));
  fact("Role", label("role"));
  int64_t count = 0;
  for (const auto& [key, title] : kCountFacts) {
    const std::string value = Annotation(alert, key);
    fact(title, value);
    int64_t n = 0;
    if (count == 0 && absl::SimpleAtoi(value, &n)) count = n;
  }
  fact("Deletion threshold", Annotation(alert, "deletion_threshold"));
  if (!facts.empty()) body.push_back(Json{{"type", "FactSet"}, {"facts", std::move(facts)}});

  Json card = Json::object();
  card["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json";
  card["type"] = "AdaptiveCard";
  card["version"] = "1.4";
  card["msteams"] = Json{{"width", "Full"}};

  // The first objects, as many as fit.
  const std::string objects = Annotation(alert, "objects");
  std::vector<std::string> lines;
  if (!objects.empty()) lines = absl::StrSplit(objects, '\n', absl::SkipEmpty());
  if (!lines.empty()) {
    const int64_t total = std::max<int64_t>(count, static_cast<int64_t>(lines.size()));
    // What the card takes without the objects, plus their heading and the
    // closing "… and N more".
    size_t used = Dump(body).size() + Dump(card).size() + 300;
    Json listed = Json::array();
    for (std::string& line : lines) {
      if (listed.size() == kTeamsMaxObjects) break;
      CutUtf8(&line, kTeamsMaxObjectLine);
      Json item = TextBlock(std::move(line));
      item["spacing"] = "None";
      const size_t size = Dump(item).size() + 1;
      if (used + size > kTeamsCardBudget) break;
      used += size;
      listed.push_back(std::move(item));
    }
    const int64_t shown = static_cast<int64_t>(listed.size());
    Json heading =
        TextBlock(shown < total ? absl::StrCat("Objects (first ", shown, " of ", total, ")")
                                : absl::StrCat("Objects (", total, ")"));
    heading["weight"] = "Bolder";
    heading["separator"] = true;
    body.push_back(std::move(heading));
    for (Json& item : listed) body.push_back(std::move(item));
    if (shown < total) {
      Json more = TextBlock(absl::StrCat("… and ", total - shown, " more"));
      more["spacing"] = "None";
      more["isSubtle"] = true;
      body.push_back(std::move(more));
    }
  }
  card["body"] = std::move(body);

  Json attachment = Json::object();
  attachment["contentType"] = "application/vnd.microsoft.card.adaptive";
  attachment["contentUrl"] = nullptr;
  attachment["content"] = std::move(card);
  Json message = Json::object();
  message["type"] = "message";
  message["attachments"] = Json::array({std::move(attachment)});
  return Dump(message);
}

}  // namespace

std::string AlertmanagerPayload(const std::vector<v1::Alert>& alerts, absl::Time now,
                                absl::Duration resend_interval, const std::string& generator_url) {
  Json out = Json::array();
  for (const v1::Alert& alert : alerts) {
    Json a = Json::object();
    a["labels"] = SortedMap(alert.labels());
    a["annotations"] = SortedMap(alert.annotations());
    a["startsAt"] = FormatIso8601(FromProtoTimestamp(alert.started_at()));
    if (Firing(alert)) {
      a["endsAt"] = FormatIso8601(now + 4 * resend_interval);
    } else {
      a["endsAt"] = FormatIso8601(FromProtoTimestamp(alert.resolved_at()));
    }
    if (!generator_url.empty()) a["generatorURL"] = generator_url;
    out.push_back(std::move(a));
  }
  return Dump(out);
}

std::string WebhookPayload(const v1::Alert& alert, WebhookFormat format) {
  if (format == WebhookFormat::kTeams) return TeamsCardPayload(alert);
  if (format != WebhookFormat::kJson) {
    Json body = Json::object();
    body["text"] = ChatText(alert, format);
    return Dump(body);
  }
  Json a = Json::object();
  a["name"] = alert.name();
  a["severity"] = alert.severity();
  a["state"] = Firing(alert) ? "firing" : "resolved";
  a["server"] = alert.server();
  a["tenant"] = alert.tenant();
  a["connector"] = alert.connector();
  a["summary"] = alert.summary();
  a["description"] = Annotation(alert, "description");
  a["labels"] = SortedMap(alert.labels());
  a["annotations"] = SortedMap(alert.annotations());
  a["fingerprint"] = alert.fingerprint();
  a["started_at"] = TimeOrNull(alert.has_started_at(), alert.started_at());
  a["resolved_at"] = TimeOrNull(alert.has_resolved_at(), alert.resolved_at());
  Json body = Json::object();
  body["version"] = "1";
  body["status"] = Firing(alert) ? "firing" : "resolved";
  body["alerts"] = Json::array({std::move(a)});
  return Dump(body);
}

absl::Status PostJson(const HttpUrl& url, const std::string& body, absl::Duration timeout) {
  const std::string where = absl::StrCat(url.scheme_host_port, url.path);
  const auto chrono_timeout = absl::ToChronoMilliseconds(timeout);
  // cpp-httplib may throw (e.g. std::bad_alloc, or on a URL it cannot use);
  // errors stay values beyond this point.
  try {
    httplib::Client client(url.scheme_host_port);
    client.set_connection_timeout(chrono_timeout);
    client.set_read_timeout(chrono_timeout);
    client.set_write_timeout(chrono_timeout);
    httplib::Result result = client.Post(url.path.c_str(), body, "application/json");
    if (!result) {
      return absl::UnavailableError(
          absl::StrCat("POST ", where, ": ", httplib::to_string(result.error())));
    }
    if (result->status < 200 || result->status >= 300) {
      std::string answer = result->body.substr(0, 300);
      return absl::UnavailableError(absl::StrCat("POST ", where, ": HTTP ", result->status, " ",
                                                 absl::StripAsciiWhitespace(answer)));
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("POST ", where, ": ", e.what()));
  }
}

absl::StatusOr<std::vector<std::unique_ptr<Receiver>>> MakeReceivers(
    const NotifiersOptions& options, const std::string& generator_url) {
  std::vector<std::unique_ptr<Receiver>> out;
  std::set<std::string> ids;
  auto add = [&](std::unique_ptr<Receiver> r) -> absl::Status {
    if (!ids.insert(r->id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("notifiers: ", r->id(), " is configured twice"));
    }
    out.push_back(std::move(r));
    return absl::OkStatus();
  };
  for (const std::string& url : options.alertmanager_urls) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
    if (!parsed.ok()) return parsed.status();
    // A base URL ("http://am:9093" or ".../prefix/") gets the API path.
    std::string path = parsed->path;
    const size_t query = path.find('?');
    std::string base = path.substr(0, query);
    if (!absl::EndsWith(base, "/api/v2/alerts")) {
      base = absl::StrCat(absl::StripSuffix(base, "/"), "/api/v2/alerts");
    }
    parsed->path = query == std::string::npos ? base : absl::StrCat(base, path.substr(query));
    absl::Status s = add(std::make_unique<AlertmanagerReceiver>(
        absl::StrCat("alertmanager:", url), *std::move(parsed),
        options.alertmanager_resend_interval, options.timeout, generator_url));
    if (!s.ok()) return s;
  }
  for (const WebhookOptions& hook : options.webhooks) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(hook.url);
    if (!parsed.ok()) return parsed.status();
    absl::Status s = add(std::make_unique<WebhookReceiver>(
        absl::StrCat("webhook:", FormatName(hook.format), ":", hook.url), *std::move(parsed),
        hook.format, options.timeout));
    if (!s.ok()) return s;
  }
  return out;
}

Deliverer::Deliverer(AlertStore& store, Clock& clock, std::unique_ptr<Receiver> receiver,
                     const Options& options)
    : store_(store), clock_(clock), receiver_(std::move(receiver)), options_(options) {}

Deliverer::~Deliverer() { Stop(); }

void Deliverer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Deliverer::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void Deliverer::Wake() {
  MutexLock lock(&mu_);
  woken_ = true;
  cv_.Signal();
}

int Deliverer::consecutive_failures() const {
  MutexLock lock(&mu_);
  return failures_;
}

void Deliverer::Failed(const absl::Status& status, absl::Time now) {
  stats_.failed_sends.fetch_add(1);
  MutexLock lock(&mu_);
  ++failures_;
  absl::Duration delay = options_.initial_backoff;
  for (int i = 1; i < failures_ && delay < options_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff);
  retry_at_ = now + delay;
  SYNCWATCH_LOG(kWarning, "alert delivery to ", receiver_->id(), " failed (", failures_,
                " in a row), retrying in ", absl::FormatDuration(delay), ": ", status.ToString());
}

void Deliverer::Succeeded() {
  MutexLock lock(&mu_);
  if (failures_ > 0) {
    SYNCWATCH_LOG(kInfo, "alert delivery to ", receiver_->id(), " works again after ", failures_,
                  " failed attempts");
  }
  failures_ = 0;
  retry_at_ = absl::InfinitePast();
}

std::vector<v1::Alert> Deliverer::AlertsFor(const std::vector<OutboxEntry>& entries) {
  std::vector<v1::Alert> alerts;
  if (!receiver_->wants_current_state()) {
    for (const OutboxEntry& e : entries) alerts.push_back(e.alert);
    return alerts;
  }
  std::set<std::string> seen;
  for (const OutboxEntry& e : entries) {
    if (!seen.insert(AlertKey(e.alert.scope(), e.alert.fingerprint())).second) continue;
    absl::StatusOr<std::optional<v1::Alert>> current =
        store_.Get(e.alert.scope(), e.alert.fingerprint());
    // Purged or unreadable: the state at the change is still right to send.
    alerts.push_back(current.ok() && current->has_value() ? **current : e.alert);
  }
  return alerts;
}

void Deliverer::RunOnce() {
  MutexLock run_lock(&run_mu_);
  // What silences that ran out held back joins the outbox before it is read.
  absl::StatusOr<int> ended = store_.EndExpiredSilences(clock_.Now());
  if (!ended.ok()) SYNCWATCH_LOG(kWarning, "ending expired silences: ", ended.status().ToString());
  for (;;) {
    const absl::Time now = clock_.Now();
    {
      MutexLock lock(&mu_);
      if (stopping_ || now < retry_at_) return;
    }
    absl::StatusOr<std::vector<OutboxEntry>> entries =
        store_.PeekOutbox(receiver_->id(), receiver_->max_batch());
    if (!entries.ok()) {
      Failed(entries.status(), now);
      return;
    }
    if (entries->empty()) break;
    absl::Status sent = receiver_->Send(AlertsFor(*entries), now);
    if (sent.ok()) sent = store_.CompleteOutbox(receiver_->id(), *entries, now);
    if (!sent.ok()) {
      Failed(sent, now);
      return;
    }
    stats_.delivered.fetch_add(entries->size());
    Succeeded();
  }

  const absl::Duration resend = receiver_->resend_interval();
  if (resend <= absl::ZeroDuration()) return;
  const absl::Time now = clock_.Now();
  {
    MutexLock lock(&mu_);
    if (now < next_resend_) return;
  }
  absl::StatusOr<std::vector<v1::Alert>> firing = store_.List("", v1::ALERT_STATE_FIRING);
  if (!firing.ok()) {
    Failed(firing.status(), now);
    return;
  }
  // Silenced alerts are not re-sent (Alertmanager lets them expire).
  firing->erase(std::remove_if(firing->begin(), firing->end(),
                               [&](const v1::Alert& a) { return store_.Silenced(a, now); }),
                firing->end());
  for (size_t i = 0; i < firing->size(); i += receiver_->max_batch()) {
    const size_t end = std::min(firing->size(), i + receiver_->max_batch());
    const std::vector<v1::Alert> chunk(firing->begin() + static_cast<std::ptrdiff_t>(i),
                                       firing->begin() + static_cast<std::ptrdiff_t>(end));
    absl::Status sent = receiver_->Send(chunk, now);
    if (!sent.ok()) {
      Failed(sent, now);
      return;
    }
  }
  if (!firing->empty()) {
    stats_.resends.fetch_add(1);
    Succeeded();
    absl::Status marked = store_.MarkDelivered(*firing, now);
    if (!marked.ok()) SYNCWATCH_LOG(kWarning, "recording alert re-send: ", marked.ToString());
  }
  MutexLock lock(&mu_);
  next_resend_ = now + resend;
}

void Deliverer::Run() {
  for (;;) {
    RunOnce();
    MutexLock lock(&mu_);
    if (stopping_) return;
    if (!woken_) {
      const absl::Time now = clock_.Now();
      absl::Time due = now + options_.idle_poll;
      if (retry_at_ > now) {
        due = std::min(due, retry_at_);
      } else if (receiver_->resend_interval() > absl::ZeroDuration() && next_resend_ > now) {
        due = std::min(due, next_resend_);
      }
      cv_.WaitFor(absl::ToChronoNanoseconds(due - now));
    }
    woken_ = false;
  }
}

}  // namespace syncwatch::collector::alerts
