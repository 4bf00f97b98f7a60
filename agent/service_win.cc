#include "agent/service_win.h"

#include <windows.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/win_util.h"
#include "common/log.h"

namespace syncwatch::agent {
namespace {

using win::ErrorText;
using win::Narrow;
using win::Widen;

constexpr wchar_t kDisplayName[] = L"syncwatch agent";
constexpr wchar_t kDescription[] =
    L"Reads what the Entra Connect sync engine exports and streams it to syncwatch collectors.";
constexpr wchar_t kAccount[] = L"NT SERVICE\\syncwatch-agent";
constexpr wchar_t kEventLogKey[] =
    L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\syncwatch-agent";

// Closes an SC_HANDLE.
class ScHandle {
 public:
  explicit ScHandle(SC_HANDLE h = nullptr) : h_(h) {}
  ~ScHandle() {
    if (h_ != nullptr) ::CloseServiceHandle(h_);
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
  SC_HANDLE get() const { return h_; }

 private:
  SC_HANDLE h_;
};

int Failed(const std::string& what, DWORD code) {
  std::fprintf(stderr, "syncwatch-agent service: %s: %s\n", what.c_str(), ErrorText(code).c_str());
  return 1;
}

// `"EXE" --service --config "CONFIG"`, quoted for the service manager.
std::wstring ServiceCommandLine(const std::wstring& exe, const std::wstring& config) {
  return L"\"" + exe + L"\" --service --config \"" + config + L"\"";
}

std::wstring ExePath() {
  std::wstring path(32768, L'\0');
  const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(n);
  return path;
}

// What SERVICE_CONFIG_DELAYED_AUTO_START_INFO stores, for service managers
// that lack that level.
bool SetDelayedAutostartValue() {
  const std::wstring key_path =
      std::wstring(L"SYSTEM\\CurrentControlSet\\Services\\") + kServiceName;
  HKEY key = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, key_path.c_str(), 0, KEY_SET_VALUE, &key) !=
      ERROR_SUCCESS) {
    return false;
  }
  const DWORD one = 1;
  const bool ok =
      ::RegSetValueExW(key, L"DelayedAutostart", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&one),
                       sizeof(one)) == ERROR_SUCCESS;
  ::RegCloseKey(key);
  return ok;
}

