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
#include "common/flags_util.h"
#include "common/log.h"

ABSL_FLAG(std::string, config, "", "YAML config file (flags given explicitly override it)");
ABSL_FLAG(std::string, data_dir, "./data/collector", "Directory of the RocksDB store");
ABSL_FLAG(std::string, listen, "127.0.0.1:7443", "gRPC listen address host:port");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464",
          "HTTP address for /healthz, /readyz, /metrics; empty turns it off");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the gRPC port (turns TLS on)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA that agents' client certificates must chain to (mTLS)");
ABSL_FLAG(bool, insecure, false, "Allow plain text on a non-loopback listen address");
ABSL_FLAG(bool, sync_writes, true, "fsync each commit before acknowledging it");

namespace {

sem_t g_stop;

void OnSignal(int) { sem_post(&g_stop); }  // async-signal-safe

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Receives events from syncwatch agents, stores them in RocksDB and answers queries.\n"
      "Usage: syncwatch-collector [--config FILE] [--data-dir DIR] [--listen HOST:PORT] "
      "[--http-listen HOST:PORT]");
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
      return 2;
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
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    std::fprintf(stderr, "syncwatch-collector: %s\n", std::string(valid.message()).c_str());
    return 2;
  }

  sem_init(&g_stop, 0, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  auto server = syncwatch::collector::CollectorServer::Start(options, syncwatch::RealClock::Get());
  if (!server.ok()) {
    std::fprintf(stderr, "syncwatch-collector: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
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
