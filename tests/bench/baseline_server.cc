#include "tests/bench/baseline_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "collector/storage/store.h"
#include "common/key_codec.h"
#include "common/mutex.h"
#include "syncwatch/v1/ingest.grpc.pb.h"

namespace syncwatch::bench {
namespace {

// One thread committing whatever the streams have queued in one synced write.
class GroupWriter {
 public:
  explicit GroupWriter(collector::Store& store) : store_(store) {
    thread_ = std::thread([this] { Run(); });
  }
  ~GroupWriter() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      cv_.Signal();
    }
    thread_.join();
  }
  GroupWriter(const GroupWriter&) = delete;
  GroupWriter& operator=(const GroupWriter&) = delete;

  // `done` runs on the writer thread once the write committed (true) or failed.
  void Submit(std::string key, std::string value, std::function<void(bool)> done) {
    MutexLock lock(&mu_);
    queue_.push_back(Item{std::move(key), std::move(value), std::move(done)});
    cv_.Signal();
  }

 private:
  struct Item {
    std::string key;
    std::string value;
    std::function<void(bool)> done;
  };

  void Run() {
    for (;;) {
      std::deque<Item> group;
      {
        MutexLock lock(&mu_);
        while (queue_.empty() && !stopping_) cv_.Wait();
        if (queue_.empty()) return;
        group.swap(queue_);
      }
      rocksdb::WriteBatch batch;
      for (const Item& item : group) {
        batch.Put(store_.cf(collector::Family::kRuns), item.key, item.value);
      }
      const bool ok = store_.Write(&batch).ok();
      for (Item& item : group) item.done(ok);
    }
  }

  collector::Store& store_;
  Mutex mu_;
  CondVar cv_{&mu_};
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Hello -> Welcome; each batch -> written -> Ack, in order. Like the
// collector's stream, it reads the next batch while one is written, up to
// kInFlight batches awaiting their acks. Deletes itself when gRPC is done
// with it and no write of its is pending (the writer's completion may come
// after OnDone).
class BaselineReactor final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  static constexpr int kInFlight = 2;

  explicit BaselineReactor(GroupWriter& writer) : writer_(writer) {
    MutexLock lock(&mu_);
    ReadLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    if (in_.has_hello()) {
      agent_id_ = in_.hello().agent_id();
      MutexLock lock(&mu_);
      reading_ = false;
      welcome_.mutable_welcome()->set_collector_version("syncwatch-bench baseline");
      if (!finished_) {
        writing_ = true;
        StartWrite(&welcome_);
      }
      return;
    }
    const uint64_t seq = in_.batch().seq();
    std::string key = KeyBuilder().String(agent_id_).Uint64(seq).Take();
    std::string value = in_.batch().SerializeAsString();
    {
      MutexLock lock(&mu_);
      reading_ = false;
      ++in_flight_;
      ++submitting_;
      if (in_flight_ < kInFlight) ReadLocked();
    }
    writer_.Submit(std::move(key), std::move(value),
                   [this, seq](bool stored) { OnStored(seq, stored); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    MutexLock lock(&mu_);
    writing_ = false;
    if (welcomed_) --in_flight_;  // an ack went out
    welcomed_ = true;
    if (in_flight_ < kInFlight) ReadLocked();
    WriteNextLocked();
  }

  void OnCancel() override { Finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    {
      MutexLock lock(&mu_);
      done_ = true;
      if (submitting_ > 0) return;  // the writer's last completion deletes it
    }
    delete this;
  }

 private:
  // On the writer thread, in the order the batches were submitted.
  void OnStored(uint64_t seq, bool stored) {
    bool finish = false;
    {
      MutexLock lock(&mu_);
      if (stored) {
        acks_.push_back(seq);
        WriteNextLocked();
      } else if (!finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (finish)
      ServerBidiReactor::Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    bool delete_now = false;
    {
      MutexLock lock(&mu_);
      --submitting_;
      delete_now = done_ && submitting_ == 0;
    }
    if (delete_now) delete this;
  }

  void ReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || reading_) return;
    reading_ = true;
    StartRead(&in_);
  }
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || acks_.empty()) return;
    out_.mutable_ack()->set_seq(acks_.front());
    acks_.pop_front();
    writing_ = true;
    StartWrite(&out_);
  }
  // Finish once; outside the lock, in case gRPC runs OnDone at once.
  void Finish(const grpc::Status& status) {
    {
      MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    ServerBidiReactor::Finish(status);
  }

  GroupWriter& writer_;
  // Read and used only between a read's start and its completion.
  v1::AgentMessage in_;
  std::string agent_id_;
  Mutex mu_;
  v1::CollectorMessage welcome_ ABSL_GUARDED_BY(mu_);
  v1::CollectorMessage out_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> acks_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int submitting_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class BaselineService final : public v1::Ingest::CallbackService {
 public:
  explicit BaselineService(GroupWriter& writer) : writer_(writer) {}
  grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* StreamEvents(
      grpc::CallbackServerContext*) override {
    return new BaselineReactor(writer_);
  }

 private:
  GroupWriter& writer_;
};

}  // namespace

int ServeBaseline(const std::string& data_dir) {
  // Before any thread starts, so that every thread inherits the mask and the
  // signals wait for sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  collector::Store::Options store_options;
  store_options.sync_writes = true;
  auto store = collector::Store::Open(data_dir, store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "baseline: %s\n", store.status().ToString().c_str());
    return 1;
  }
  int port = 0;
  {
    GroupWriter writer(**store);
    BaselineService service(writer);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || port == 0) {
      std::fprintf(stderr, "baseline: cannot listen\n");
      return 1;
    }
    std::printf("listening on port %d\n", port);
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  return 0;
}

}  // namespace syncwatch::bench