int Install(const std::string& config) {
  absl::StatusOr<std::wstring> wconfig = Widen(config);
  if (!wconfig.ok()) {
    std::fprintf(stderr, "syncwatch-agent service: %s\n",
                 std::string(wconfig.status().message()).c_str());
    return 2;
  }
  wchar_t full[MAX_PATH * 4];
  if (::GetFullPathNameW(wconfig->c_str(), MAX_PATH * 4, full, nullptr) == 0) {
    return Failed("cannot resolve " + config, ::GetLastError());
  }
  if (::GetFileAttributesW(full) == INVALID_FILE_ATTRIBUTES) {
    return Failed("cannot read the config " + Narrow(full), ::GetLastError());
  }
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (scm.get() == nullptr) return Failed("cannot open the service manager", ::GetLastError());
  const std::wstring command = ServiceCommandLine(ExePath(), full);
  ScHandle service(::CreateServiceW(scm.get(), kServiceName, kDisplayName, SERVICE_ALL_ACCESS,
                                    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                    SERVICE_ERROR_NORMAL, command.c_str(), nullptr, nullptr,
                                    nullptr, kAccount, nullptr));
  if (service.get() == nullptr) return Failed("cannot create the service", ::GetLastError());

  SERVICE_DESCRIPTIONW description{const_cast<wchar_t*>(kDescription)};
  SERVICE_DELAYED_AUTO_START_INFO delayed{TRUE};
  // Restart after 1 min, 1 min, then 5 min; the count resets after a day
  // without failure. Events wait in the spool meanwhile: nothing is lost.
  SC_ACTION actions[3] = {
      {SC_ACTION_RESTART, 60000}, {SC_ACTION_RESTART, 60000}, {SC_ACTION_RESTART, 300000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 86400;
  failure.cActions = 3;
  failure.lpsaActions = actions;
  // Also when the agent stops itself with an error (a non-zero exit code),
  // not only when it crashes.
  SERVICE_FAILURE_ACTIONS_FLAG on_error{TRUE};
  SERVICE_SID_INFO sid{SERVICE_SID_TYPE_UNRESTRICTED};
  const struct {
    DWORD level;
    void* info;
    const char* what;
  } settings[] = {
      {SERVICE_CONFIG_DESCRIPTION, &description, "description"},
      {SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed, "delayed automatic start"},
      {SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "restart-on-failure actions"},
      {SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_error, "failure actions on error exits"},
      {SERVICE_CONFIG_SERVICE_SID_INFO, &sid, "service SID"},
  };
  for (const auto& s : settings) {
    if (::ChangeServiceConfig2W(service.get(), s.level, s.info)) continue;
    const DWORD e = ::GetLastError();
    if (e == ERROR_INVALID_LEVEL && s.level == SERVICE_CONFIG_DELAYED_AUTO_START_INFO &&
        SetDelayedAutostartValue()) {
      continue;  // a service manager without the API level (Wine): the registry value
    }
    if (e == ERROR_INVALID_LEVEL) {  // not supported by this service manager (Wine)
      std::fprintf(stderr,
                   "syncwatch-agent service: warning: this service manager cannot set the "
                   "service's %s\n",
                   s.what);
      continue;
    }
    ::DeleteService(service.get());
    return Failed(absl::StrCat("cannot set the service's ", s.what), e);
  }

  // The event log source, so that Event Viewer files the agent's warnings
  // and errors under "syncwatch-agent".
  HKEY key = nullptr;
  LSTATUS rc = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kEventLogKey, 0, nullptr, 0, KEY_SET_VALUE,
                                 nullptr, &key, nullptr);
  if (rc == ERROR_SUCCESS) {
    const DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    const std::wstring exe = ExePath();
    rc = ::RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD,
                          reinterpret_cast<const BYTE*>(&types), sizeof(types));
    if (rc == ERROR_SUCCESS) {
      rc = ::RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ,
                            reinterpret_cast<const BYTE*>(exe.c_str()),
                            static_cast<DWORD>((exe.size() + 1) * sizeof(wchar_t)));
    }
    ::RegCloseKey(key);
  }
  if (rc != ERROR_SUCCESS) {
    ::DeleteService(service.get());
    return Failed("cannot register the event log source", static_cast<DWORD>(rc));
  }
  std::printf("installed service %s (%s), delayed automatic start, account %s\n",
              Narrow(kServiceName).c_str(), Narrow(command).c_str(), Narrow(kAccount).c_str());
  std::printf("grant %s write access to the config's data_dir, then: net start %s\n",
              Narrow(kAccount).c_str(), Narrow(kServiceName).c_str());
  return 0;
}

