<#
.SYNOPSIS
    Writes what syncwatch-agent reads from a Microsoft Entra Connect Sync (Azure AD Connect)
    server into its drop folders: run history, pending exports, export errors, settings and
    the server's configuration (connectors and sync rules).

.DESCRIPTION
    Runs on the sync server as a scheduled task (see README.md in this folder). Each run
    writes new files, every one of them atomically: it is written under <OutputRoot>\.partial
    and then renamed into its drop folder (same volume), so the agent sees either no file or
    the whole file, never a half-written one. Files are UTF-8 without a byte-order mark,
    except csexport's own XML, which is moved as csexport wrote it (the agent reads UTF-8 and
    UTF-16, and ignores the encoding the XML declaration claims).

      <OutputRoot>\runs\<stamp>.json
          Get-ADSyncRunProfileResult -NumberRequested <RunHistoryCount> -RunStepDetails
          | ConvertTo-Json -Depth 6 (always a JSON array).            agent: kind run_history, format json
      <OutputRoot>\pending\<stamp>_<connector id>_<connector name>.xml
          csexport "<connector>" <file> /f:x, one per connector.     agent: kind pending_exports, format csexport
      <OutputRoot>\errors\<stamp>_<connector id>_<connector name>.xml
          csexport "<connector>" <file> /f:e, one per connector.     agent: kind export_errors, format csexport
      <OutputRoot>\settings\<stamp>.json
          {"Scheduler": Get-ADSyncScheduler, "DeletionThreshold": Get-ADSyncExportDeletionThreshold,
           "GlobalSettings": Get-ADSyncGlobalSettings}, any of them null when its cmdlet failed.
                                                                      agent: kind settings, format json
      <OutputRoot>\config\<stamp>\
          Get-ADSyncServerConfiguration -Path: Connectors\, SynchronizationRules\, GlobalSettings\.
          The whole folder is built under .partial\ and renamed into config\ at once, and only
          when it differs from the newest folder already there (ignoring what changes on
          every sync: partition cookies and watermarks, versions, modification times).
                                                                      agent: kind server_configuration, format folder

    <stamp> is the UTC time of the run (yyyyMMddTHHmmssfffZ), so that file names sort in time
    order. The connector's GUID and name are in the csexport file names because a csexport of
    an empty pending set names no connector inside the file.

    The script never prompts (run it with powershell.exe -NonInteractive) and never handles
    credentials. Each part is independent: a failing cmdlet is logged and the others still
    run; the exit code is 1 when any part failed, 0 otherwise.

.PARAMETER OutputRoot
    Folder holding the drop folders. Default: $env:ProgramData\syncwatch\in.

.PARAMETER RunHistoryCount
    How many of the most recent runs to export each time (-NumberRequested). Runs repeat
    between exports; the collector keeps each run once. Keep the file under the agent's
    64 MiB limit for run-history JSON: with -RunStepDetails a run with thousands of errors
    is large. Default: 30.

.PARAMETER RetentionHours
    Files older than this are deleted from the drop folders, except the newest file of each
    connector (pending/errors) or the newest file (runs/settings). Default: 48.

.PARAMETER ConnectorName
    Export connector spaces of these connectors only (names as Get-ADSyncConnector shows
    them). Default: all connectors.

.PARAMETER AADUserName
    Passed to Get-ADSyncExportDeletionThreshold on ADSync builds whose cmdlet requires
    -AADUserName (DOMAIN.md §2.2: the parameter changed across versions). Without it, such
    builds skip the deletion threshold (the global settings still carry a local copy).

.PARAMETER CsExportPath
    csexport.exe. Default: the ADSync Bin folder under Program Files.

.PARAMETER SkipCsExport
    Do not run csexport (pending exports and export errors).

.PARAMETER SkipServerConfiguration
    Do not export the server configuration (Get-ADSyncServerConfiguration).

.PARAMETER CsExportWhileSyncRuns
    Run csexport even while a sync cycle is in progress. By default csexport is skipped
    then: the pending set changes under it anyway, and the export stays off the engine's
    database while it works.

.EXAMPLE
    powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File Export-SyncwatchData.ps1
