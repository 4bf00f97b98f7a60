#include "collector/http_server.h"

#include <httplib.h>

#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collector/web/pages.h"

namespace syncwatch::collector {
namespace {

constexpr char kHtml[] = "text/html; charset=utf-8";
constexpr char kJson[] = "application/json; charset=utf-8";

// The HTTP status for a failed query.
int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// The pages carry no script and load nothing from elsewhere; a browser is
// told to hold them to that, so that a store value that slipped through
// escaping still could not run.
void SetPageHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                 "frame-ancestors 'none'; form-action 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Referrer-Policy", "no-referrer");
}

void SetJson(const absl::StatusOr<std::string>& json, httplib::Response& res) {
  SetPageHeaders(res);
  if (json.ok()) {
    res.set_content(*json, kJson);
  } else {
    res.status = HttpStatusOf(json.status());
    res.set_content(web::RenderJsonError(json.status()), kJson);
  }
}

// `response` as JSON, or its error.
template <typename T>
absl::StatusOr<std::string> ToJson(const absl::StatusOr<T>& response) {
  if (!response.ok()) return response.status();
  return web::RenderJson(*response);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              HttpHandlers handlers) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_listen: \"", listen, "\" is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);

  std::unique_ptr<HttpServer> s(new HttpServer());
  s->handlers_ = std::move(handlers);
  if (!s->handlers_.now) s->handlers_.now = [] { return absl::Now(); };
  s->server_ = std::make_unique<httplib::Server>();
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // collector share a busy port silently; SO_REUSEADDR alone keeps restarts quick.
  s->server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const char*>(&yes), sizeof(yes));
  });
  HttpServer* self = s.get();
  if (s->handlers_.authenticate) {
    s->server_->set_pre_routing_handler([self](const httplib::Request& req,
                                               httplib::Response& res) {
      return self->RefuseUnauthenticated(req, res) ? httplib::Server::HandlerResponse::Handled
                                                   : httplib::Server::HandlerResponse::Unhandled;
    });
  }
  s->server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s->server_->Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
    if (self->ready_.load()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("shutting down\n", "text/plain");
    }
  });
  if (s->handlers_.metrics) {
    s->server_->Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
      res.set_content(self->handlers_.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  s->AddPageRoutes();
  if (port == 0) {
    s->port_ = s->server_->bind_to_any_port(host);
  } else if (s->server_->bind_to_port(host, port)) {
    s->port_ = port;
  }
  if (s->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for HTTP on ", listen, " (address in use or not available?)"));
  }
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the listen loop runs, so a Stop() right
  // after Start() would leave the thread listening forever: wait for it.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!s->server_->is_running() && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!s->server_->is_running()) return absl::InternalError("the HTTP server did not start");
  return s;
}

void HttpServer::AddPageRoutes() {
  const HttpHandlers& h = handlers_;
  if (h.fleet) {
    server_->Get("/", [&h](const httplib::Request&, httplib::Response& res) {
      const absl::Time now = h.now();
      const auto fleet = h.fleet(v1::FleetSummaryRequest());
      SetPageHeaders(res);
      if (fleet.ok()) {
        res.set_content(web::RenderFleetPage(*fleet, now), kHtml);
      } else {
        res.status = HttpStatusOf(fleet.status());
        res.set_content(web::RenderErrorPage(fleet.status(), now), kHtml);
      }
    });
    server_->Get("/api/v1/fleet", [&h](const httplib::Request&, httplib::Response& res) {
      SetJson(ToJson(h.fleet(v1::FleetSummaryRequest())), res);
    });
  }
  if (h.server) {
    // httplib matches the percent-decoded path, so a name may hold any
    // character, '/' included.
    server_->Get("/servers/(.+)", [&h](const httplib::Request& req, httplib::Response& res) {
      const absl::Time now = h.now();
      v1::GetServerRequest request;
      request.set_server(req.matches[1].str());
      const auto server = h.server(request);
      SetPageHeaders(res);
      if (server.ok()) {
        res.set_content(web::RenderServerPage(*server, now), kHtml);
      } else if (server.status().code() == absl::StatusCode::kNotFound) {
        res.status = 404;
        res.set_content(web::RenderNotFound(server.status().message(), now), kHtml);
      } else {
        res.status = HttpStatusOf(server.status());
        res.set_content(web::RenderErrorPage(server.status(), now), kHtml);
      }
    });
    server_->Get("/api/v1/servers/(.+)", [&h](const httplib::Request& req, httplib::Response& res) {
      v1::GetServerRequest request;
      request.set_server(req.matches[1].str());
      SetJson(ToJson(h.server(request)), res);
    });
  }
  // Any other path (and the page routes when their handler is unset): a 404
  // page, or a JSON error under /api/. Responses that already have a body
  // (a page's own 404) are left as they are.
  // (A named HandlerWithResponse: a lambda alone would fit both overloads.)
  httplib::Server::HandlerWithResponse not_found = [&h](const httplib::Request& req,
                                                        httplib::Response& res) {
    if (res.status != 404 || !res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    SetPageHeaders(res);
    if (req.path.rfind("/api/", 0) == 0) {
      res.set_content(web::RenderJsonError(absl::NotFoundError(
                          absl::StrCat("no API route ", req.method, " ", req.path))),
                      kJson);
    } else {
      res.set_content(
          web::RenderNotFound(absl::StrCat("Nothing is served at ", req.path, "."), h.now()),
          kHtml);
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  server_->set_error_handler(std::move(not_found));
}

bool HttpServer::RefuseUnauthenticated(const httplib::Request& req, httplib::Response& res) const {
  if (req.path == "/healthz" || req.path == "/readyz") return false;
  if (req.path == "/metrics" && !handlers_.protect_metrics) return false;
  const absl::Status status = handlers_.authenticate(req.get_header_value("Authorization"));
  if (status.ok()) return false;
  res.status = 401;
  res.set_header("WWW-Authenticate", "Bearer realm=\"syncwatch\"");
  SetPageHeaders(res);
  if (req.path.rfind("/api/", 0) == 0) {
    res.set_content(web::RenderJsonError(status), kJson);
  } else {
    res.set_content(absl::StrCat(status.message(), "\n"), "text/plain; charset=utf-8");
  }
  return true;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace syncwatch::collector
