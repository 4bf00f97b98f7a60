#include "tests/bench/fleet_bench.h"

#include <grpcpp/create_channel.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/agent_options.h"
#include "collector/storage/storage_writer.h"
#include "collector/storage/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "syncwatch/v1/ingest.grpc.pb.h"
#include "syncwatch/v1/query.grpc.pb.h"
#include "tests/bench/event_mix.h"

namespace syncwatch::bench {
namespace {

namespace fs = std::filesystem;

struct FleetShape {
  int servers = 2000;
  int days = 30;
};

constexpr int kCyclesPerDay = 48;  // the scheduler's default 30-minute cycle

// Bump when the generated history changes (tests/bench/event_mix.cc, or
// FeedServerHistory below): it names the cached store.
constexpr uint64_t kGeneratorVersion = 1;

// Feeds one server's history to the StorageWriter in batches of the agent's
// size, keeping at most a bounded number of submissions queued.
class HistoryFeeder {
 public:
  explicit HistoryFeeder(collector::StorageWriter& writer)
      : writer_(writer), batch_events_(static_cast<int>(agent::AgentOptions().batch_max_events)) {}

  void StartServer(const BenchServer& server) {
    agent_ = std::make_shared<collector::AgentContext>();
    agent_->hello = server.Hello("history");
    seq_ = 0;
  }

  v1::Event* Add(const std::string& source, absl::Time when) {
    if (!batch_) batch_ = std::make_unique<v1::EventBatch>();
    v1::Event* e = batch_->add_events();
    *e = MakeEvent(source, when);
    return e;
  }

  // Submits the batch when it is full (or `force` and not empty).
  void Flush(bool force) {
    if (!batch_ || (batch_->events_size() < batch_events_ && !force) || batch_->events_size() == 0)
      return;
    batch_->set_seq(++seq_);
    {
      MutexLock lock(&mu_);
      while (outstanding_ >= 64) cv_.Wait();
      ++outstanding_;
    }
    writer_.Submit(agent_, std::move(batch_), [this](absl::Status st, bool) {
      MutexLock lock(&mu_);
      if (!st.ok() && status_.ok()) status_ = st;
      --outstanding_;
      cv_.SignalAll();
    });
  }

  absl::Status Finish() {
    Flush(true);
    MutexLock lock(&mu_);
    while (outstanding_ > 0) cv_.Wait();
    return status_;
  }

