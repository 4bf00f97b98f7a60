// The collector's HTTP port: /healthz, /readyz and /metrics (Prometheus text).
#ifndef SYNCWATCH_COLLECTOR_HTTP_SERVER_H_
#define SYNCWATCH_COLLECTOR_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace syncwatch::collector {

// Serves on its own thread. Thread-safe.
class HttpServer {
 public:
  // `metrics` renders the /metrics body; it runs on the HTTP thread and must
  // not block for long.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           std::function<std::string()> metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // /readyz answers 503 from now on (the collector is shutting down).
  void SetNotReady() { ready_.store(false); }
  void Stop();

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::function<std::string()> metrics_;
  std::atomic<bool> ready_{true};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_HTTP_SERVER_H_
