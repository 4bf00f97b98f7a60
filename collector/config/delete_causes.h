// The probable causes of a connector's pending deletes (issue 18): the six
// causes of Microsoft's "unexpected deletes" troubleshooting page told apart
// by the configuration changes and the run-history step counters since the
// connector's last successful export (docs/domain/delete-causes.md has the
// mapping and its sources). The mapping is the table kCauses in the .cc; this
// header's functions only apply it.
#ifndef SYNCWATCH_COLLECTOR_CONFIG_DELETE_CAUSES_H_
#define SYNCWATCH_COLLECTOR_CONFIG_DELETE_CAUSES_H_

#include <string>
#include <vector>

#include "syncwatch/v1/event.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::config {

// What the causes are worked out from.
struct DeleteEvidence {
  // The connector with the pending deletes (usually the Entra ID connector)
  // and its latest pending-export snapshot (deletes' DNs give the containers).
  v1::PendingExportSnapshot snapshot;
  // The server's configuration changes since the connector's last successful
  // export, oldest first.
  std::vector<v1::ConfigurationChange> changes;
  // The server's import and sync runs (every connector) since that export.
  std::vector<v1::RunProfileResult> runs;
};

// The cause kinds of the table, most specific first.
const std::vector<std::string>& DeleteCauseKinds();

// The probable causes, most likely first: those a configuration change points
// to before those only the counters point to, each with its evidence (the
// changes, the counters and the runs that moved them, the sync step with the
// most provisioned disconnects towards the connector, and the containers the
// pending deletes are in). Empty when nothing points anywhere.
std::vector<v1::DeleteCause> ExplainDeletes(const DeleteEvidence& evidence);

// "OU=Sales,OU=CORP,DC=contoso,DC=com" for "CN=Ann,OU=Sales,OU=CORP,DC=contoso,DC=com"
// (the DN without its first RDN, escaped commas respected); "" for a DN of one RDN.
std::string ParentContainer(const std::string& dn);

}  // namespace syncwatch::collector::config

#endif  // SYNCWATCH_COLLECTOR_CONFIG_DELETE_CAUSES_H_