 private:
  collector::StorageWriter& writer_;
  const int batch_events_;
  std::shared_ptr<collector::AgentContext> agent_;
  std::unique_ptr<v1::EventBatch> batch_;
  uint64_t seq_ = 0;
  Mutex mu_;
  CondVar cv_{&mu_};
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// A month (shape.days) of one server's history up to `end`: every 30-minute
// cycle a run on each of its three connectors (import, sync and, on active
// servers, export in turn; one in 97 with export errors, one in 500 stopped), a pending-export
// snapshot of the Entra ID connector (and of the AD connector every 4th
// cycle), export errors from csexport once a day; settings first and a
// heartbeat last.
void FeedServerHistory(const BenchServer& server, int index, const FleetShape& shape,
                       absl::Time end, HistoryFeeder& feeder) {
  feeder.StartServer(server);
  const int cycles = shape.days * kCyclesPerDay;
  const absl::Time begin = end - absl::Minutes(30) * cycles;
  *feeder.Add("settings", begin)->mutable_settings() =
      MakeSettings(server.role == v1::SERVER_ROLE_STAGING, 500);
  // A staging server imports and synchronises but never exports.
  const int kinds = server.role == v1::SERVER_ROLE_STAGING ? 2 : 3;
  int64_t run_number = 0;
  for (int c = 0; c < cycles; ++c) {
    const absl::Time t = begin + absl::Minutes(30) * c;
    for (int k = 0; k < 3; ++k) {
      const auto profile = static_cast<RunProfile>((c + k) % kinds);
      ++run_number;
      const int64_t roll = (run_number * 7 + index) % 500;
      std::string result = "success";
      int errors = 0;
      if (roll == 0) {
        result = "stopped-connectivity";
      } else if (profile == RunProfile::kExport && roll % 97 == 0) {
        result = "completed-export-errors";
        errors = 2;
      }
      *feeder.Add("runs", t + absl::Minutes(2 * k))->mutable_run() =
          MakeRun(server.connectors[static_cast<size_t>(k)], profile, run_number,
                  t + absl::Minutes(2 * k), result, errors);
    }
    *feeder.Add("pending", t)->mutable_pending_exports() =
        MakeSnapshot(server.connectors[1], t, (index * 31 + c) % 9);
    if (c % 4 == 0) {
      *feeder.Add("pending", t)->mutable_pending_exports() =
          MakeSnapshot(server.connectors[0], t, (index + c) % 4);
    }
    if (c % kCyclesPerDay == 0) {
      for (int j = 0; j < 3; ++j) {
        *feeder.Add("errors", t)->mutable_export_error() =
            MakeExportError(server.connectors[1], (c / kCyclesPerDay) % 7 * 3 + j, t);
      }
    }
    feeder.Flush(false);
  }
  v1::Event* hb = feeder.Add("heartbeat", end);
  hb->mutable_heartbeat()->set_spool_budget_bytes(512 << 20);
  feeder.Flush(true);
}

// Flushes and compacts every column family of the store in `path`, as a
// month of background compactions would have: each run then starts from a
// settled store without gigabytes of WAL to copy and replay.
absl::Status Compact(const std::string& path) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (s.ok()) s = rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (s.ok()) s = db->Flush(rocksdb::FlushOptions(), handles);
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    if (s.ok()) s = db->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr);
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  if (db && s.ok()) s = db->Close();
  return collector::FromRocksStatus(s, absl::StrCat("compact ", path));
}

absl::Status GenerateFleet(const std::string& path, const FleetShape& shape) {
  SYNCWATCH_RETURN_IF_ERROR(FreshDir(path));
  collector::Store::Options store_options;
  store_options.sync_writes = false;  // generating, not measuring
  SYNCWATCH_ASSIGN_OR_RETURN(std::unique_ptr<collector::Store> store,
                             collector::Store::Open(path, store_options));
  SYNCWATCH_ASSIGN_OR_RETURN(std::unique_ptr<collector::StorageWriter> writer,
                             collector::StorageWriter::Create(*store, RealClock::Get(), {}));
  HistoryFeeder feeder(*writer);
  const absl::Time end = absl::Now();
  const absl::Time started = absl::Now();
  for (int i = 0; i < shape.servers; ++i) {
    FeedServerHistory(BenchServer(i), i, shape, end, feeder);
    if ((i + 1) % 200 == 0) {
      std::fprintf(stderr, "fleet: %d of %d servers generated (%.0f s)\n", i + 1, shape.servers,
                   absl::ToDoubleSeconds(absl::Now() - started));
    }
  }
  SYNCWATCH_RETURN_IF_ERROR(feeder.Finish());
  const uint64_t events = writer->stats().events_stored.load();
  writer.reset();
  store.reset();
  std::fprintf(stderr, "fleet: %llu events stored in %.0f s; compacting\n",
               static_cast<unsigned long long>(events),
               absl::ToDoubleSeconds(absl::Now() - started));
  SYNCWATCH_RETURN_IF_ERROR(Compact(path));
  std::ofstream(path + "/BENCH_COMPLETE") << events << "\n";
  return absl::OkStatus();
}

// The cached store for `shape`, generated when missing or made by other code.
absl::StatusOr<std::string> CachedFleet(const BenchConfig& config, const FleetShape& shape) {
  // Keyed by what decides the stored bytes: the events, the key layout and
  // the generator's version. (The stored records' own fields and how the
  // writer derives server state change often and are left out: remove the
  // cache to regenerate after such a change.)
  const uint64_t digest =
      SourceDigest({"proto/syncwatch/v1/event.proto", "collector/storage/record_keys.cc",
                    "collector/state/run_identity.cc"}) +
      kGeneratorVersion;
  const std::string prefix = absl::StrCat("fleet-", shape.servers, "x", shape.days, "d-");
  const std::string path = absl::StrCat(config.cache_dir, "/", prefix, absl::Hex(digest));
  if (fs::exists(path + "/BENCH_COMPLETE")) return path;
  // Older generations of the same shape are only in the way (gigabytes).
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(config.cache_dir, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), prefix))
      fs::remove_all(entry.path(), ec);
  }
  std::fprintf(stderr, "fleet: generating %d servers x %d days into %s\n", shape.servers,
               shape.days, path.c_str());
  SYNCWATCH_RETURN_IF_ERROR(GenerateFleet(path, shape));
  return path;
}

