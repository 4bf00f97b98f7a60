#include "tests/bench/bench_util.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/text_util.h"

namespace syncwatch::bench {
namespace {

namespace fs = std::filesystem;

// "VmRSS:     1234 kB" -> MiB.
bool StatusField(const std::string& status, absl::string_view field, double* mb) {
  const size_t at = status.find(absl::StrCat("\n", field, ":"));
  if (at == std::string::npos) return false;
  absl::string_view rest(status);
  rest.remove_prefix(at + field.size() + 2);
  rest = rest.substr(0, rest.find('\n'));
  rest = absl::StripAsciiWhitespace(rest);
  if (!absl::ConsumeSuffix(&rest, " kB")) return false;
  int64_t kb = 0;
  if (!absl::SimpleAtoi(rest, &kb)) return false;
  *mb = static_cast<double>(kb) / 1024.0;
  return true;
}

// The sum of the samples of metric `name` in a /metrics body (one sample
// without labels, or one per label set); nullopt when it is not there.
std::optional<double> FindMetric(const std::string& body, const std::string& name) {
  std::optional<double> sum;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || line.empty() || (line[0] != ' ' && line[0] != '{')) {
      continue;
    }
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    sum = sum.value_or(0) + v;
  }
  // A family with no samples (e.g. per receiver, and none configured) is 0.
  if (!sum && absl::StrContains(body, absl::StrCat("# TYPE ", name, " "))) return 0;
  return sum;
}

int PortAfter(const std::string& text, absl::string_view label) {
  const size_t at = absl::string_view(text).find(label);
  if (at == std::string::npos) return 0;
  int port = 0;
  absl::string_view rest(text);
  rest.remove_prefix(at + label.size());
  rest = rest.substr(0, rest.find('\n'));
  return absl::SimpleAtoi(rest, &port) ? port : 0;
}

// utime + stime of a /proc/.../stat line, and the command name.
bool ParseStat(const std::string& stat, std::string* name, uint64_t* ticks) {
  // The command name in field 2 may hold spaces and parentheses: the fields
  // after it start behind the last ')'. utime and stime are fields 14 and 15.
  const size_t open = stat.find('(');
  const size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  *name = stat.substr(open + 1, close - open - 1);
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
  uint64_t utime = 0;
  uint64_t stime = 0;
  // fields[0] is field 3 (state).
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return false;
  }
  *ticks = utime + stime;
  return true;
}

}  // namespace

std::optional<double> Results::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Results::Note(const std::string& name) const {
  auto it = notes_.find(name);
  return it == notes_.end() ? "" : it->second;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
  const size_t index = static_cast<size_t>(std::max(1.0, rank)) - 1;
  return v[std::min(index, v.size() - 1)];
}

absl::StatusOr<ProcSample> SampleProc(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid);
  ProcSample sample;
  const std::string status = absl::StrCat("\n", testing::ReadFileOrEmpty(dir + "/status"));
  if (!StatusField(status, "VmRSS", &sample.rss_mb) ||
      !StatusField(status, "VmHWM", &sample.hwm_mb)) {
    return absl::NotFoundError(absl::StrCat("no VmRSS/VmHWM in ", dir, "/status (exited?)"));
  }
  std::string name;
  if (!ParseStat(testing::ReadFileOrEmpty(dir + "/stat"), &name, &sample.cpu_ticks)) {
    return absl::DataLossError(absl::StrCat(dir, "/stat does not parse"));
  }
  return sample;
}

std::map<std::string, uint64_t> ThreadCpuTicks(pid_t pid) {
  std::map<std::string, uint64_t> out;
  std::error_code ec;
  for (const fs::directory_entry& task :
       fs::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
    std::string name;
    uint64_t ticks = 0;
    if (ParseStat(testing::ReadFileOrEmpty(task.path().string() + "/stat"), &name, &ticks)) {
      out[absl::StrCat(name, "/", task.path().filename().string())] = ticks;
    }
  }
  return out;
}

void PrintThreadCpu(const char* what, const std::map<std::string, uint64_t>& before,
                    const std::map<std::string, uint64_t>& after, double seconds) {
  std::vector<std::pair<double, std::string>> busy;
  double total = 0;
  for (const auto& [thread, ticks] : after) {
    auto it = before.find(thread);
    const double pct = static_cast<double>(ticks - (it == before.end() ? 0 : it->second)) *
                       SecondsPerTick() / seconds * 100.0;
    total += pct;
    if (pct >= 2) busy.emplace_back(pct, thread);
  }
  std::sort(busy.rbegin(), busy.rend());
  std::string line = absl::StrFormat("  %s CPU %.0f%%:", what, total);
  for (const auto& [pct, thread] : busy) absl::StrAppendFormat(&line, " %s %.0f%%", thread, pct);
  std::fprintf(stderr, "%s\n", line.c_str());
}

double SecondsPerTick() { return 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK)); }

