#include "tests/bench/ingest_bench.h"

#include <grpcpp/create_channel.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/agent_options.h"
#include "agent/collector_link.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "syncwatch/v1/ingest.grpc.pb.h"
#include "tests/bench/event_mix.h"

namespace syncwatch::bench {
namespace {

// One agent's stream: Hello, wait for the Welcome, then keep up to `window`
// batches unacknowledged, as the agent's CollectorLink does.
class LoadStream final : public grpc::ClientBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  LoadStream(const BenchServer& server, size_t batch_events, size_t window,
             std::atomic<uint64_t>& events_acked)
      : server_(server),
        mix_(server, batch_events),
        batch_events_(batch_events),
        window_(window),
        events_acked_(events_acked) {}

  void Start(v1::Ingest::Stub& stub, const std::string& spool_epoch) {
    stub.async()->StreamEvents(&context_, this);
    *out_.mutable_hello() = server_.Hello(spool_epoch);
    {
      MutexLock lock(&mu_);
      writing_ = true;
    }
    StartWrite(&out_);
    StartRead(&in_);
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // the stream is over; OnDone tells why
    MutexLock lock(&mu_);
    writing_ = false;
    SendMoreLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      MutexLock lock(&mu_);
      if (in_.has_welcome()) {
        welcomed_ = true;
      } else if (in_.has_ack()) {
        ++acked_;
        events_acked_.fetch_add(batch_events_);
      } else if (in_.has_refusal()) {
        refusal_ = in_.refusal().reason();
      }
      SendMoreLocked();
    }
    StartRead(&in_);
  }

  void OnDone(const grpc::Status& status) override {
    MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
    cv_.SignalAll();
  }

  // OK while the stream runs; why it ended or what was refused otherwise.
  absl::Status Health() {
    MutexLock lock(&mu_);
    if (!refusal_.empty()) return absl::InternalError(absl::StrCat("batch refused: ", refusal_));
    if (done_) {
      return absl::UnavailableError(
          absl::StrCat("stream ended: ", status_.error_message(), " (", status_.error_code(), ")"));
    }
    return absl::OkStatus();
  }

  void Cancel() { context_.TryCancel(); }

  void AwaitDone() {
    MutexLock lock(&mu_);
    while (!done_) cv_.Wait();
  }

 private:
  void SendMoreLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || !welcomed_ || sent_ - acked_ >= window_) return;
    mix_.Next(++sent_, out_.mutable_batch());
    writing_ = true;
    StartWrite(&out_);
  }

  const BenchServer server_;
  EventMix mix_;
  const size_t batch_events_;
  const size_t window_;
  std::atomic<uint64_t>& events_acked_;
  grpc::ClientContext context_;
  v1::AgentMessage out_;
  v1::CollectorMessage in_;

  Mutex mu_;
  CondVar cv_{&mu_};
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  std::string refusal_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

struct LoadShape {
  int streams = 8;
  size_t batch_events = 500;
  size_t window = 8;
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration measure = absl::Seconds(8);
};

// Streams `shape` into the server at `address` and returns the events per
// second acknowledged during the measured interval (after the warm-up).
absl::StatusOr<double> MeasureIngest(const ServerProcess& server, const LoadShape& shape,
                                     int round) {
  const std::string address = server.address();
  std::atomic<uint64_t> events{0};
  std::vector<std::unique_ptr<v1::Ingest::Stub>> stubs;
  std::vector<std::unique_ptr<LoadStream>> streams;
  for (int i = 0; i < shape.streams; ++i) {
    grpc::ChannelArguments args;
    // One TCP connection per agent, as separate agent processes would have.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxSendMessageSize(-1);
    stubs.push_back(v1::Ingest::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
    streams.push_back(
        std::make_unique<LoadStream>(BenchServer(i), shape.batch_events, shape.window, events));
  }
  for (int i = 0; i < shape.streams; ++i) {
    streams[static_cast<size_t>(i)]->Start(*stubs[static_cast<size_t>(i)],
                                           absl::StrCat("bench-", round));
  }
  absl::SleepFor(shape.warmup);
  const auto threads0 = ThreadCpuTicks(server.pid());
  const uint64_t e0 = events.load();
  const absl::Time t0 = absl::Now();
  absl::SleepFor(shape.measure);
  const uint64_t e1 = events.load();
  const absl::Time t1 = absl::Now();
  PrintThreadCpu("server", threads0, ThreadCpuTicks(server.pid()), absl::ToDoubleSeconds(t1 - t0));
  absl::Status health;
  for (auto& s : streams) {
    if (health.ok()) health = s->Health();
    s->Cancel();
  }
  for (auto& s : streams) s->AwaitDone();
  if (!health.ok()) return health;
  if (e1 == e0) return absl::InternalError("no batch was acknowledged while measuring");
  return static_cast<double>(e1 - e0) / absl::ToDoubleSeconds(t1 - t0);
}

}  // namespace

