// The collector's HTTP port: /healthz, /readyz, /metrics (Prometheus text),
// the web pages (/ and /servers/<name>) and their JSON (/api/v1/fleet,
// /api/v1/servers/<name>). Plain HTTP, or HTTPS with the collector's
// certificate (the gRPC port's files, re-read on the same schedule).
#ifndef SYNCWATCH_COLLECTOR_WEB_HTTP_SERVER_H_
#define SYNCWATCH_COLLECTOR_WEB_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "syncwatch/v1/query.pb.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace syncwatch::collector {

class ServerCertificate;

// What the HTTP port serves. Each function runs on one of the HTTP server's
// threads (several at once) and must be thread-safe; they may block on the
// store, but not for long.
struct HttpHandlers {
  // The /metrics body; /metrics answers 404 when unset.
  std::function<std::string()> metrics;
  // The fleet page and /api/v1/fleet; both answer 404 when unset.
  std::function<absl::StatusOr<v1::FleetSummaryResponse>(const v1::FleetSummaryRequest&)> fleet;
  // A server's page and /api/v1/servers/<name>; both answer 404 when unset,
  // and when this returns NOT_FOUND.
  std::function<absl::StatusOr<v1::GetServerResponse>(const v1::GetServerRequest&)> server;
  // The time the pages measure "n min ago" against. Default: absl::Now().
  std::function<absl::Time()> now;
  // Access control: when set, every request except /healthz and /readyz (and
  // /metrics unless protect_metrics) needs an Authorization header it accepts
  // (OK), and answers 401 with WWW-Authenticate otherwise. Unset: all open.
  std::function<absl::Status(absl::string_view authorization)> authenticate;
  bool protect_metrics = false;
};

// Serves on its own thread. Thread-safe.
class HttpServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks a free one) and serves
  // `handlers`. With `tls.cert` it serves HTTPS only (TLS 1.2 or later) with
  // tls.cert and tls.key, re-read every tls.reload_interval (checked on the
  // first handshake after it; a new pair applies to new connections, a pair
  // that does not load or match is logged and the last good one stays);
  // tls.client_ca is not used: browsers present no client certificate, the
  // bearer tokens guard the port. InvalidArgument for a malformed address,
  // an error naming the file when the certificate or key does not load,
  // Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           HttpHandlers handlers,
                                                           const ServerTls& tls = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // "https" or "http".
  const char* scheme() const { return certificate_ ? "https" : "http"; }
  // /readyz answers 503 from now on (the collector is shutting down).
  void SetNotReady() { ready_.store(false); }
  // Stops serving; waits for requests in progress (after it, no handler runs).
  void Stop();

 private:
  HttpServer();
  void AddPageRoutes();
  // Answers 401 (and returns true) when the request needs a token it lacks.
  bool RefuseUnauthenticated(const httplib::Request& req, httplib::Response& res) const;

  // With TLS; before server_, so that it outlives the handshakes using it.
  std::unique_ptr<ServerCertificate> certificate_;
  std::unique_ptr<httplib::Server> server_;
  HttpHandlers handlers_;
  std::atomic<bool> ready_{true};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_WEB_HTTP_SERVER_H_
