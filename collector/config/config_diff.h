// Differences between two server configurations (issue 18): between a
// server's successive configurations (changes) and between a staging server's
// and its tenant's active server's (drift). Pure functions of the messages.
//
// Connectors are matched by name, partitions by name, sync rules by immutable
// tag (the tag of a built-in rule is the same on every server), else by name;
// never by GUID: every server has its own GUIDs for the same rules.
#ifndef SYNCWATCH_COLLECTOR_CONFIG_CONFIG_DIFF_H_
#define SYNCWATCH_COLLECTOR_CONFIG_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "syncwatch/v1/event.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::config {

// Every kind a Difference can have, in the order Diff reports them.
const std::vector<std::string>& DifferenceKinds();

// One difference, read as "from `before` to `after`".
struct Difference {
  std::string kind;
  std::string connector;
  std::string partition;
  std::string rule;
  // Rule kinds: the rule's link type (before the change for rule-removed and
  // link-type-changed, after it otherwise).
  std::string link_type;
  std::string before;
  std::string after;
  // One line, e.g. "OU=Sales,DC=contoso,DC=com excluded from contoso.com's OU filtering".
  std::string summary;
};

// The differences from `before` to `after`: connectors first (by name), then
// their partitions, then sync rules (by match key). Empty when they match.
std::vector<Difference> Diff(const v1::ServerConfiguration& before,
                             const v1::ServerConfiguration& after);

// Diff as stored configuration changes of `server`, detected at after.taken_at.
std::vector<v1::ConfigurationChange> ChangesBetween(const std::string& server,
                                                    const std::string& tenant,
                                                    const v1::ServerConfiguration& before,
                                                    const v1::ServerConfiguration& after);

// Diff from the tenant's active server's configuration (`reference`) to a
// staging server's (`config`).
std::vector<v1::ConfigurationDrift> DriftBetween(const std::string& tenant,
                                                 const std::string& reference_server,
                                                 const v1::ServerConfiguration& reference,
                                                 const std::string& server,
                                                 const v1::ServerConfiguration& config);

}  // namespace syncwatch::collector::config

#endif  // SYNCWATCH_COLLECTOR_CONFIG_CONFIG_DIFF_H_
