#include "collector/web/http_server.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collector/web/pages.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace syncwatch::collector {

// The HTTPS port's certificate chain and key, from the files the gRPC port
// uses. Installed on each connection by OpenSSL's certificate callback, which
// first re-reads the files when reload_interval has passed since it last did
// (as gRPC's file watcher does for the other port). Thread-safe.
class ServerCertificate {
 public:
  // Reads and checks the files now: an error names the file that does not
  // load, or both when the key does not belong to the certificate.
  static absl::StatusOr<std::unique_ptr<ServerCertificate>> Load(const ServerTls& tls) {
    std::unique_ptr<ServerCertificate> c(new ServerCertificate(tls));
    SYNCWATCH_ASSIGN_OR_RETURN(c->current_, c->Read());
    c->next_check_ = absl::Now() + c->interval_;
    return c;
  }

  // The SSL_CTX_set_cert_cb callback: 1 when `ssl` has a certificate.
  static int Install(SSL* ssl, void* self) {
    return static_cast<ServerCertificate*>(self)->Install(ssl) ? 1 : 0;
  }

 private:
  // One certificate chain and its key, parsed.
  struct Pair {
    std::string cert_pem;
    std::string key_pem;
    X509* leaf = nullptr;
    STACK_OF(X509) * chain = nullptr;
    EVP_PKEY* key = nullptr;
    std::string subject;
    ~Pair() {
      X509_free(leaf);
      sk_X509_pop_free(chain, X509_free);
      EVP_PKEY_free(key);
    }
  };

  explicit ServerCertificate(const ServerTls& tls)
      : tls_(tls), interval_(absl::Seconds(TlsReloadSeconds(tls.reload_interval))) {}

  // The files as they are now; the current pair itself when they have not
  // changed.
  absl::StatusOr<std::shared_ptr<const Pair>> Read() const {
    SYNCWATCH_ASSIGN_OR_RETURN(std::string cert_pem, ReadPemFile(tls_.cert, "tls cert"));
    SYNCWATCH_ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(tls_.key, "tls key"));
    if (current_ && current_->cert_pem == cert_pem && current_->key_pem == key_pem) {
      return current_;
    }
    auto pair = std::make_shared<Pair>();
    pair->cert_pem = std::move(cert_pem);
    pair->key_pem = std::move(key_pem);
    BIO* bio = BIO_new_mem_buf(pair->cert_pem.data(), static_cast<int>(pair->cert_pem.size()));
    pair->leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    pair->chain = sk_X509_new_null();
    while (X509* next = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      sk_X509_push(pair->chain, next);
    }
    BIO_free(bio);
    bio = BIO_new_mem_buf(pair->key_pem.data(), static_cast<int>(pair->key_pem.size()));
    pair->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ERR_clear_error();  // the end of the chain reads as an error
    if (pair->leaf == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls cert ", tls_.cert, " holds no readable certificate"));
    }
    if (pair->key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls key ", tls_.key, " holds no readable private key"));
    }
    if (X509_check_private_key(pair->leaf, pair->key) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("tls key ", tls_.key, " is not the key of tls cert ", tls_.cert));
    }
    char subject[512];
    X509_NAME_oneline(X509_get_subject_name(pair->leaf), subject, sizeof(subject));
    pair->subject = subject;
    return pair;
  }

  bool Install(SSL* ssl) {
    std::shared_ptr<const Pair> pair;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const absl::Time now = absl::Now();
      if (now >= next_check_) {
        next_check_ = now + interval_;
        absl::StatusOr<std::shared_ptr<const Pair>> read = Read();
        if (!read.ok()) {
          // Once per distinct problem; the last good pair stays in use.
          if (read.status().message() != last_error_) {
            last_error_ = std::string(read.status().message());
            SYNCWATCH_LOG(kWarning, "HTTPS: keeping the certificate ", current_->subject, ": ",
                          last_error_);
          }
        } else if (*read != current_) {
          current_ = *std::move(read);
          last_error_.clear();
          SYNCWATCH_LOG(kInfo, "HTTPS: new certificate ", current_->subject, " from ", tls_.cert);
        }
      }
      pair = current_;
    }
    // SSL_use_cert_and_key takes its own references.
    return SSL_use_cert_and_key(ssl, pair->leaf, pair->key, pair->chain, /*override=*/1) == 1;
  }

  const ServerTls tls_;
  const absl::Duration interval_;
  std::mutex mu_;
  std::shared_ptr<const Pair> current_;
  absl::Time next_check_;
  std::string last_error_;
};

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

HttpServer::HttpServer() = default;

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              HttpHandlers handlers,
                                                              const ServerTls& tls) {
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
  if (tls.enabled()) {
    SYNCWATCH_ASSIGN_OR_RETURN(s->certificate_, ServerCertificate::Load(tls));
    ServerCertificate* certificate = s->certificate_.get();
    auto server = std::make_unique<httplib::SSLServer>([certificate](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
      SSL_CTX_set_cert_cb(&ctx, &ServerCertificate::Install, certificate);
      return true;
    });
    if (!server->is_valid()) return absl::InternalError("cannot set up TLS for the HTTP port");
    s->server_ = std::move(server);
  } else {
    s->server_ = std::make_unique<httplib::Server>();
  }
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
    return absl::UnavailableError(absl::StrCat("cannot listen for ",
                                               s->certificate_ ? "HTTPS" : "HTTP", " on ", listen,
                                               " (address in use or not available?)"));
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