#>
[CmdletBinding()]
param(
    [string] $OutputRoot = (Join-Path $env:ProgramData 'syncwatch\in'),
    [ValidateRange(1, 1000)]
    [int] $RunHistoryCount = 30,
    [ValidateRange(1, 8760)]
    [int] $RetentionHours = 48,
    [string[]] $ConnectorName = @(),
    [string] $AADUserName = '',
    [string] $CsExportPath = (Join-Path $env:ProgramFiles 'Microsoft Azure AD Sync\Bin\csexport.exe'),
    [switch] $SkipCsExport,
    [switch] $SkipServerConfiguration,
    [switch] $CsExportWhileSyncRuns
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$Invariant = [System.Globalization.CultureInfo]::InvariantCulture
$Utf8NoBom = New-Object System.Text.UTF8Encoding($false)
$Stamp = [DateTime]::UtcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", $Invariant)
$Folders = @{
    runs     = Join-Path $OutputRoot 'runs'
    pending  = Join-Path $OutputRoot 'pending'
    errors   = Join-Path $OutputRoot 'errors'
    settings = Join-Path $OutputRoot 'settings'
    config   = Join-Path $OutputRoot 'config'
    partial  = Join-Path $OutputRoot '.partial'
    logs     = Join-Path $OutputRoot 'logs'
}
$LogFile = Join-Path $Folders.logs 'Export-SyncwatchData.log'
$script:Failures = 0

# ---- helpers ---------------------------------------------------------------

function Write-Log([string] $Level, [string] $Message) {
    $line = '{0} {1} {2}' -f [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $Invariant), $Level, $Message
    try {
        # Keep the log small: start over past 5 MB (one old copy is kept).
        if ((Test-Path -LiteralPath $LogFile) -and (Get-Item -LiteralPath $LogFile).Length -gt 5MB) {
            Move-Item -LiteralPath $LogFile -Destination "$LogFile.old" -Force
        }
        [System.IO.File]::AppendAllText($LogFile, $line + "`r`n", $Utf8NoBom)
    } catch {
        # Logging must never stop an export.
    }
    if ($Level -eq 'ERROR') { Write-Warning $Message } else { Write-Verbose $Message }
}

# Runs one part of the export; a failure is logged and counted, and the other parts go on.
function Invoke-Part([string] $Name, [scriptblock] $Body) {
    try {
        & $Body
    } catch {
        $script:Failures++
        Write-Log 'ERROR' ("{0}: {1}" -f $Name, $_.Exception.Message)
    }
}

# A file name part from a connector name: only the characters Windows forbids are replaced.
function ConvertTo-SafeFileName([string] $Text) {
    $invalid = [System.IO.Path]::GetInvalidFileNameChars()
    $chars = $Text.ToCharArray() | ForEach-Object { if ($invalid -contains $_) { '_' } else { $_ } }
    return (-join $chars).Trim()
}

# A fresh path in the staging folder. It lives on the same volume as the drop folders, so
# publishing is a rename, and outside them, so the agent's globs never see a partial file.
function New-PartialPath([string] $Extension) {
    return Join-Path $Folders.partial ('{0}{1}' -f [Guid]::NewGuid().ToString('N'), $Extension)
}

# Renames a finished staging file into its drop folder (fails rather than overwrites).
function Publish-File([string] $PartialPath, [string] $Folder, [string] $FileName) {
    [System.IO.File]::Move($PartialPath, (Join-Path $Folder $FileName))
    Write-Log 'INFO' ("wrote {0}" -f (Join-Path $Folder $FileName))
}

function Write-TextFile([string] $Folder, [string] $FileName, [string] $Text) {
    $partial = New-PartialPath '.tmp'
    try {
        [System.IO.File]::WriteAllText($partial, $Text, $Utf8NoBom)
        Publish-File $partial $Folder $FileName
    } finally {
        if (Test-Path -LiteralPath $partial) { Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue }
    }
}

# The value of a property that older ADSync builds may lack, or $null.
function Get-OptionalProperty($Object, [string] $Name) {
    if ($null -eq $Object) { return $null }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

# TimeSpan as "[d.]hh:mm:ss[.fffffff]" (the constant format), the form the agent parses.
function Format-TimeSpan($Value) {
    if ($null -eq $Value) { return $null }
    return ([TimeSpan] $Value).ToString('c', $Invariant)
}

# DateTime as ISO 8601 UTC. Windows PowerShell's ConvertTo-Json would write "\/Date(ms)\/"
# and shift a DateTime of unspecified kind by the server's UTC offset, so dates are written
# as strings. A value of unspecified kind is taken as UTC (the scheduler's property says
# "InUTC").
function Format-UtcTime($Value) {
    if ($null -eq $Value) { return $null }
    $t = [DateTime] $Value
    if ($t.Kind -eq [DateTimeKind]::Local) { $t = $t.ToUniversalTime() }
    else { $t = [DateTime]::SpecifyKind($t, [DateTimeKind]::Utc) }
    return $t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $Invariant)
}

# A property value as text, or $null when it has none (an empty string would not parse).
function Format-Text($Value) {
    if ($null -eq $Value) { return $null }
    return [string] $Value
}

# A property value for JSON: enums as their number (ConvertTo-Json's own choice, and what the
# agent reads for DeletionPrevention), dates and time spans as above, other objects as text.
function ConvertTo-JsonScalar($Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [Enum]) { return [int64] $Value }
    if ($Value -is [DateTime]) { return Format-UtcTime $Value }
    if ($Value -is [TimeSpan]) { return Format-TimeSpan $Value }
    if ($Value -is [bool] -or $Value -is [string] -or $Value -is [int] -or $Value -is [int64] -or
        $Value -is [uint32] -or $Value -is [double] -or $Value -is [decimal]) { return $Value }
    return [string] $Value
}

