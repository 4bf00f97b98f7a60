// Copies of a `Get-ADSyncServerConfiguration` folder with edits applied, for
// tests of configuration snapshots and of what changed between two of them
// (agent parser tests, collector change/cause tests).
#ifndef SYNCWATCH_TESTS_TESTUTIL_CONFIG_FIXTURES_H_
#define SYNCWATCH_TESTS_TESTUTIL_CONFIG_FIXTURES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace syncwatch::testing {

// The bundled real sample (deploy/samples/aadconnect/get-adsyncserverconfiguration):
// connectors "contoso.com" (AD) and "contoso.onmicrosoft.com - AAD", 62 rules.
std::string SampleConfigurationDir();

// One textual edit of one file of a configuration folder: in the file under
// `subdir` ("Connectors" or "SynchronizationRules") whose text contains
// `file_contains`, the first occurrence of `from` becomes `to`.
struct ConfigEdit {
  std::string subdir;
  std::string file_contains;
  std::string from;
  std::string to;
};

// Drops `<inclusion>DN</inclusion>` from the connector file that has it.
ConfigEdit RemoveInclusion(const std::string& dn);
// `<disabled>False</disabled>` -> True in the rule named `rule`.
ConfigEdit DisableRule(const std::string& rule);
// `<linkType>from</linkType>` -> `to` in the rule named `rule`.
ConfigEdit SetLinkType(const std::string& rule, const std::string& from, const std::string& to);
// Any text `from` -> `to` in the rule named `rule` (e.g. a <csValue> of its
// scoping filter).
ConfigEdit EditRule(const std::string& rule, const std::string& from, const std::string& to);

// Copies the configuration folder `source` to `dest` (created; must not
// exist) and applies `edits` in order. FailedPrecondition naming the edit
// when no file matches or `from` is not in it (so a test cannot silently
// compare two equal folders).
absl::Status CopyConfiguration(const std::string& source, const std::string& dest,
                               const std::vector<ConfigEdit>& edits = {});

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_CONFIG_FIXTURES_H_
