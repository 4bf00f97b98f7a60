// Extracts the conflicting attribute and value from an export error's text.
#ifndef SYNCWATCH_AGENT_PARSERS_CONFLICT_H_
#define SYNCWATCH_AGENT_PARSERS_CONFLICT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace syncwatch::agent {

// An attribute value that another object already holds.
struct Conflict {
  std::string attribute;  // e.g. "ProxyAddresses", "UserPrincipalName"
  std::string value;      // e.g. "SMTP:john@contoso.com"
};

// Finds the first "[<Attribute> <value>;]" group in an error literal, the form
// Entra ID uses for duplicate-attribute export errors (KB 2647098), e.g.
// "... local directory services: [ProxyAddresses SMTP:john@contoso.com;]. ..."
// When the group lists several values ("[ProxyAddresses a;b;]") the first one
// is returned. Bracketed text of any other shape (stack traces print
// "ForWorker[TLocal](...)") is skipped. Returns nullopt when there is none.
std::optional<Conflict> ParseConflictFromLiteral(absl::string_view literal);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_CONFLICT_H_