function Test-MandatoryParameter($Command, [string] $Name) {
    $parameter = $Command.Parameters[$Name]
    if ($null -eq $parameter) { return $false }
    foreach ($attribute in $parameter.Attributes) {
        if ($attribute -is [System.Management.Automation.ParameterAttribute] -and $attribute.Mandatory) { return $true }
    }
    return $false
}

# ---- the parts --------------------------------------------------------------

function Export-RunHistory {
    $runs = @(Get-ADSyncRunProfileResult -NumberRequested $RunHistoryCount -RunStepDetails)
    # -InputObject with an array writes an array whatever the count ("[]" for none); the
    # pipeline form would write a bare object for one run. Depth 6 reaches RunStepResults'
    # XML blobs.
    $json = ConvertTo-Json -InputObject $runs -Depth 6
    Write-TextFile $Folders.runs ('{0}.json' -f $Stamp) $json
}

function Get-SchedulerRecord {
    $s = Get-ADSyncScheduler
    # Normalised to plain values (see Format-*); the agent also reads the raw ConvertTo-Json
    # forms, but these carry no time-zone trap.
    return [ordered] @{
        AllowedSyncCycleInterval            = Format-TimeSpan (Get-OptionalProperty $s 'AllowedSyncCycleInterval')
        CurrentlyEffectiveSyncCycleInterval = Format-TimeSpan (Get-OptionalProperty $s 'CurrentlyEffectiveSyncCycleInterval')
        CustomizedSyncCycleInterval         = Format-TimeSpan (Get-OptionalProperty $s 'CustomizedSyncCycleInterval')
        NextSyncCyclePolicyType             = Format-Text (Get-OptionalProperty $s 'NextSyncCyclePolicyType')
        NextSyncCycleStartTimeInUTC         = Format-UtcTime (Get-OptionalProperty $s 'NextSyncCycleStartTimeInUTC')
        PurgeRunHistoryInterval             = Format-TimeSpan (Get-OptionalProperty $s 'PurgeRunHistoryInterval')
        SyncCycleEnabled                    = Get-OptionalProperty $s 'SyncCycleEnabled'
        MaintenanceEnabled                  = Get-OptionalProperty $s 'MaintenanceEnabled'
        StagingModeEnabled                  = Get-OptionalProperty $s 'StagingModeEnabled'
        SchedulerSuspended                  = Get-OptionalProperty $s 'SchedulerSuspended'
        # Added to the scheduler in early 2017; older builds leave it null.
        SyncCycleInProgress                 = Get-OptionalProperty $s 'SyncCycleInProgress'
    }
}

