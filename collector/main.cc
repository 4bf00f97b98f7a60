// syncwatch-collector: flags -> CollectorOptions -> CollectorServer.
#include <semaphore.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "collector/collector_server.h"
#include "collector/storage/store.h"
#include "common/flags_util.h"
#include "common/log.h"

ABSL_FLAG(std::string, config, "", "YAML config file (flags given explicitly override it)");
ABSL_FLAG(std::string, data_dir, "./data/collector", "Directory of the RocksDB store");
ABSL_FLAG(std::string, listen, "127.0.0.1:7443", "gRPC listen address host:port");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464",
          "HTTP address for /healthz, /readyz, /metrics, the web pages and /api/v1 (HTTPS with "
          "--tls_cert); empty turns it off");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain (turns TLS on: the gRPC port, and HTTPS on the HTTP port)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA that agents' client certificates must chain to (mTLS)");
ABSL_FLAG(bool, insecure, false,
          "Off loopback, allow plain text or TLS without --tls_client_ca (agents then are not "
          "identified by certificate), and an HTTP port without TLS or tokens");
ABSL_FLAG(bool, sync_writes, true, "fsync each commit before acknowledging it");
ABSL_FLAG(bool, check, false,
          "Check the store in the data dir (read-only) and exit: 0 healthy, 1 problems found");
ABSL_FLAG(bool, repair, false,
          "Repair the store in the data dir (rocksdb::RepairDB: keeps what is readable, drops "
          "the rest), then check it; the collector must not be running");

namespace {

sem_t g_stop;

void OnSignal(int) { sem_post(&g_stop); }  // async-signal-safe

// Exit codes: 1 a failure, 2 a usage or config error, 3 the store is corrupt
// (systemd's RestartPreventExitStatus=3 stops a restart loop on that).
constexpr int kExitProblems = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCorruptStore = 3;

// --check: prints a summary per family and every problem.
int Check(const std::string& data_dir) {
  auto report = syncwatch::collector::CheckStore(data_dir);
  if (!report.ok()) {
    std::fprintf(stderr, "syncwatch-collector: %s\n",
                 std::string(report.status().message()).c_str());
    return kExitUsage;
  }
  std::printf("collector store %s\n", data_dir.c_str());
  for (const auto& f : report->families) {
    std::printf("  %-18s %10llu records, %llu bad\n", f.family.c_str(),
                static_cast<unsigned long long>(f.records),  // NOLINT(runtime/int)
                static_cast<unsigned long long>(f.bad));     // NOLINT(runtime/int)
  }
  if (report->healthy()) {
    std::printf("healthy\n");
    return 0;
  }
  std::printf("%zu problem(s):\n", report->problems.size());
  for (const std::string& p : report->problems) std::printf("  - %s\n", p.c_str());
  std::printf(
      "run `syncwatch-collector --repair --data_dir %s` (collector stopped) to keep what "
      "is readable\n",
      data_dir.c_str());
  return kExitProblems;
}

int Repair(const std::string& data_dir) {
  std::printf(
      "repairing collector store %s: rocksdb::RepairDB rebuilds the MANIFEST from the table and "
      "log files it can read; records in unreadable files are dropped (agents re-send only what "
      "they still spool)\n",
      data_dir.c_str());
  std::fflush(stdout);
  if (absl::Status s = syncwatch::collector::RepairStore(data_dir); !s.ok()) {
    std::fprintf(stderr, "syncwatch-collector: %s\n", std::string(s.message()).c_str());
    return kExitProblems;
  }
  std::printf("repaired; checking\n");
  return Check(data_dir);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Receives events from syncwatch agents, stores them in RocksDB and answers queries.\n"
      "Usage: syncwatch-collector [--config FILE] [--data-dir DIR] [--listen HOST:PORT] "
      "[--http-listen HOST:PORT]\n"
      "       syncwatch-collector --check|--repair [--config FILE] [--data-dir DIR]\n"
      "Exit codes: 0 ok, 1 failure (--check: problems found), 2 usage, 3 corrupt store");
  std::vector<std::string> args = syncwatch::NormalizeFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  using syncwatch::collector::CollectorOptions;

  CollectorOptions options;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    auto loaded = syncwatch::collector::LoadCollectorConfig(absl::GetFlag(FLAGS_config), options);
    if (!loaded.ok()) {
      std::fprintf(stderr, "syncwatch-collector: %s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitUsage;
    }
    options = *loaded;
  }
  // A flag overrides the config file when it differs from its default (this
  // Abseil cannot tell whether a flag was given explicitly).
  const CollectorOptions defaults;
  if (absl::GetFlag(FLAGS_data_dir) != defaults.data_dir)
    options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (absl::GetFlag(FLAGS_listen) != defaults.listen) options.listen = absl::GetFlag(FLAGS_listen);
  if (absl::GetFlag(FLAGS_http_listen) != defaults.http_listen) {
    options.http_listen = absl::GetFlag(FLAGS_http_listen);
  }
  if (!absl::GetFlag(FLAGS_tls_cert).empty()) options.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  if (!absl::GetFlag(FLAGS_tls_key).empty()) options.tls.key = absl::GetFlag(FLAGS_tls_key);
  if (!absl::GetFlag(FLAGS_tls_client_ca).empty()) {
    options.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  }
  if (absl::GetFlag(FLAGS_insecure)) options.insecure = true;
  if (!absl::GetFlag(FLAGS_sync_writes)) options.sync_writes = false;
  if (absl::GetFlag(FLAGS_check) && absl::GetFlag(FLAGS_repair)) {
    std::fprintf(stderr, "syncwatch-collector: --check and --repair exclude each other\n");
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_check)) return Check(options.data_dir);
  if (absl::GetFlag(FLAGS_repair)) return Repair(options.data_dir);
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    std::fprintf(stderr, "syncwatch-collector: %s\n", std::string(valid.message()).c_str());
    return kExitUsage;
  }

  sem_init(&g_stop, 0, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  auto server = syncwatch::collector::CollectorServer::Start(options, syncwatch::RealClock::Get());
  if (!server.ok()) {
    std::fprintf(stderr, "syncwatch-collector: %s\n",
                 std::string(server.status().message()).c_str());
    if (server.status().code() == absl::StatusCode::kDataLoss) {
      std::fprintf(stderr,
                   "syncwatch-collector: the store in %s is corrupt; not starting. Run "
                   "`syncwatch-collector --check --data_dir %s` to see what is damaged, then "
                   "`syncwatch-collector --repair --data_dir %s`\n",
                   options.data_dir.c_str(), options.data_dir.c_str(), options.data_dir.c_str());
      return kExitCorruptStore;
    }
    return kExitProblems;
  }
  // Tests and scripts wait for this line to learn the bound port.
  std::printf("listening on port %d\n", (*server)->port());
  if ((*server)->http_port() > 0) std::printf("http on port %d\n", (*server)->http_port());
  std::fflush(stdout);
  while (sem_wait(&g_stop) != 0) {
  }
  SYNCWATCH_LOG(kInfo, "signal received, shutting down");
  (*server)->Shutdown();
  return 0;
}
