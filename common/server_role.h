// The one spelling of a server role for people and labels: "active",
// "staging" or "unknown" (the config, the CLI's JSON and alert labels agree).
#ifndef SYNCWATCH_COMMON_SERVER_ROLE_H_
#define SYNCWATCH_COMMON_SERVER_ROLE_H_

#include "absl/strings/string_view.h"
#include "syncwatch/v1/event.pb.h"

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

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_SERVER_ROLE_H_