function Get-DeletionThresholdRecord {
    $command = Get-Command Get-ADSyncExportDeletionThreshold -ErrorAction SilentlyContinue
    if ($null -eq $command) {
        Write-Log 'INFO' 'Get-ADSyncExportDeletionThreshold is not available on this build; skipped'
        return $null
    }
    # Current builds take -AADUserName, older ones -AADCredential, and whether either is
    # mandatory changed across versions (DOMAIN.md §2.2). Never let the cmdlet prompt.
    $arguments = @{}
    if ($command.Parameters.ContainsKey('AADUserName')) {
        if ($AADUserName) {
            $arguments['AADUserName'] = $AADUserName
        } elseif (Test-MandatoryParameter $command 'AADUserName') {
            Write-Log 'INFO' 'Get-ADSyncExportDeletionThreshold needs -AADUserName on this build; pass -AADUserName to export the tenant threshold (skipped)'
            return $null
        }
    }
    if (Test-MandatoryParameter $command 'AADCredential') {
        Write-Log 'INFO' 'Get-ADSyncExportDeletionThreshold asks for a credential on this build; the exporter never handles credentials (skipped)'
        return $null
    }
    $result = @(Get-ADSyncExportDeletionThreshold @arguments)
    if ($result.Count -eq 0 -or $null -eq $result[0]) { return $null }
    # The property names are not documented (DOMAIN.md open question 1): every property is
    # passed through; the agent reads DeletionPrevention, ThresholdCount, ThresholdPercentage.
    $record = [ordered] @{}
    if ($result[0] -is [System.Collections.IDictionary]) {
        foreach ($key in $result[0].Keys) { $record[[string] $key] = ConvertTo-JsonScalar $result[0][$key] }
    } else {
        foreach ($property in $result[0].PSObject.Properties) {
            $record[$property.Name] = ConvertTo-JsonScalar $property.Value
        }
    }
    return $record
}

function Get-GlobalSettingsRecord {
    $settings = Get-ADSyncGlobalSettings
    # Only Name and Value: the agent reads a handful of parameters (settings_json.h).
    $parameters = @(Get-OptionalProperty $settings 'Parameters' | Where-Object { $null -ne $_ } | ForEach-Object {
        [ordered] @{
            Name  = Format-Text (Get-OptionalProperty $_ 'Name')
            Value = Format-Text (Get-OptionalProperty $_ 'Value')
        }
    })
    return [ordered] @{ Parameters = $parameters }
}

function Export-Settings {
    $document = [ordered] @{
        SchemaVersion     = 1
        ExportedAtUtc     = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $Invariant)
        Server            = $env:COMPUTERNAME
        Scheduler         = $null
        DeletionThreshold = $null
        GlobalSettings    = $null
    }
    Invoke-Part 'Get-ADSyncScheduler' { $document.Scheduler = Get-SchedulerRecord }
    Invoke-Part 'Get-ADSyncExportDeletionThreshold' { $document.DeletionThreshold = Get-DeletionThresholdRecord }
    Invoke-Part 'Get-ADSyncGlobalSettings' { $document.GlobalSettings = Get-GlobalSettingsRecord }
    if ($null -eq $document.Scheduler -and $null -eq $document.DeletionThreshold -and $null -eq $document.GlobalSettings) {
        throw 'no settings could be read; no settings file written'
    }
    Write-TextFile $Folders.settings ('{0}.json' -f $Stamp) (ConvertTo-Json -InputObject $document -Depth 5)
}

# A digest of a configuration folder's connectors and rules, without the parts that change on
# every sync (partition cookies and watermarks, versions, modification times), so that an
# unchanged configuration is not published again.
function Get-ConfigurationDigest([string] $Folder) {
    $volatile = '<(cookie|water-mark|version|last-modification-time|creation-time)>[^<]*</\1>'
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $lines = foreach ($sub in 'Connectors', 'SynchronizationRules') {
            $dir = Join-Path $Folder $sub
            if (-not (Test-Path -LiteralPath $dir)) { continue }
            Get-ChildItem -LiteralPath $dir -File | Sort-Object Name | ForEach-Object {
                $text = [System.IO.File]::ReadAllText($_.FullName) -replace $volatile, ''
                $hash = $sha.ComputeHash($Utf8NoBom.GetBytes($text))
                '{0}/{1}:{2}' -f $sub, $_.Name, [BitConverter]::ToString($hash)
            }
        }
        return [BitConverter]::ToString($sha.ComputeHash($Utf8NoBom.GetBytes(($lines -join "`n"))))
    } finally {
        $sha.Dispose()
    }
}

