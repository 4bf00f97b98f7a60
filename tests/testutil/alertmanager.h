// A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on
// 127.0.0.1 for end-to-end tests, and what they ask of its /api/v2/alerts.
#ifndef SYNCWATCH_TESTS_TESTUTIL_ALERTMANAGER_H_
#define SYNCWATCH_TESTS_TESTUTIL_ALERTMANAGER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/subprocess.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::testing {

// Where Debian puts it (the upstream name too, for other installs); empty
// when none is installed.
std::string FindAlertmanager();

// A route to a receiver that notifies nobody.
inline constexpr char kAlertmanagerNullConfig[] =
    "route:\n"
    "  receiver: \"null\"\n"
    "receivers:\n"
    "  - name: \"null\"\n";

// An Alertmanager process on 127.0.0.1 with its own storage (files named
// after `name` in `dir`), by default with no clustering and
// kAlertmanagerNullConfig. Killed on destruction.
class Alertmanager {
 public:
  explicit Alertmanager(const TempDir& dir, std::string name = "am")
      : dir_(dir), name_(std::move(name)) {}

  // Starts it with `config` and `cluster_flags` (none: clustering off) and
  // waits until /-/ready answers; false (with the reason in *why) when it
  // does not come up.
  bool Start(const std::string& binary, std::string* why,
             const std::string& config_text = kAlertmanagerNullConfig,
             std::vector<std::string> cluster_flags = {"--cluster.listen-address="});

  std::string url() const;

  // GET /api/v2/alerts; an empty array when the request fails.
  nlohmann::json Alerts() const;

  // Polls every 200 ms until `match` holds for the alert list; returns that
  // list, or nullopt after `timeout`.
  std::optional<nlohmann::json> WaitFor(const std::function<bool(const nlohmann::json&)>& match,
                                        absl::Duration timeout) const;

 private:
  const TempDir& dir_;
  const std::string name_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// Whether an alert of /api/v2/alerts is active: its state says so (when it
// has one) and it has not ended.
bool AlertIsActive(const nlohmann::json& alert);

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_ALERTMANAGER_H_
