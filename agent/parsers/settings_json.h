// Parser for the sync server's scheduler and deletion-threshold settings as
// PowerShell's ConvertTo-Json writes them (DOMAIN.md §2.2, §5).
#ifndef SYNCWATCH_AGENT_PARSERS_SETTINGS_JSON_H_
#define SYNCWATCH_AGENT_PARSERS_SETTINGS_JSON_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

// Reads settings JSON from `in` into `*out` (cleared first). `name` (usually
// the file path) prefixes every error message.
//
// Accepted documents (a top-level array of them is read item by item):
//  - the combined document deploy/windows/Export-SyncwatchData.ps1 writes:
//    {"Scheduler": {...}, "DeletionThreshold": {...}, "GlobalSettings": {...}}
//    with any subset of the three (null counts as absent; other keys are
//    ignored);
//  - `Get-ADSyncScheduler | ConvertTo-Json` (recognised by its properties);
//  - `Get-ADSyncExportDeletionThreshold | ConvertTo-Json`;
//  - `Get-ADSyncGlobalSettings | ConvertTo-Json` (an object with
//    "Parameters": an array of {"Name", "Value", ...}, or an object mapping
//    each name to its value or to {"Value": ...}).
// Property and parameter names are matched case-insensitively, as
// PowerShell does.
//
// Get-ADSyncScheduler (attested names, DOMAIN.md §5):
//  - CurrentlyEffectiveSyncCycleInterval -> sync_cycle_interval; without it,
//    CustomizedSyncCycleInterval when set and not below
//    AllowedSyncCycleInterval, else AllowedSyncCycleInterval (the
//    scheduler's documented rule). Time spans are "d.HH:mm:ss[.fffffff]" /
//    "HH:mm:ss" strings or ConvertTo-Json's TimeSpan object ({"Ticks": …,
//    "TotalMinutes": …}; Ticks first, else TotalMilliseconds, TotalSeconds,
//    TotalMinutes).
//  - NextSyncCyclePolicyType: a string kept as written ("Delta", "Initial",
//    "Unspecified" are normalised to that spelling), or the enum number
//    ConvertTo-Json writes: 0 = Unspecified, 1 = Delta, 2 = Initial
//    (assumed from the order Laparoscope lists them; not seen in a dump).
//  - NextSyncCycleStartTimeInUTC: ISO 8601 (no zone = UTC) or "\/Date(ms)\/".
//    A PowerShell DateTime wrapped as {"value": …, "DateTime": …} is unwrapped.
//  - PurgeRunHistoryInterval, SyncCycleEnabled, StagingModeEnabled,
//    SchedulerSuspended, SyncCycleInProgress (booleans: true/false, "True"/
//    "False", 0/1). MaintenanceEnabled is checked but has no field.
//
// Get-ADSyncExportDeletionThreshold — its property names are an open
// question (DOMAIN.md), so these assumed ones are read:
//  - DeletionPrevention: the enabled flag, as a boolean, 0/1 (attested as
//    "1/0" in Laparoscope's comments), or 2 / "EnabledForPercentage" /
//    "EnabledForCount" / "Disabled" (Graph's synchronizationPreventionType
//    values, in case the cmdlet passes that enum through);
//  - ThresholdCount: the threshold in objects;
//  - ThresholdPercentage: checked (0..100) but ServerSettings has no field
//    for it; when DeletionPrevention says "percentage", the count is not what
//    the service enforces and deletion_threshold is left 0 ("unknown").
//
// Get-ADSyncGlobalSettings parameters (names attested, value formats partly):
//  Microsoft.Synchronize.StagingMode, .TimeInterval, .RunHistoryPurgeInterval,
//  .SynchronizationPolicy, .SchedulerSuspended, .NextStartTime (read only
//  when it parses as a time: its format is not attested),
//  Microsoft.OptionalFeature.ExportDeletionThreshold (enabled) and
//  .ExportDeletionThresholdValue (count). Others are ignored.
//
// Precedence: the scheduler's own properties over the global-settings copies;
// for the deletion threshold, Get-ADSyncExportDeletionThreshold (the tenant's
// authoritative value) over the local global settings, field by field
// (DOMAIN.md §2.2). deletion_threshold_known is set only when at least one
// threshold source was present. Fields no source gave keep their defaults.
//
// Input: UTF-8 (BOM optional) or UTF-16 with a BOM (Windows PowerShell 5.1's
// Out-File default), at most 4 MiB, nesting at most 32 deep.
// InvalidArgument("<name>:<line>: <Property>: <problem>") for bad values
// (e.g. "settings.json:4: Scheduler.SyncCycleEnabled: expected true or
// false, got \"maybe\""), JSON syntax errors ("<name>:<line>: JSON …"), and
// documents that hold no settings. Errors of `in` are returned unchanged.
absl::Status ParseSettingsJson(ByteReader& in, absl::string_view name, v1::ServerSettings* out);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_SETTINGS_JSON_H_