function Export-ServerConfiguration {
    # Built under .partial\ and renamed whole, so the agent never sees half a folder.
    $partial = New-PartialPath ''
    try {
        Get-ADSyncServerConfiguration -Path $partial | Out-Null
        if (-not (Test-Path -LiteralPath (Join-Path $partial 'SynchronizationRules'))) {
            throw "Get-ADSyncServerConfiguration wrote no SynchronizationRules folder in $partial"
        }
        $newest = Get-ChildItem -LiteralPath $Folders.config -Directory |
            Where-Object { -not $_.Name.StartsWith('.') } | Sort-Object Name | Select-Object -Last 1
        if ($null -ne $newest -and (Get-ConfigurationDigest $newest.FullName) -eq (Get-ConfigurationDigest $partial)) {
            Write-Log 'INFO' ("server configuration unchanged since {0}" -f $newest.Name)
            return
        }
        $target = Join-Path $Folders.config $Stamp
        [System.IO.Directory]::Move($partial, $target)
        Write-Log 'INFO' ("wrote {0}" -f $target)
    } finally {
        if (Test-Path -LiteralPath $partial) { Remove-Item -LiteralPath $partial -Recurse -Force -ErrorAction SilentlyContinue }
    }
}

# Deletes configuration folders older than the retention, but always keeps the newest.
function Remove-OldConfigurationFolders {
    $cutoff = [DateTime]::UtcNow.AddHours(-$RetentionHours)
    Get-ChildItem -LiteralPath $Folders.config -Directory | Where-Object { -not $_.Name.StartsWith('.') } |
        Sort-Object Name -Descending | Select-Object -Skip 1 |
        Where-Object { $_.LastWriteTimeUtc -lt $cutoff } |
        ForEach-Object { Remove-Item -LiteralPath $_.FullName -Recurse -Force -ErrorAction SilentlyContinue }
}

function Test-SyncCycleRunning {
    try {
        $scheduler = Get-ADSyncScheduler
        if ((Get-OptionalProperty $scheduler 'SyncCycleInProgress') -eq $true) { return $true }
    } catch { }
    try {
        # Empty while the engine is idle (DOMAIN.md §1.2).
        if (@(Get-ADSyncConnectorRunStatus).Count -gt 0) { return $true }
    } catch { }
    return $false
}