absl::Status RunIngestBench(const BenchConfig& config, const std::string& self, Results* results) {
  LoadShape shape;
  shape.batch_events = config.ingest_batch_events > 0 ? config.ingest_batch_events
                                                      : agent::AgentOptions().batch_max_events;
  shape.window = agent::LinkOptions().window;
  shape.streams = config.ingest_streams;
  int rounds = 5;
  if (config.quick) {
    rounds = 2;
    shape.warmup = absl::Seconds(1);
    shape.measure = absl::Seconds(3);
  }
  if (config.ingest_rounds > 0) rounds = config.ingest_rounds;
  if (config.ingest_seconds > 0) shape.measure = absl::Seconds(config.ingest_seconds);
  std::fprintf(
      stderr, "ingest: %d streams, %zu events a batch, window %zu, %d rounds of %s (after %s)\n",
      shape.streams, shape.batch_events, shape.window, rounds,
      absl::FormatDuration(shape.measure).c_str(), absl::FormatDuration(shape.warmup).c_str());
  std::vector<double> real;
  std::vector<double> baseline;
  for (int round = 0; round < rounds; ++round) {
    // Alternate which goes first, so that drift of a shared machine falls on
    // both sides alike.
    for (int k = 0; k < 2; ++k) {
      const bool is_baseline = (round + k) % 2 == 0;
      if (config.ingest_sides != "both" &&
          config.ingest_sides != (is_baseline ? "baseline" : "collector")) {
        continue;
      }
      const std::string dir = absl::StrCat(config.work_dir, "/ingest-", round,
                                           is_baseline ? "-baseline" : "-collector");
      const std::string data_dir = dir + "/data";
      SYNCWATCH_RETURN_IF_ERROR(FreshDir(dir));
      if (!is_baseline && !config.ingest_clone_store.empty()) {
        SYNCWATCH_RETURN_IF_ERROR(CloneStore(config.ingest_clone_store, data_dir));
      }
      absl::StatusOr<std::unique_ptr<ServerProcess>> server =
          is_baseline
              ? ServerProcess::Start({self, "--serve_baseline", data_dir}, dir + "/baseline",
                                     /*wait_http=*/false)
              : ServerProcess::StartCollector(dir, data_dir, "");
      if (!server.ok()) return server.status();
      if (!is_baseline && !config.ingest_clone_store.empty()) {
        // A populated store: the first full rule evaluation must be over.
        SYNCWATCH_RETURN_IF_ERROR(
            WaitForCpuIdle((*server)->pid(), 5, absl::Seconds(2), absl::Minutes(10)));
      }
      absl::StatusOr<double> rate = MeasureIngest(**server, shape, round);
      if (!is_baseline && rate.ok()) {
        // How many batches each group commit took, on average.
        absl::StatusOr<double> commits = (*server)->Metric("syncwatch_store_commits_total");
        absl::StatusOr<double> batches = (*server)->Metric("syncwatch_ingest_batches_stored_total");
        if (commits.ok() && batches.ok() && *commits > 0) {
          std::fprintf(stderr, "  %.0f commits, %.1f batches a commit\n", *commits,
                       *batches / *commits);
        }
      }
      absl::Status stopped = (*server)->Stop();
      if (!rate.ok()) {
        return absl::Status(rate.status().code(),
                            absl::StrCat(is_baseline ? "baseline" : "collector", " round ", round,
                                         ": ", rate.status().message()));
      }
      SYNCWATCH_RETURN_IF_ERROR(stopped);
      std::fprintf(stderr, "ingest round %d %-9s %10.0f events/s\n", round,
                   is_baseline ? "baseline" : "collector", *rate);
      (is_baseline ? baseline : real).push_back(*rate);
      if (!config.keep_work) SYNCWATCH_RETURN_IF_ERROR(FreshDir(dir));
    }
  }
  if (!real.empty()) results->Set("ingest_events_per_s", Median(real));
  if (!baseline.empty()) results->Set("ingest_baseline_events_per_s", Median(baseline));
  if (!real.empty() && !baseline.empty()) {
    results->Set("ingest_ratio", Median(real) / Median(baseline));
  }
  return absl::OkStatus();
}

}  // namespace syncwatch::bench
