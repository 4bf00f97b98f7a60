// The agent as a native Windows service (Windows only; agent/service_win.cc).
//
//   syncwatch-agent service install --config PATH   registers the service
//   syncwatch-agent service uninstall               removes it
//
// The service runs `syncwatch-agent --service --config PATH` under its virtual
// account NT SERVICE\syncwatch-agent, starts delayed-automatically and is
// restarted by the service manager when it fails. Warnings and errors go to
// the Application event log (source "syncwatch-agent", registered at install),
// every line to <data_dir>\logs\agent.log (size-capped, one older file kept).
#ifndef SYNCWATCH_AGENT_SERVICE_WIN_H_
#define SYNCWATCH_AGENT_SERVICE_WIN_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace syncwatch::agent {

inline constexpr wchar_t kServiceName[] = L"syncwatch-agent";

// `service install --config PATH` or `service uninstall` (args after
// "service"); prints what it did and returns the process's exit code: 0 done,
// 1 failed (the Windows error is printed), 2 usage.
int ServiceCommand(const std::vector<std::string>& args);

// Runs `body` as the service's main once the service manager connected
// (call it first thing when --service is given: the manager waits 30 s at
// most). `body` runs the agent until `*stop` becomes true (set on STOP and
// SHUTDOWN) and returns the exit code; a non-zero one makes the manager apply
// the failure actions (restart). Returns that code, or 1 when the process was
// not started by the service manager.
int RunAsService(const std::function<int()>& body, std::atomic<bool>* stop);

// Inside body: the agent is up (RUNNING), or it is draining after a stop
// request (STOP_PENDING, expected to take at most `wait_hint`). No-ops when
// not running as a service.
void ReportServiceRunning();
void ReportServiceStopping(absl::Duration wait_hint);

// Sends the log to <data_dir>\logs\agent.log (rotated past `max_bytes`, one
// older file kept) and warnings and errors to the event log as well; with an
// empty `data_dir` (no config yet), to the event log only.
void LogToFileAndEventLog(const std::string& data_dir, size_t max_bytes);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_SERVICE_WIN_H_