# csexport "<connector>" <file> /f:<filter>, published as <stamp>_<id>_<name>.xml.
function Export-ConnectorSpace($Connector, [string] $Filter, [string] $Folder) {
    # csexport refuses to overwrite a file, so it gets a fresh name in the staging folder.
    $partial = New-PartialPath '.xml'
    try {
        # Windows PowerShell turns a native program's stderr into errors, which 'Stop' would
        # throw on the first line; the exit code decides instead.
        $ErrorActionPreference = 'Continue'
        $output = & $CsExportPath $Connector.Name $partial "/f:$Filter" 2>&1
        $exitCode = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
        if ($exitCode -ne 0) {
            throw ("csexport /f:{0} for '{1}' exited with {2}: {3}" -f $Filter, $Connector.Name, $exitCode, (($output | Out-String).Trim()))
        }
        if (-not (Test-Path -LiteralPath $partial)) {
            # Assumed: an empty set may leave no file. Writing an empty document keeps the
            # agent's snapshot current (it names the connector from the file name).
            [System.IO.File]::WriteAllText($partial, "<?xml version=`"1.0`" encoding=`"utf-8`"?>`r`n<cs-objects/>`r`n", $Utf8NoBom)
        }
        $name = '{0}_{1}_{2}.xml' -f $Stamp, $Connector.Identifier.ToString().ToLowerInvariant(), (ConvertTo-SafeFileName $Connector.Name)
        Publish-File $partial $Folder $name
    } finally {
        if (Test-Path -LiteralPath $partial) { Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue }
    }
}

function Export-ConnectorSpaces {
    if (-not (Test-Path -LiteralPath $CsExportPath)) { throw "csexport not found at $CsExportPath" }
    if (-not $CsExportWhileSyncRuns -and (Test-SyncCycleRunning)) {
        Write-Log 'INFO' 'a sync cycle is in progress: csexport skipped this time'
        return
    }
    foreach ($connector in @(Get-ADSyncConnector)) {
        if ($ConnectorName.Count -gt 0 -and $ConnectorName -notcontains $connector.Name) { continue }
        Invoke-Part ("csexport /f:x '{0}'" -f $connector.Name) { Export-ConnectorSpace $connector 'x' $Folders.pending }
        Invoke-Part ("csexport /f:e '{0}'" -f $connector.Name) { Export-ConnectorSpace $connector 'e' $Folders.errors }
    }
}

# Deletes files older than the retention, but keeps the newest file of each group (the part
# of the name after the stamp: the connector for csexport files, one group for the others),
# so that an agent that was down for long still finds the latest state.
function Remove-OldFiles([string] $Folder) {
    $cutoff = [DateTime]::UtcNow.AddHours(-$RetentionHours)
    $groups = Get-ChildItem -LiteralPath $Folder -File | Group-Object {
        $parts = $_.Name -split '_', 2
        if ($parts.Count -gt 1) { $parts[1] } else { '' }
    }
    foreach ($group in $groups) {
        $group.Group | Sort-Object LastWriteTimeUtc -Descending | Select-Object -Skip 1 |
            Where-Object { $_.LastWriteTimeUtc -lt $cutoff } |
            ForEach-Object { Remove-Item -LiteralPath $_.FullName -Force -ErrorAction SilentlyContinue }
    }
}

function Remove-StalePartialFiles {
    # Left behind only when a run was killed mid-write.
    $cutoff = [DateTime]::UtcNow.AddHours(-12)
    Get-ChildItem -LiteralPath $Folders.partial |
        Where-Object { $_.LastWriteTimeUtc -lt $cutoff } |
        ForEach-Object { Remove-Item -LiteralPath $_.FullName -Recurse -Force -ErrorAction SilentlyContinue }
}

# ---- main -------------------------------------------------------------------

foreach ($folder in $Folders.Values) {
    if (-not (Test-Path -LiteralPath $folder)) { New-Item -ItemType Directory -Path $folder -Force | Out-Null }
}

# One run at a time: a large csexport can outlast the task's interval.
$mutex = New-Object System.Threading.Mutex($false, 'Global\SyncwatchExportData')
$owned = $false
try {
    try {
        $owned = $mutex.WaitOne(0)
    } catch {
        # A previous run died holding it: the mutex is ours now.
        if ($_.Exception.GetBaseException() -is [System.Threading.AbandonedMutexException]) { $owned = $true } else { throw }
    }
    if (-not $owned) {
        Write-Log 'INFO' 'another export is still running; this run does nothing'
        exit 0
    }
    Write-Log 'INFO' ("export {0} started" -f $Stamp)
    Import-Module ADSync -ErrorAction Stop

    Invoke-Part 'run history' { Export-RunHistory }
    Invoke-Part 'settings' { Export-Settings }
    if (-not $SkipServerConfiguration) { Invoke-Part 'server configuration' { Export-ServerConfiguration } }
    if (-not $SkipCsExport) { Invoke-Part 'csexport' { Export-ConnectorSpaces } }

    Invoke-Part 'cleanup' {
        foreach ($kind in 'runs', 'pending', 'errors', 'settings') { Remove-OldFiles $Folders[$kind] }
        Remove-OldConfigurationFolders
        Remove-StalePartialFiles
    }
    Write-Log 'INFO' ("export {0} finished, {1} part(s) failed" -f $Stamp, $script:Failures)
} catch {
    $script:Failures++
    Write-Log 'ERROR' $_.Exception.Message
} finally {
    if ($owned) { $mutex.ReleaseMutex() }
    $mutex.Dispose()
}
if ($script:Failures -gt 0) { exit 1 }
exit 0
