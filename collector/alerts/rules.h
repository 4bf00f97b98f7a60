// The alert rules: pure functions from facts (facts.h) and thresholds
// (alerts_options.h) to the alerts that should be firing now. Whatever they
// return is the complete truth for the names they own (see *AlertNames()); the
// AlertStore turns the difference to what was firing into fired and resolved
// transitions.
//
// Server rules (scope "server/<name>"), every alert labelled server, tenant
// and role (active|staging), plus connector where it is about one:
//  - PendingDeletesOverThreshold (critical): the Entra ID connector's pending
//    deletes exceed the tenant's export deletion threshold (the engine stops
//    an export above it; exactly at it is not exceeded).
//  - PendingDeletesNearThreshold (warning): they reach warn_at_percent of it;
//    with the threshold disabled (label deletion_threshold="disabled"), when
//    they reach that share of the nominal threshold, whatever the count.
//  - DeletionThresholdStoppedExport (critical): a connector's latest export
//    run ended `stopped-deletion-threshold-exceeded`.
//  - PendingDeletesShareHigh (warning): any connector, deletes >= percent of
//    its objects and >= min_deletes.
//  - PendingDeletesSurge (warning): any connector, deletes >= min_deletes and
//    > factor x the median of its previous snapshots.
//    These four carry `causes` (ConnectorSnapshot::causes, issue 18): the
//    probable causes with their evidence; the summary names the first.
//  - SyncRunStopped (critical): the latest run of a kind (import, sync,
//    export) on a connector ended `stopped-*` (labels operation, result).
//  - SyncCycleOverdue (warning): no successful run for longer than
//    interval_multiple x the scheduler interval.
//  - ExportErrorsHigh (warning): more active export errors on a connector
//    than export_errors.max.
//  - StagingConfigurationDrift (warning): a staging server's configuration differs
//    from its tenant's active server's (collector/config/config_diff.h).
//  - AgentSilent (critical): nothing heard from the agent for longer than
//    agent_silent.after.
// Tenant rules (scope "tenant/<tenant>"), labelled tenant, attribute, value:
//  - DuplicateAttributeValue (warning): duplicate-value export errors
//    (AttributeValueMustBeUnique, QuarantinedAttributeValueMustBeUnique,
//    InvalidSoftMatch, ObjectTypeMismatch) grouped by attribute and value,
//    naming every object that claims the value and since when.
//  - DuplicateAttributeValuePredicted (warning): pending adds/updates of the
//    Entra ID connector that will export a userPrincipalName, mail or
//    proxyAddresses value that another object of the tenant (another pending
//    change or an object with a duplicate-value error) claims too.
#ifndef SYNCWATCH_COLLECTOR_ALERTS_RULES_H_
#define SYNCWATCH_COLLECTOR_ALERTS_RULES_H_

#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "collector/alerts/alerts_options.h"
#include "collector/alerts/facts.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::alerts {

// AgentSilent. Needs only facts.info, firing and watching_since.
std::vector<v1::Alert> ServerLivenessAlerts(const ServerFacts& facts, const RuleSettings& settings,
                                            absl::Time now);

// Every other server rule.
std::vector<v1::Alert> ServerDataAlerts(const ServerFacts& facts, const RuleSettings& settings,
                                        absl::Time now);

// The uniqueness rules over all servers of one tenant.
std::vector<v1::Alert> TenantAlerts(const TenantFacts& facts, const RuleSettings& settings);

// The alert names each function above may return.
const std::set<std::string>& LivenessAlertNames();
const std::set<std::string>& ServerDataAlertNames();
const std::set<std::string>& TenantAlertNames();

// The scopes alerts are kept under.
std::string ServerScope(const std::string& server);
std::string TenantScope(const std::string& tenant_group);

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_RULES_H_
