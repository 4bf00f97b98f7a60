// Wires an agent together: sources -> spool -> one CollectorLink per collector.
#ifndef SYNCWATCH_AGENT_AGENT_H_
#define SYNCWATCH_AGENT_AGENT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/agent_options.h"
#include "agent/collector_link.h"
#include "agent/spool.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace syncwatch::agent {

const char* AgentVersion();

// What one pass over the sources did.
struct ScanReport {
  int files_read = 0;
  int events_spooled = 0;
  // One line per file that could not be read or spooled, naming it, and per
  // source whose folder cannot be listed for another reason than that it
  // does not exist (an unreachable share, no access).
  std::vector<std::string> failures;
  // Files their writer held open without sharing them (Windows), left for the
  // next pass: not a failure.
  std::vector<std::string> in_use;
};

// Thread-safe: Stop() may be called from any thread while Run() blocks.
class Agent {
 public:
  // Opens the spool and starts delivering to the collectors. `clock` must
  // outlive the agent.
  static absl::StatusOr<std::unique_ptr<Agent>> Create(const AgentOptions& options, Clock& clock);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Reads every new or changed input of every source once and spools it. A
  // file that fails is reported and left for the next pass; the rest go on.
  // A file in use by its writer, and a source folder that is missing or
  // cannot be listed, are tried again at every pass and logged once (not at
  // every pass) until that changes.
  ScanReport ScanOnce();

  // Waits until every collector has acknowledged (or refused) every spooled
  // batch. DeadlineExceeded naming the collectors still behind, and why, when
  // `timeout` passes; FailedPrecondition listing refusals, if any.
  absl::Status WaitDelivered(absl::Duration timeout);

  // Scans sources on their intervals and sends heartbeats until Stop().
  void Run();
  void Stop();

  Spool& spool() { return *spool_; }

 private:
  Agent(const AgentOptions& options, Clock& clock) : options_(options), clock_(clock) {}
  absl::Status ScanSource(const SourceOptions& source, ScanReport* report);
  absl::Status RunCommandSource(const SourceOptions& source, ScanReport* report);
  // Logs a change in whether `source`'s folder can be listed (`listed`: the
  // status of listing it): one warning when it cannot, one line when it can
  // again.
  void NoteFolderStatus(const SourceOptions& source, const absl::Status& listed);

  const AgentOptions options_;
  Clock& clock_;
  std::unique_ptr<Spool> spool_;
  std::vector<std::unique_ptr<CollectorLink>> links_;
  size_t refusals_at_start_ = 0;

  Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Failures already logged, by input key and fingerprint, so that a broken
  // file is reported once, not on every scan.
  std::map<std::string, std::string> reported_failures_ ABSL_GUARDED_BY(mu_);
  // Why each source's folder could not be listed, as last logged.
  std::map<std::string, std::string> folder_problems_ ABSL_GUARDED_BY(mu_);
};

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_AGENT_H_
