#include "agent/agent.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/file_source.h"
#include "agent/parsers/byte_reader.h"
#include "agent/platform.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/text_util.h"
#include "common/time_util.h"

namespace syncwatch::agent {

namespace {

// A command's output is parsed in memory; anything bigger belongs in a file.
constexpr size_t kMaxCommandOutput = 64 * 1024 * 1024;

// What reported_failures_ holds for a file in use by its writer.
constexpr char kInUse[] = "in use";

}  // namespace

const char* AgentVersion() { return "syncwatch-agent 0.1.0"; }

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(const AgentOptions& options, Clock& clock) {
  SYNCWATCH_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Agent> agent(new Agent(options, clock));
  Spool::Options spool_options;
  spool_options.max_bytes = options.spool_max_bytes;
  spool_options.batch_max_events = options.batch_max_events;
  spool_options.batch_max_bytes = options.batch_max_bytes;
  SYNCWATCH_ASSIGN_OR_RETURN(agent->spool_,
                             Spool::Open(SpoolDir(options), options.collectors, spool_options));
  agent->refusals_at_start_ = agent->spool_->Refusals().size();

  v1::Hello hello;
  hello.set_agent_id(options.agent_id);
  hello.set_server(options.server);
  hello.set_tenant(options.tenant);
  hello.set_role(options.role);
  hello.set_agent_version(AgentVersion());
  hello.set_spool_epoch(agent->spool_->epoch());
  for (const std::string& address : options.collectors) {
    LinkOptions link;
    link.address = address;
    link.hello = hello;
    link.tls = options.tls;
    SYNCWATCH_ASSIGN_OR_RETURN(std::unique_ptr<CollectorLink> l,
                               CollectorLink::Create(std::move(link), *agent->spool_));
    agent->links_.push_back(std::move(l));
    agent->links_.back()->Start();
  }
  return agent;
}

Agent::~Agent() {
  Stop();
  for (auto& link : links_) link->Stop();
}

ScanReport Agent::ScanOnce() {
  ScanReport report;
  for (const SourceOptions& source : options_.sources) {
    absl::Status st = ScanSource(source, &report);
    if (!st.ok()) report.failures.push_back(std::string(st.message()));
  }
  return report;
}

absl::Status Agent::RunCommandSource(const SourceOptions& source, ScanReport* report) {
  const std::string what = absl::StrJoin(source.command, " ");
  SYNCWATCH_ASSIGN_OR_RETURN(CommandOutput output,
                             RunCommand(source.command, source.timeout, kMaxCommandOutput));
  if (output.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("source '", source.name, "': '", what,
                                               "' exited with ", output.exit_code, ": ",
                                               output.err));
  }
  // The same output as last time says nothing new (a scheduler that did not
  // change, the same snapshot): do not send it again.
  Spool::InputMark mark{absl::StrCat(source.name, ":command"),
                        absl::StrCat(output.out.size(), ":", absl::Hex(Fnv1a64(output.out)))};
  if (spool_->IsRead(mark)) return absl::OkStatus();
  StringByteReader reader(output.out);
  SYNCWATCH_ASSIGN_OR_RETURN(
      std::vector<v1::Event> events,
      ParseSourceInput(source, reader, absl::StrCat("output of '", what, "'"), clock_.Now(),
                       clock_.Now()));
  const size_t count = events.size();
  SYNCWATCH_RETURN_IF_ERROR(spool_->Append(std::move(events), mark));
  ++report->files_read;
  report->events_spooled += static_cast<int>(count);
  SYNCWATCH_LOG(kInfo, "source '", source.name, "': spooled ", count, " events from '", what, "'");
  return absl::OkStatus();
}

