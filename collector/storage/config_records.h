// Reads of the configuration families (store.h) and what the collector works
// out of them with collector/config/: a server's changes, the staging drift
// of a fleet, and the evidence for the causes of a connector's pending deletes.
#ifndef SYNCWATCH_COLLECTOR_STORAGE_CONFIG_RECORDS_H_
#define SYNCWATCH_COLLECTOR_STORAGE_CONFIG_RECORDS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/config/delete_causes.h"
#include "collector/storage/store.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {

// The server's latest configuration; nullopt when none arrived.
absl::StatusOr<std::optional<v1::StoredConfiguration>> ReadConfiguration(const Store& store,
                                                                         const std::string& server);

// The server's configuration changes detected at or after `since`, oldest first.
absl::StatusOr<std::vector<v1::ConfigurationChange>> ReadConfigurationChanges(
    const Store& store, const std::string& server, absl::Time since);

// For every tenant among `servers`: each staging server's differences from the
// tenant's active server (the first by name with a configuration), ordered by
// tenant and server. Servers without a tenant, a configuration or an active
// peer with one are left out.
absl::StatusOr<std::vector<v1::ConfigurationDrift>> ComputeDrift(
    const Store& store, const std::vector<v1::ServerInfo>& servers);

// How far before a snapshot ReadDeleteEvidence looks at most.
inline constexpr absl::Duration kMaxEvidenceWindow = absl::Hours(7 * 24);

// What the causes of `snapshot`'s pending deletes on `info`'s server are
// worked out from: the changes and the import and sync runs (every connector)
// since the connector's last successful export, at most kMaxEvidenceWindow
// before the snapshot (a staging server never exports).
absl::StatusOr<config::DeleteEvidence> ReadDeleteEvidence(
    const Store& store, const v1::ServerInfo& info, const v1::PendingExportSnapshot& snapshot);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_CONFIG_RECORDS_H_