// A webhook receiver: records when each (alert name, server) first arrived.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      const absl::Time now = absl::Now();
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      if (body.is_object() && body.contains("alerts") && body["alerts"].is_array()) {
        MutexLock lock(&mu_);
        for (const auto& a : body["alerts"]) {
          if (!a.is_object() || a.value("state", "") != "firing") continue;
          arrived_.try_emplace({a.value("name", ""), a.value("server", "")}, now);
        }
        ++posts_;
        cv_.SignalAll();
      }
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }

  // When the alert arrived; nullopt if not within `timeout`.
  std::optional<absl::Time> WaitFor(const std::string& name, const std::string& server,
                                    absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    for (;;) {
      auto it = arrived_.find({name, server});
      if (it != arrived_.end()) return it->second;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      cv_.WaitFor(absl::ToChronoNanoseconds(left));
    }
  }

  int posts() {
    MutexLock lock(&mu_);
    return posts_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  Mutex mu_;
  CondVar cv_{&mu_};
  std::map<std::pair<std::string, std::string>, absl::Time> arrived_ ABSL_GUARDED_BY(mu_);
  int posts_ ABSL_GUARDED_BY(mu_) = 0;
};

// Streams `events` for `server` in one batch; returns when its ack arrived.
absl::StatusOr<absl::Time> SendAndAwaitAck(v1::Ingest::Stub& stub, const v1::Hello& hello,
                                           std::vector<v1::Event> events) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub.StreamEvents(&context);
  v1::AgentMessage out;
  *out.mutable_hello() = hello;
  v1::CollectorMessage in;
  if (!stream->Write(out) || !stream->Read(&in) || !in.has_welcome()) {
    return absl::UnavailableError(
        absl::StrCat("no welcome for ", hello.server(), ": ", stream->Finish().error_message()));
  }
  absl::Time acked = absl::InfinitePast();
  if (!events.empty()) {
    v1::EventBatch* batch = out.mutable_batch();
    batch->set_seq(in.welcome().stored_seq() + 1);
    for (v1::Event& e : events) *batch->add_events() = std::move(e);
    if (!stream->Write(out) || !stream->Read(&in) || !in.has_ack()) {
      return absl::UnavailableError(
          absl::StrCat("no ack for ", hello.server(), ": ", stream->Finish().error_message()));
    }
    acked = absl::Now();
  }
  stream->WritesDone();
  grpc::Status finished = stream->Finish();
  if (!finished.ok()) {
    return absl::UnavailableError(
        absl::StrCat("stream of ", hello.server(), " ended with ", finished.error_message()));
  }
  return acked;
}