absl::Status Agent::ScanSource(const SourceOptions& source, ScanReport* report) {
  if (!source.command.empty()) {
    absl::Status st = RunCommandSource(source, report);
    if (!st.ok()) {
      report->failures.push_back(std::string(st.message()));
      SYNCWATCH_LOG(kError, st.message());
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<FoundFile>> found = FindSourceInputs(source);
  NoteFolderStatus(source, found.status());
  if (!found.ok()) {
    // A folder that does not exist (yet) is no failure: the exporter creates
    // it; an unreachable or unreadable one is. Either is tried again.
    if (absl::IsNotFound(found.status())) return absl::OkStatus();
    return absl::Status(found.status().code(),
                        absl::StrCat("source '", source.name, "': ", found.status().message()));
  }
  for (const FoundFile& file : *found) {
    Spool::InputMark mark{absl::StrCat(source.name, ":", file.path), file.fingerprint};
    if (spool_->IsRead(mark)) continue;
    auto events = ReadSourceFile(source, file, clock_.Now());
    absl::Status st = events.status();
    if (IsFileInUse(st)) {
      // Its writer still has it (a Windows sharing or lock violation): not
      // broken, read at the next pass. Logged once until it is read.
      report->in_use.push_back(file.path);
      MutexLock lock(&mu_);
      auto [it, inserted] = reported_failures_.try_emplace(mark.key, kInUse);
      if (inserted || it->second != kInUse) {
        it->second = kInUse;
        SYNCWATCH_LOG(kInfo, "source '", source.name, "': ", file.path,
                      " is in use by its writer; reading it at the next scan (", st.message(), ")");
      }
      continue;
    }
    // A configuration equal to the last one sent (a new folder with the same
    // content) is only marked as read.
    std::optional<Spool::InputMark> content;
    if (st.ok() && events->size() == 1 && (*events)[0].has_configuration()) {
      content = Spool::InputMark{absl::StrCat(source.name, ":configuration"),
                                 (*events)[0].configuration().digest()};
      if (spool_->IsRead(*content)) events->clear();
    }
    const size_t count = st.ok() ? events->size() : 0;
    if (st.ok()) st = spool_->Append(*std::move(events), mark);
    if (st.ok() && content && count > 0) st = spool_->Append({}, content);
    if (!st.ok()) {
      report->failures.push_back(std::string(st.message()));
      MutexLock lock(&mu_);
      auto [it, inserted] = reported_failures_.try_emplace(mark.key, mark.fingerprint);
      if (inserted || it->second != mark.fingerprint) {
        it->second = mark.fingerprint;
        SYNCWATCH_LOG(kError, "source '", source.name, "': ", st.message());
      }
      continue;
    }
    {
      MutexLock lock(&mu_);
      reported_failures_.erase(mark.key);  // a later failure is news again
    }
    ++report->files_read;
    report->events_spooled += static_cast<int>(count);
    SYNCWATCH_LOG(kInfo, "source '", source.name, "': spooled ", count, " events from ", file.path);
  }
  return absl::OkStatus();
}

void Agent::NoteFolderStatus(const SourceOptions& source, const absl::Status& listed) {
  MutexLock lock(&mu_);
  auto it = folder_problems_.find(source.name);
  if (listed.ok()) {
    if (it == folder_problems_.end()) return;
    folder_problems_.erase(it);
    SYNCWATCH_LOG(kInfo, "source '", source.name, "': ", source.path, " can be read again");
    return;
  }
  const std::string problem(listed.message());
  if (it != folder_problems_.end() && it->second == problem) return;
  folder_problems_[source.name] = problem;
  SYNCWATCH_LOG(kWarning, "source '", source.name, "': ", problem,
                absl::IsNotFound(listed) ? " (not there yet, or gone)" : "",
                "; trying again at every scan");
}

absl::Status Agent::WaitDelivered(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  uint64_t generation = 0;
  while (!spool_->AllHandled()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      std::vector<std::string> behind;
      const uint64_t last = spool_->LastSeq();
      for (const auto& link : links_) {
        const uint64_t acked = spool_->AckedSeq(link->address());
        if (acked >= last) continue;
        std::string why = link->last_error();
        behind.push_back(absl::StrCat(link->address(), " (", last - acked,
                                      " batches unacknowledged",
                                      why.empty() ? "" : "; last error: ", why, ")"));
      }
      return absl::DeadlineExceededError(absl::StrCat("not delivered within ",
                                                      absl::FormatDuration(timeout), ": ",
                                                      absl::StrJoin(behind, ", ")));
    }
    spool_->WaitForChange(&generation, std::min(left, absl::Seconds(1)));
  }
  std::vector<std::string> refusals = spool_->Refusals();
  if (refusals.size() > refusals_at_start_) {
    refusals.erase(refusals.begin(), refusals.begin() + static_cast<long>(refusals_at_start_));
    return absl::FailedPreconditionError(
        absl::StrCat("collectors refused batches: ", absl::StrJoin(refusals, "; ")));
  }
  return absl::OkStatus();
}

void Agent::Run() {
  std::map<std::string, absl::Time> next_scan;
  const absl::Time started = clock_.Now();
  absl::Time last_event = started;
  for (;;) {
    const absl::Time now = clock_.Now();
    absl::Time wake = now + options_.heartbeat_interval;
    for (const SourceOptions& source : options_.sources) {
      absl::Time& due = next_scan.try_emplace(source.name, now).first->second;
      if (due <= now) {
        ScanReport report;
        (void)ScanSource(source, &report);  // failures are logged inside
        if (report.events_spooled > 0) last_event = now;
        due = now + source.interval;
      }
      wake = std::min(wake, due);
    }
    if (now - last_event >= options_.heartbeat_interval) {
      v1::Event e;
      e.set_source("heartbeat");
      *e.mutable_observed_at() = ToProtoTimestamp(now);
      v1::Heartbeat* hb = e.mutable_heartbeat();
      *hb->mutable_agent_uptime() = ToProtoDuration(now - started);
      hb->set_spool_bytes(spool_->BytesUsed());
      hb->set_spool_budget_bytes(options_.spool_max_bytes);
      hb->set_low_priority_refused(spool_->low_priority_refused());
      // Heartbeats are the first thing to give way when the spool fills up.
      absl::Status st = spool_->Append({e}, std::nullopt, Spool::Priority::kLow);
      if (!st.ok()) SYNCWATCH_LOG(kDebug, "heartbeat not spooled: ", st.message());
      last_event = now;
      wake = std::min(wake, now + options_.heartbeat_interval);
    }
    MutexLock lock(&mu_);
    while (!stopping_ && absl::Now() < wake)
      cv_.WaitFor(absl::ToChronoNanoseconds(wake - absl::Now()));
    if (stopping_) return;
  }
}

void Agent::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  cv_.SignalAll();
}

}  // namespace syncwatch::agent
