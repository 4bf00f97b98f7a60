// The one spelling of enum values for people, labels and JSON: server roles
// ("active", "staging", "unknown") and server health ("ok", "warning",
// "critical", "unknown"). The config, the CLI's JSON, /metrics, the web page
// and alert labels agree.
#ifndef SYNCWATCH_COMMON_NAMES_H_
#define SYNCWATCH_COMMON_NAMES_H_

#include "absl/strings/string_view.h"
#include "syncwatch/v1/event.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch {

inline absl::string_view ServerRoleName(v1::ServerRole role) {
  switch (role) {
    case v1::SERVER_ROLE_ACTIVE:
      return "active";
    case v1::SERVER_ROLE_STAGING:
      return "staging";
    default:
      return "unknown";
  }
}

inline absl::string_view HealthName(v1::Health health) {
  switch (health) {
    case v1::HEALTH_OK:
      return "ok";
    case v1::HEALTH_WARNING:
      return "warning";
    case v1::HEALTH_CRITICAL:
      return "critical";
    default:
      return "unknown";
  }
}

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_NAMES_H_