// The background traffic of a connected fleet while queries and alerts are
// timed: agents send a heartbeat a minute when idle, so 2,000 agents make
// about 33 batches a second. Sent round-robin over `streams` agents' open
// streams, `per_second` in all. (Without it the callback side of the
// collector's gRPC server sits idle, and gRPC 1.51 then stalls RPCs by about
// 100 ms once a second: see BENCHMARKS.md.)
class HeartbeatTraffic {
 public:
  HeartbeatTraffic(const std::string& address, double per_second, int streams)
      : stub_(
            v1::Ingest::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        period_(absl::Seconds(1) / per_second) {
    for (int i = 0; i < streams; ++i) {
      Stream& s = streams_.emplace_back();
      s.context = std::make_unique<grpc::ClientContext>();
      s.stream = stub_->StreamEvents(s.context.get());
      s.hello = BenchServer(i).Hello(absl::StrCat("heartbeats-", absl::ToUnixMicros(absl::Now())));
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~HeartbeatTraffic() {
    stopping_.store(true);
    thread_.join();
    for (Stream& s : streams_) {
      s.stream->WritesDone();
      (void)s.stream->Finish();  // the collector's answer does not matter now
    }
  }
  HeartbeatTraffic(const HeartbeatTraffic&) = delete;
  HeartbeatTraffic& operator=(const HeartbeatTraffic&) = delete;

  // OK unless a heartbeat went unacknowledged.
  absl::Status status() {
    MutexLock lock(&mu_);
    return status_;
  }

 private:
  struct Stream {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>> stream;
    v1::Hello hello;
    uint64_t seq = 0;
  };

  void Run() {
    absl::Time next = absl::Now();
    for (size_t i = 0; !stopping_.load(); i = (i + 1) % streams_.size()) {
      absl::Status st = Beat(streams_[i]);
      if (!st.ok()) {
        MutexLock lock(&mu_);
        status_ = st;
        return;
      }
      next += period_;
      absl::SleepFor(next - absl::Now());
    }
  }

  absl::Status Beat(Stream& s) {
    v1::AgentMessage out;
    v1::CollectorMessage in;
    if (s.seq == 0) {
      *out.mutable_hello() = s.hello;
      if (!s.stream->Write(out) || !s.stream->Read(&in) || !in.has_welcome()) {
        return absl::UnavailableError("heartbeat stream: no welcome");
      }
    }
    v1::Event* e = out.mutable_batch()->add_events();
    *e = MakeEvent("heartbeat", absl::Now());
    e->mutable_heartbeat()->set_spool_budget_bytes(512 << 20);
    out.mutable_batch()->set_seq(++s.seq);
    if (!s.stream->Write(out) || !s.stream->Read(&in) || !in.has_ack()) {
      return absl::UnavailableError("heartbeat stream: no ack");
    }
    return absl::OkStatus();
  }

  std::unique_ptr<v1::Ingest::Stub> stub_;
  const absl::Duration period_;
  std::vector<Stream> streams_;
  std::atomic<bool> stopping_{false};
  Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Latencies in ms of `calls` calls of `call` (after a few unmeasured ones);
// nullopt when the collector does not implement it.
absl::StatusOr<std::optional<std::vector<double>>> TimeCalls(
    int calls, const std::function<grpc::Status(int)>& call) {
  std::vector<double> ms;
  for (int i = -5; i < calls; ++i) {
    const absl::Time start = absl::Now();
    grpc::Status s = call(i);
    const double elapsed = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) return std::nullopt;
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("query failed: ", s.error_message(), " (", s.error_code(), ")"));
    }
    if (i >= 0) ms.push_back(elapsed);
  }
  return std::optional<std::vector<double>>(std::move(ms));
}

absl::Status MeasureQueries(const std::string& address, const FleetShape& shape, int calls,
                            Results* results) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto stub = v1::Query::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  size_t summary_bytes = 0;
  int open_alerts = 0;
  SYNCWATCH_ASSIGN_OR_RETURN(auto fleet, TimeCalls(calls, [&](int) {
                               grpc::ClientContext context;
                               v1::FleetSummaryResponse response;
                               grpc::Status s = stub->FleetSummary(
                                   &context, v1::FleetSummaryRequest(), &response);
                               summary_bytes = response.ByteSizeLong();
                               open_alerts = response.open_alerts();
                               return s;
                             }));
  std::fprintf(stderr, "fleet: %d alerts open while timing\n", open_alerts);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, shape.servers - 1);
  size_t detail_bytes = 0;
  SYNCWATCH_ASSIGN_OR_RETURN(auto detail, TimeCalls(calls, [&](int) {
                               grpc::ClientContext context;
                               v1::GetServerRequest request;
                               request.set_server(BenchServer(pick(rng)).name);
                               v1::GetServerResponse response;
                               grpc::Status s = stub->GetServer(&context, request, &response);
                               detail_bytes = std::max(detail_bytes, response.ByteSizeLong());
                               return s;
                             }));
  auto report = [&](const char* name, const std::optional<std::vector<double>>& ms, size_t bytes) {
    if (!ms) {
      results->Missing(name, "the collector answers UNIMPLEMENTED");
      std::fprintf(stderr, "%s: the collector answers UNIMPLEMENTED\n", name);
      return;
    }
    const double p99 = Percentile(*ms, 99);
    results->Set(name, p99);
    const double p50 = Percentile(*ms, 50);
    // Which calls were slow says whether something periodic got in the way.
    std::string slow;
    for (size_t i = 0; i < ms->size(); ++i) {
      if ((*ms)[i] > 3 * p50) absl::StrAppendFormat(&slow, " #%zu:%.0f", i, (*ms)[i]);
    }
    std::fprintf(stderr,
                 "%s: %zu calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu bytes); over 3x "
                 "p50:%s\n",
                 name, ms->size(), p50, p99, Percentile(*ms, 100), bytes,
                 slow.empty() ? " none" : slow.c_str());
  };
  report("fleet_summary_p99_ms", fleet, summary_bytes);
  report("server_detail_p99_ms", detail, detail_bytes);
  return absl::OkStatus();
}