absl::Status WaitForCpuIdle(pid_t pid, double percent, absl::Duration window,
                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  double used = 0;
  while (absl::Now() < deadline) {
    auto before = SampleProc(pid);
    if (!before.ok()) return before.status();
    const absl::Time t0 = absl::Now();
    absl::SleepFor(window);
    auto after = SampleProc(pid);
    if (!after.ok()) return after.status();
    used = static_cast<double>(after->cpu_ticks - before->cpu_ticks) * SecondsPerTick() /
           absl::ToDoubleSeconds(absl::Now() - t0) * 100.0;
    if (used < percent) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(absl::StrCat("process ", pid, " still uses ", used,
                                                  "% CPU after ", absl::FormatDuration(timeout)));
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_prefix, bool wait_http) {
  const std::string out = log_prefix + ".out";
  const std::string err = log_prefix + ".err";
  auto process = testing::Subprocess::Start(argv, out, err);
  if (!process.ok()) return process.status();
  std::unique_ptr<ServerProcess> server(new ServerProcess(*std::move(process), log_prefix));
  auto content = testing::WaitForFileContaining(
      out, wait_http ? "http on port" : "listening on port", absl::Seconds(120));
  if (!content) {
    return absl::UnavailableError(
        absl::StrCat(argv[0], " did not start listening: ", testing::ReadFileOrEmpty(err)));
  }
  server->port_ = PortAfter(*content, "listening on port ");
  server->http_port_ = PortAfter(*content, "http on port ");
  if (server->port_ == 0) return absl::InternalError(absl::StrCat("no port in ", out));
  return server;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::StartCollector(
    const std::string& dir, const std::string& data_dir, const std::string& yaml) {
  const std::string config = dir + "/collector.yaml";
  {
    std::ofstream out(config);
    out << "data_dir: " << data_dir << "\nlisten: 127.0.0.1:0\nhttp_listen: 127.0.0.1:0\n" << yaml;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", config));
  }
  return Start({CollectorBinary(), "--config", config}, dir + "/collector", /*wait_http=*/true);
}

absl::StatusOr<double> ServerProcess::Metric(const std::string& name) const {
  httplib::Client http("127.0.0.1", http_port_);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return absl::UnavailableError("GET /metrics failed");
  std::optional<double> v = FindMetric(res->body, name);
  if (!v) return absl::NotFoundError(absl::StrCat("no metric ", name));
  return *v;
}

absl::Status ServerProcess::Stop() {
  process_.Signal(SIGTERM);
  std::optional<int> code = process_.Wait(absl::Seconds(60));
  if (code == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("server exited with ", code ? *code : -1, "; see ", log_prefix_, ".err"));
}

absl::StatusOr<double> WaitTrackingPeakRss(testing::Subprocess& process, absl::Duration timeout,
                                           int* exit_code) {
  const absl::Time deadline = absl::Now() + timeout;
  double peak = 0;
  for (;;) {
    // Sample before looking for the exit: VmHWM only grows, and the last
    // sample before the exit is the peak up to a few milliseconds.
    if (auto s = SampleProc(process.pid()); s.ok()) peak = std::max(peak, s->hwm_mb);
    if (std::optional<int> code = process.Wait(absl::Milliseconds(10))) {
      *exit_code = *code;
      return peak;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process did not exit within ", absl::FormatDuration(timeout)));
    }
  }
}

namespace {
std::string& CollectorBinaryPath() {
  static auto* const path = new std::string(SYNCWATCH_COLLECTOR_BIN);
  return *path;
}
}  // namespace

void SetCollectorBinary(const std::string& path) { CollectorBinaryPath() = path; }
const char* CollectorBinary() { return CollectorBinaryPath().c_str(); }
const char* AgentBinary() { return SYNCWATCH_AGENT_BIN; }

absl::Status FreshDir(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot remove ", path, ": ", ec.message()));
  fs::create_directories(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status CloneStore(const std::string& from, const std::string& to) {
  SYNCWATCH_RETURN_IF_ERROR(FreshDir(to));
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(from, ec)) {
    const fs::path target = fs::path(to) / entry.path().filename();
    if (entry.path().extension() == ".sst") {
      fs::create_hard_link(entry.path(), target, ec);
    } else if (entry.path().filename() != "LOCK") {
      fs::copy_file(entry.path(), target, ec);
    }
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot copy ", entry.path().string(), ": ", ec.message()));
    }
  }
  return ec ? absl::UnavailableError(absl::StrCat("cannot list ", from, ": ", ec.message()))
            : absl::OkStatus();
}

uint64_t SourceDigest(const std::vector<std::string>& relative_paths) {
  uint64_t h = Fnv1a64("");
  for (const std::string& p : relative_paths) {
    h = Fnv1a64(p, h);
    h = Fnv1a64(testing::ReadFileOrEmpty(absl::StrCat(SYNCWATCH_SOURCE_DIR, "/", p)), h);
  }
  return h;
}

}  // namespace syncwatch::bench
