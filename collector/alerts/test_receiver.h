// Test only: an HTTP server on 127.0.0.1 that records the POSTs it gets, to
// stand in for a webhook or an Alertmanager that can be taken down and
// brought back on the same port.
#ifndef SYNCWATCH_COLLECTOR_ALERTS_TEST_RECEIVER_H_
#define SYNCWATCH_COLLECTOR_ALERTS_TEST_RECEIVER_H_

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace syncwatch::collector::alerts {

class TestReceiver {
 public:
  struct Request {
    std::string path;
    std::string body;
  };

  explicit TestReceiver(int port) : port_(port) {}
  ~TestReceiver() { Stop(); }
  TestReceiver(const TestReceiver&) = delete;
  TestReceiver& operator=(const TestReceiver&) = delete;

  // Starts listening on the port; false when it cannot bind.
  bool Start() {
    server_ = std::make_unique<httplib::Server>();
    server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      MutexLock lock(&mu_);
      requests_.push_back({req.path, req.body});
      res.status = status_;
      res.set_content("{}", "application/json");
      cv_.SignalAll();
    });
    if (!server_->bind_to_port("127.0.0.1", port_)) return false;
    httplib::Server* s = server_.get();
    thread_ = std::thread([s] { s->listen_after_bind(); });
    // httplib's stop() does nothing before the listen loop runs; a Stop()
    // right after Start() would then wait forever.
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!s->is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    return s->is_running();
  }

  void Stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  // The HTTP status every request is answered with. Default: 200.
  void AnswerWith(int status) {
    MutexLock lock(&mu_);
    status_ = status;
  }

  std::vector<Request> requests() {
    MutexLock lock(&mu_);
    return requests_;
  }

  // Waits until at least `n` requests arrived; false on timeout.
  bool WaitForRequests(size_t n, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (requests_.size() < n) {
      const absl::Time now = absl::Now();
      if (now >= deadline) return false;
      cv_.WaitFor(absl::ToChronoNanoseconds(deadline - now));
    }
    return true;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  const int port_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  Mutex mu_;
  CondVar cv_{&mu_};
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  int status_ ABSL_GUARDED_BY(mu_) = 200;
};

}  // namespace syncwatch::collector::alerts

#endif  // SYNCWATCH_COLLECTOR_ALERTS_TEST_RECEIVER_H_
