#include "tests/testutil/alertmanager.h"

#include <httplib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace syncwatch::testing {

using Json = nlohmann::json;

std::string FindAlertmanager() {
  for (const char* path : {"/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager",
                           "/usr/bin/alertmanager"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

bool Alertmanager::Start(const std::string& binary, std::string* why,
                         const std::string& config_text, std::vector<std::string> cluster_flags) {
  port_ = PickFreePort();
  const std::string config = dir_.Sub(name_ + ".yml");
  WriteFile(config, config_text);
  std::vector<std::string> argv = {
      binary, "--config.file=" + config, "--storage.path=" + dir_.Sub(name_ + "-data"),
      absl::StrCat("--web.listen-address=127.0.0.1:", port_), "--log.level=warn"};
  argv.insert(argv.end(), cluster_flags.begin(), cluster_flags.end());
  auto process = Subprocess::Start(argv, dir_.Sub(name_ + ".out"), dir_.Sub(name_ + ".err"));
  if (!process.ok()) {
    *why = std::string(process.status().message());
    return false;
  }
  process_ = std::make_unique<Subprocess>(*std::move(process));
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (!process_->running()) break;
    httplib::Client client(url());
    client.set_connection_timeout(std::chrono::seconds(2));
    if (auto res = client.Get("/-/ready"); res && res->status == 200) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  *why = absl::StrCat("Alertmanager did not become ready; its stderr:\n",
                      ReadFileOrEmpty(dir_.Sub(name_ + ".err")));
  return false;
}

std::string Alertmanager::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

Json Alertmanager::Alerts() const {
  httplib::Client client(url());
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(5));
  auto res = client.Get("/api/v2/alerts");
  if (!res || res->status != 200) return Json::array();
  Json body = Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  return body.is_array() ? body : Json::array();
}

std::optional<Json> Alertmanager::WaitFor(const std::function<bool(const Json&)>& match,
                                          absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    Json alerts = Alerts();
    if (match(alerts)) return alerts;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return std::nullopt;
}

bool AlertIsActive(const Json& alert) {
  if (alert.contains("status") && alert["status"].value("state", "") != "active") return false;
  absl::Time ends;
  std::string err;
  if (alert.contains("endsAt") &&
      absl::ParseTime(absl::RFC3339_full, alert["endsAt"].get<std::string>(), &ends, &err)) {
    return ends > absl::Now();
  }
  return true;
}

}  // namespace syncwatch::testing