int Uninstall() {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (scm.get() == nullptr) return Failed("cannot open the service manager", ::GetLastError());
  ScHandle service(
      ::OpenServiceW(scm.get(), kServiceName, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (service.get() == nullptr) return Failed("cannot open the service", ::GetLastError());
  SERVICE_STATUS status{};
  if (::ControlService(service.get(), SERVICE_CONTROL_STOP, &status)) {
    std::printf("stopping %s\n", Narrow(kServiceName).c_str());
    for (int i = 0; i < 120 && status.dwCurrentState != SERVICE_STOPPED; ++i) {
      ::Sleep(500);
      if (!::QueryServiceStatus(service.get(), &status)) break;
    }
  }
  if (!::DeleteService(service.get())) return Failed("cannot delete the service", ::GetLastError());
  ::RegDeleteKeyW(HKEY_LOCAL_MACHINE, kEventLogKey);
  std::printf("uninstalled service %s\n", Narrow(kServiceName).c_str());
  return 0;
}

// --- Running under the service manager --------------------------------------

struct ServiceState {
  SERVICE_STATUS_HANDLE handle = nullptr;
  SERVICE_STATUS status{};
  std::mutex mu;
  const std::function<int()>* body = nullptr;
  std::atomic<bool>* stop = nullptr;
  int exit_code = 1;
};
ServiceState g_service;

void SetState(DWORD state, DWORD wait_hint_ms, int exit_code = 0) {
  std::lock_guard<std::mutex> lock(g_service.mu);
  if (g_service.handle == nullptr) return;
  SERVICE_STATUS& s = g_service.status;
  s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  s.dwCurrentState = state;
  s.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  s.dwWaitHint = wait_hint_ms;
  s.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : s.dwCheckPoint + 1;
  s.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  s.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
  ::SetServiceStatus(g_service.handle, &s);
}

DWORD WINAPI OnControl(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      // Drain as on SIGTERM: the body sees `stop` and reports STOP_PENDING.
      g_service.stop->store(true);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI ServiceMain(DWORD, wchar_t**) {
  g_service.handle = ::RegisterServiceCtrlHandlerExW(kServiceName, OnControl, nullptr);
  if (g_service.handle == nullptr) return;
  SetState(SERVICE_START_PENDING, 30000);
  g_service.exit_code = (*g_service.body)();
  SetState(SERVICE_STOPPED, 0, g_service.exit_code);
}

// The log file: <data_dir>\logs\agent.log, renamed to agent.log.1 (replacing
// it) once it grows past the cap.
struct LogFile {
  std::mutex mu;
  std::filesystem::path path;
  std::FILE* file = nullptr;
  size_t size = 0;
  size_t max_bytes = 0;
  HANDLE event_source = nullptr;
};
LogFile g_log;

void OpenLogFile() {
  g_log.file = ::_wfopen(g_log.path.c_str(), L"ab");
  g_log.size = 0;
  std::error_code ec;
  const auto size = std::filesystem::file_size(g_log.path, ec);
  if (!ec) g_log.size = static_cast<size_t>(size);
}

void SinkToFileAndEventLog(LogLevel level, absl::string_view line) {
  std::lock_guard<std::mutex> lock(g_log.mu);
  if (g_log.file != nullptr && g_log.size + line.size() > g_log.max_bytes) {
    std::fclose(g_log.file);
    std::error_code ec;
    std::filesystem::path older = g_log.path;
    older += ".1";
    std::filesystem::rename(g_log.path, older, ec);
    OpenLogFile();
  }
  if (g_log.file != nullptr) {
    std::fwrite(line.data(), 1, line.size(), g_log.file);
    std::fflush(g_log.file);
    g_log.size += line.size();
  }
  if (level >= LogLevel::kWarning && g_log.event_source != nullptr) {
    absl::StatusOr<std::wstring> text = Widen(std::string(line));
    if (text.ok()) {
      const wchar_t* strings[1] = {text->c_str()};
      ::ReportEventW(g_log.event_source,
                     level == LogLevel::kError ? EVENTLOG_ERROR_TYPE : EVENTLOG_WARNING_TYPE, 0,
                     level == LogLevel::kError ? 3 : 2, nullptr, 1, 0, strings, nullptr);
    }
  }
}

}  // namespace

int ServiceCommand(const std::vector<std::string>& args) {
  if (args.size() == 3 && args[0] == "install" && (args[1] == "--config" || args[1] == "-config")) {
    return Install(args[2]);
  }
  if (args.size() == 2 && args[0] == "install" && args[1].rfind("--config=", 0) == 0) {
    return Install(args[1].substr(9));
  }
  if (args.size() == 1 && args[0] == "uninstall") return Uninstall();
  std::fprintf(stderr,
               "usage: syncwatch-agent service install --config PATH\n"
               "       syncwatch-agent service uninstall\n");
  return 2;
}

int RunAsService(const std::function<int()>& body, std::atomic<bool>* stop) {
  g_service.body = &body;
  g_service.stop = stop;
  SERVICE_TABLE_ENTRYW table[] = {{const_cast<wchar_t*>(kServiceName), ServiceMain},
                                  {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    return Failed("not started by the service manager (use `net start syncwatch-agent`)",
                  ::GetLastError());
  }
  return g_service.exit_code;
}

void ReportServiceRunning() { SetState(SERVICE_RUNNING, 0); }

void ReportServiceStopping(absl::Duration wait_hint) {
  SetState(SERVICE_STOP_PENDING, static_cast<DWORD>(absl::ToInt64Milliseconds(wait_hint)));
}

void LogToFileAndEventLog(const std::string& data_dir, size_t max_bytes) {
  {
    std::lock_guard<std::mutex> lock(g_log.mu);
    absl::StatusOr<std::wstring> dir = Widen(data_dir);
    if (!data_dir.empty() && dir.ok()) {
      std::filesystem::path logs = std::filesystem::path(*dir) / L"logs";
      std::error_code ec;
      std::filesystem::create_directories(logs, ec);
      g_log.path = logs / L"agent.log";
      g_log.max_bytes = max_bytes;
      OpenLogFile();
    }
    g_log.event_source = ::RegisterEventSourceW(nullptr, kServiceName);
  }
  SetLogSink(SinkToFileAndEventLog);
}

}  // namespace syncwatch::agent
