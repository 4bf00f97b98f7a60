// A stand-in for powershell.exe in the Windows agent's tests (tests/windows),
// cross-built with them and put beside syncwatch-agent.exe, where
// CreateProcessW looks first. It accepts only the command line that
// deploy/windows/agent.yaml gives the agent for run history
// (-NoProfile -NonInteractive -Command "...Get-ADSyncRunProfileResult...
// ConvertTo-Json..."), and prints what that would print: the run history in
// SYNCWATCH_FAKE_RUN_HISTORY (a `ConvertTo-Json` array, newest run first).
// Once the file SYNCWATCH_FAKE_RUN_ENDS names exists, holding a time in Unix
// milliseconds, it also prints, newest, an Export run of the Entra connector
// that ended then with `stopped-deletion-threshold-exceeded`. Each start is
// appended (Unix milliseconds) to SYNCWATCH_FAKE_POWERSHELL_LOG when set.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

int Fail(const std::string& what) {
  std::cerr << "fake powershell.exe: " << what << "\n";
  return 2;
}

bool ReadFile(const std::string& path, std::string* content) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *content = s.str();
  return true;
}

// The run as Windows PowerShell 5.1's ConvertTo-Json writes it (dates as
// \/Date(ms)\/), on the sample's Entra connector, after its run 26148.
std::string ThresholdRun(int64_t ended_ms) {
  std::ostringstream run;
  run << "  {\n"
         "    \"RunHistoryId\": \"3f0c9d2e-7a41-4b6e-9c58-1d2e3f4a5b6c\",\n"
         "    \"ConnectorId\": \"b891884f-051e-4a83-95af-2544101c9083\",\n"
         "    \"ConnectorName\": \"mcardletech.onmicrosoft.com - AAD\",\n"
         "    \"RunProfileId\": \"50b0cfe9-7f16-44ec-b539-e9c4b996a900\",\n"
         "    \"RunProfileName\": \"Export\",\n"
         "    \"RunNumber\": 26149,\n"
         "    \"Username\": \"NT SERVICE\\\\ADSync\",\n"
         "    \"IsRunComplete\": true,\n"
         "    \"Result\": \"stopped-deletion-threshold-exceeded\",\n"
         "    \"CurrentStepNumber\": 1,\n"
         "    \"TotalSteps\": 1,\n"
         "    \"StartDate\": \"\\/Date("
      << ended_ms - 4200
      << ")\\/\",\n"
         "    \"EndDate\": \"\\/Date("
      << ended_ms
      << ")\\/\",\n"
         "    \"RunStepResults\": null\n"
         "  },";
  return run.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string log = Env("SYNCWATCH_FAKE_POWERSHELL_LOG");
  if (!log.empty()) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    std::ofstream(log, std::ios::app) << now_ms << "\n";
  }
  const std::string want[] = {"-NoProfile", "-NonInteractive", "-Command"};
  if (argc != 5) return Fail("want 4 arguments (-NoProfile -NonInteractive -Command SCRIPT)");
  for (int i = 0; i < 3; ++i) {
    if (argv[i + 1] != want[i]) {
      return Fail("argument " + std::to_string(i + 1) + " is '" + argv[i + 1] + "', want '" +
                  want[i] + "'");
    }
  }
  const std::string script = argv[4];
  if (script.find("Get-ADSyncRunProfileResult") == std::string::npos ||
      script.find("ConvertTo-Json") == std::string::npos) {
    return Fail("the script does not run Get-ADSyncRunProfileResult into ConvertTo-Json: " +
                script);
  }

  const std::string history_path = Env("SYNCWATCH_FAKE_RUN_HISTORY");
  std::string history;
  if (history_path.empty()) return Fail("SYNCWATCH_FAKE_RUN_HISTORY is not set");
  if (!ReadFile(history_path, &history)) return Fail("cannot read " + history_path);
  const size_t open = history.find_first_not_of(" \t\r\n");
  if (open == std::string::npos || history[open] != '[') {
    return Fail(history_path + " is not a JSON array");
  }

  std::string ended;
  const std::string ends_path = Env("SYNCWATCH_FAKE_RUN_ENDS");
  if (!ends_path.empty() && ReadFile(ends_path, &ended)) {
    char* end = nullptr;
    const long long ms = std::strtoll(ended.c_str(), &end, 10);
    if (end == ended.c_str() || ms <= 0) return Fail(ends_path + " holds no time: " + ended);
    history.insert(open + 1, "\n" + ThresholdRun(ms));
  }
  // Text mode: lines end in CRLF, as PowerShell writes them to a pipe.
  std::cout << history;
  if (history.empty() || history.back() != '\n') std::cout << "\n";
  std::cout.flush();
  return std::cout ? 0 : Fail("cannot write the output");
}
