// The alerts the rules raise: names, severities, labels and fingerprints, and
// the facts about Entra Connect that several rules share (which connector is
// the Entra ID one, which attribute values Entra ID compares without case).
#ifndef SYNCWATCH_COLLECTOR_ALERTS_ALERT_H_
#define SYNCWATCH_COLLECTOR_ALERTS_ALERT_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::alerts {

// Alert names (the `alertname` label). Stable: dashboards, Alertmanager routes
// and silences match on them.
inline constexpr absl::string_view kPendingDeletesNearThreshold = "PendingDeletesNearThreshold";
inline constexpr absl::string_view kPendingDeletesOverThreshold = "PendingDeletesOverThreshold";
inline constexpr absl::string_view kDeletionThresholdStoppedExport =
    "DeletionThresholdStoppedExport";
inline constexpr absl::string_view kPendingDeletesShareHigh = "PendingDeletesShareHigh";
inline constexpr absl::string_view kPendingDeletesSurge = "PendingDeletesSurge";
inline constexpr absl::string_view kSyncRunStopped = "SyncRunStopped";
inline constexpr absl::string_view kSyncCycleOverdue = "SyncCycleOverdue";
inline constexpr absl::string_view kAgentSilent = "AgentSilent";
inline constexpr absl::string_view kExportErrorsHigh = "ExportErrorsHigh";
inline constexpr absl::string_view kStagingConfigurationDrift = "StagingConfigurationDrift";
inline constexpr absl::string_view kDuplicateAttributeValue = "DuplicateAttributeValue";
inline constexpr absl::string_view kDuplicateAttributeValuePredicted =
    "DuplicateAttributeValuePredicted";

inline constexpr absl::string_view kWarning = "warning";
inline constexpr absl::string_view kCritical = "critical";

// The fixed identifier of the Entra ID connector on every installation
// (DOMAIN.md §1.1).
inline constexpr absl::string_view kEntraConnectorId = "b891884f-051e-4a83-95af-2544101c9083";

// True for the Entra ID connector: its id is the fixed GUID (any case, braces
// allowed), or its name ends with " - AAD" (e.g. "contoso.onmicrosoft.com - AAD").
bool IsEntraConnector(absl::string_view connector_name, absl::string_view connector_id);

// The form in which Entra ID compares values of `attribute` for uniqueness:
// lower-cased for userPrincipalName, proxyAddresses, mail, signInName and
// sipProxyAddress (Entra ID compares those without regard to case; for
// proxyAddresses "SMTP:" and "smtp:" name the same address), unchanged
// otherwise. Surrounding white space is dropped. ASCII case only.
std::string FoldValue(absl::string_view attribute, absl::string_view value);

// The usual spelling of an attribute name ("ProxyAddresses" and
// "proxyaddresses" -> "proxyAddresses"); unknown names are returned as given.
std::string CanonicalAttribute(absl::string_view attribute);

// FNV-1a 64 over the sorted labels, as 16 lower-case hex digits.
std::string Fingerprint(const std::map<std::string, std::string>& labels);

// An alert as a rule produces it: builds the labels (empty values are left
// out) and fills name, severity, server, tenant, connector, summary and the
// fingerprint of the v1::Alert.
class AlertBuilder {
 public:
  AlertBuilder(absl::string_view name, absl::string_view severity);

  AlertBuilder& Server(absl::string_view server);
  AlertBuilder& Tenant(absl::string_view tenant);
  AlertBuilder& Connector(absl::string_view connector);
  AlertBuilder& Role(v1::ServerRole role);
  // Any other label; part of the alert's identity.
  AlertBuilder& Label(absl::string_view name, absl::string_view value);
  AlertBuilder& Summary(absl::string_view summary);
  AlertBuilder& Description(absl::string_view description);
  AlertBuilder& Annotation(absl::string_view name, absl::string_view value);

  v1::Alert Build() const;

 private:
  v1::Alert alert_;
};

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_ALERT_H_