// The alerts are spread over `spread` (random pauses), so that they sample
// whatever the alert engine does on its own schedule (a full evaluation every
// rules.evaluation_interval) in proportion to the time it takes.
absl::Status MeasureAlertLatency(const std::string& address, WebhookReceiver& receiver, int alerts,
                                 absl::Duration spread, Results* results) {
  auto stub = v1::Ingest::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::mt19937 rng(11);
  const int64_t mean_pause_ms = absl::ToInt64Milliseconds(spread / alerts);
  std::uniform_int_distribution<int64_t> pause_ms(mean_pause_ms / 4, mean_pause_ms * 7 / 4);
  std::vector<double> ms;
  for (int i = 0; i < alerts; ++i) {
    // A server of its own tenant, whose Entra ID connector has 600 deletes
    // pending against the tenant's threshold of 500.
    v1::Hello hello;
    hello.set_agent_id(absl::StrFormat("alert%02d", i));
    hello.set_server(absl::StrFormat("alert%02d.bench.example.com", i));
    hello.set_tenant(absl::StrFormat("alert%02d.onmicrosoft.com", i));
    hello.set_role(v1::SERVER_ROLE_ACTIVE);
    hello.set_agent_version("syncwatch-bench");
    hello.set_spool_epoch(absl::StrCat("alerts-", absl::ToUnixMicros(absl::Now())));
    const absl::Time now = absl::Now();
    std::vector<v1::Event> events(2);
    events[0] = MakeEvent("settings", now);
    *events[0].mutable_settings() = MakeSettings(false, 500);
    events[1] = MakeEvent("pending", now);
    *events[1].mutable_pending_exports() =
        MakeSnapshot(absl::StrCat(hello.tenant(), " - AAD"), now, 600);
    SYNCWATCH_ASSIGN_OR_RETURN(const absl::Time acked,
                               SendAndAwaitAck(*stub, hello, std::move(events)));
    std::optional<absl::Time> arrived =
        receiver.WaitFor("PendingDeletesOverThreshold", hello.server(), absl::Seconds(60));
    if (!arrived) {
      return absl::DeadlineExceededError(absl::StrCat("no PendingDeletesOverThreshold alert for ",
                                                      hello.server(), " within 60 s"));
    }
    // The commit observer runs before the ack is sent, so the alert may even
    // arrive first: that counts as no delay.
    ms.push_back(std::max(0.0, absl::ToDoubleMilliseconds(*arrived - acked)));
    absl::SleepFor(absl::Milliseconds(pause_ms(rng)));
  }
  const double p99 = Percentile(ms, 99);
  std::fprintf(stderr, "alert latency: %zu alerts, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
               ms.size(), Percentile(ms, 50), p99, Percentile(ms, 100));
  results->Set("alert_latency_p99_ms", p99);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunFleetBench(const BenchConfig& config, Results* results) {
  FleetShape shape;
  if (config.quick) {
    shape.servers = 200;
    shape.days = 7;
  }
  SYNCWATCH_ASSIGN_OR_RETURN(const std::string cached, CachedFleet(config, shape));
  const std::string dir = config.work_dir + "/fleet";
  SYNCWATCH_RETURN_IF_ERROR(CloneStore(cached, dir + "/collector-data"));
  WebhookReceiver receiver;
  SYNCWATCH_ASSIGN_OR_RETURN(
      auto collector,
      ServerProcess::StartCollector(dir, dir + "/collector-data",
                                    absl::StrCat("notifiers:\n  webhooks:\n    - {url: \"",
                                                 receiver.url(), "\", format: json}\n")));
  const absl::Time started = absl::Now();
  // Every agent of the fleet says hello and reports the cycle that just ran
  // (as a live fleet's agents would have), so that no server is judged silent
  // or overdue for the time the cache sat on disk: the figures do not depend
  // on the cache's age.
  {
    auto stub = v1::Ingest::NewStub(
        grpc::CreateChannel(collector->address(), grpc::InsecureChannelCredentials()));
    const int64_t history_runs = int64_t{shape.days} * kCyclesPerDay * 3;
    for (int i = 0; i < shape.servers; ++i) {
      const BenchServer server(i);
      std::vector<v1::Event> cycle;
      for (size_t k = 0; k < server.connectors.size(); ++k) {
        const absl::Time start = absl::Now() - absl::Minutes(10 - 2 * static_cast<int>(k));
        v1::Event e = MakeEvent("runs", start);
        *e.mutable_run() = MakeRun(
            server.connectors[k],
            server.role == v1::SERVER_ROLE_STAGING ? RunProfile::kDeltaSync : RunProfile::kExport,
            history_runs + static_cast<int64_t>(k) + 1, start, "success", 0);
        cycle.push_back(std::move(e));
      }
      SYNCWATCH_RETURN_IF_ERROR(
          SendAndAwaitAck(*stub, server.Hello("history"), std::move(cycle)).status());
    }
  }
  // Start-up work (WAL replay, compactions, the first full evaluation of the
  // rules, notifications of what fired) is over before anything is timed.
  SYNCWATCH_RETURN_IF_ERROR(
      WaitForCpuIdle(collector->pid(), 5, absl::Seconds(2), absl::Minutes(10)));
  for (const absl::Time deadline = absl::Now() + absl::Minutes(5);;) {
    absl::StatusOr<double> queued = collector->Metric("syncwatch_alert_outbox_notifications");
    if (queued.ok() && *queued == 0) break;
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("the alert outbox never drained");
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::fprintf(stderr, "fleet: collector settled after %.1f s (%d webhook posts so far)\n",
               absl::ToDoubleSeconds(absl::Now() - started), receiver.posts());
  const double heartbeats_per_s =
      config.heartbeats_per_s > 0 ? config.heartbeats_per_s : shape.servers / 60.0;
  std::fprintf(stderr, "fleet: %.1f heartbeats a second while timing\n", heartbeats_per_s);
  HeartbeatTraffic heartbeats(collector->address(), heartbeats_per_s, 50);
  auto threads = ThreadCpuTicks(collector->pid());
  absl::Time t = absl::Now();
  SYNCWATCH_RETURN_IF_ERROR(MeasureQueries(collector->address(), shape,
                                           config.query_calls > 0 ? config.query_calls
                                           : config.quick         ? 50
                                                                  : 300,
                                           results));
  PrintThreadCpu("collector while queried", threads, ThreadCpuTicks(collector->pid()),
                 absl::ToDoubleSeconds(absl::Now() - t));
  threads = ThreadCpuTicks(collector->pid());
  t = absl::Now();
  SYNCWATCH_RETURN_IF_ERROR(
      MeasureAlertLatency(collector->address(), receiver, config.quick ? 5 : 20,
                          config.quick ? absl::Seconds(1) : absl::Seconds(80), results));
  PrintThreadCpu("collector while alerting", threads, ThreadCpuTicks(collector->pid()),
                 absl::ToDoubleSeconds(absl::Now() - t));
  SYNCWATCH_RETURN_IF_ERROR(heartbeats.status());
  SYNCWATCH_RETURN_IF_ERROR(collector->Stop());
  return config.keep_work ? absl::OkStatus() : FreshDir(dir);
}

}  // namespace syncwatch::bench
