// The single writer of the collector's store. Streams hand it validated
// batches; it commits whatever has queued up from all streams in one RocksDB
// write (group commit, as LevelDB's DBImpl::Write does) and then calls each
// submission's completion with the outcome. Two threads pipeline the work:
// one makes the next group into a write while the other commits (and syncs)
// the group before; a failed commit voids what was prepared on top of it.
//
// Per (agent_id, spool_epoch) the writer keeps a high-water mark: every batch
// up to it was stored (or refused, see SubmitRefusal), with no gap, because a
// batch is stored only when its seq is the mark + 1. A batch whose seq is at
// or below the mark is not written again (acknowledged as a duplicate); one
// beyond the mark + 1 fails FailedPrecondition naming the seq expected, so a
// gap or a reordering (or a batch after one that failed to store) is never
// acknowledged. A Hello whose first_seq is beyond the mark + 1 moves the mark
// to first_seq - 1 (the agent's spool no longer holds the seqs between): the
// loss is logged and counted (WriterStats::batches_lost).
// records also have natural keys (RunHistoryId, cs-guid, ...), so a run re-sent under a new spool
// epoch overwrites itself instead of doubling.
#ifndef SYNCWATCH_COLLECTOR_STORAGE_STORAGE_WRITER_H_
#define SYNCWATCH_COLLECTOR_STORAGE_STORAGE_WRITER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "collector/storage/store.h"
#include "collector/storage/wire_batch.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "syncwatch/v1/event.pb.h"
#include "syncwatch/v1/ingest.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {

// Who sent a batch: fixed per stream after its Hello.
struct AgentContext {
  v1::Hello hello;
};

// Counters for tests and /metrics; monotonic.
struct WriterStats {
  // Groups made into a write (committed or not yet).
  std::atomic<uint64_t> groups_prepared{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> batches_stored{0};
  std::atomic<uint64_t> batches_duplicate{0};
  // Batches not stored because their seq was beyond the agent's mark + 1.
  std::atomic<uint64_t> batches_out_of_order{0};
  // Batch seqs skipped because the agent's spool no longer held them
  // (Hello.first_seq beyond the mark + 1): lost to this collector.
  std::atomic<uint64_t> batches_lost{0};
  std::atomic<uint64_t> events_stored{0};
  std::atomic<uint64_t> write_failures{0};
};

// One submission of a group that just committed, as handed to the commit
// observer. The pointer is valid only during the observer call.
struct CommittedSubmission {
  std::string server;
  // The server's tenant as stored (empty when its agent reports none).
  std::string tenant;
  // The events stored; nullptr for a Hello-only submission (a sign of life)
  // and for a re-sent batch that was stored before.
  const v1::EventBatch* batch = nullptr;
};

// Called on the commit thread after each successful commit, before the
// submissions' completions run, with every submission of the group. It delays
// the commits after it, so it must only hand the work on (e.g. to a queue).
using CommitObserver = std::function<void(const std::vector<CommittedSubmission>& committed)>;

// Brings server records stored by earlier collectors (state_version below
// kServerStateVersion) up to date by folding in each connector's newest runs
// (until its latest success, export, import and sync runs are known, at most
// 200), in one write. A no-op on an up-to-date store; the collector calls it
// before anything reads the records, and StorageWriter::Create calls it too.
absl::Status UpgradeServerRecords(Store& store);

class StorageWriter {
 public:
  struct Options {
    // Most submissions committed in one RocksDB write. Default: 256.
    size_t max_group_size = 256;
    // Submissions waiting beyond this make Submit fail with ResourceExhausted
    // (streams then tell their agent to back off). Default: 4096.
    size_t max_queue = 4096;
    // Told about every successful commit (see CommitObserver); may be empty.
    // Default: none.
    CommitObserver on_commit;
  };

  // Called on the commit thread once the submission is durable (OK; duplicate
  // tells whether the batch had been stored before) or failed. Must not block.
  using Completion = std::function<void(absl::Status status, bool duplicate)>;

  // `store` and `clock` must outlive the writer. Loads the high-water marks.
  static absl::StatusOr<std::unique_ptr<StorageWriter>> Create(Store& store, Clock& clock,
                                                               const Options& options);
  // Stops the thread after committing what is queued.
  ~StorageWriter();
  StorageWriter(const StorageWriter&) = delete;
  StorageWriter& operator=(const StorageWriter&) = delete;

  // Queues a batch (or, with no batch, only the agent's sign of life from its
  // Hello, which also applies Hello.first_seq: see the top of this file).
  // Thread-safe, never blocks; `done` is always called exactly once,
  // possibly before Submit returns when the queue is full or the writer stopped.
  // The writer drops its reference to `batch` on its thread after `done`
  // (a batch parsed onto an arena can own that arena through it).
  void Submit(std::shared_ptr<const AgentContext> agent,
              std::shared_ptr<const v1::EventBatch> batch, Completion done);
  // The same for a batch received as `wire` (see FindBatchWire): its runs are
  // stored as they came. `batch` must keep the bytes `wire` points into alive.
  void Submit(std::shared_ptr<const AgentContext> agent,
              std::shared_ptr<const v1::EventBatch> batch, BatchWire wire, Completion done);

  // Settles batch `seq` of the agent, which the stream refused (it is invalid
  // and never stored): the mark moves over it as over a stored batch, so that
  // the batches after it are in sequence, and a re-send of it is a duplicate.
  // `done` as for Submit: FailedPrecondition when `seq` is out of order.
  void SubmitRefusal(std::shared_ptr<const AgentContext> agent, uint64_t seq, Completion done);

  // Highest seq stored (or refused) for (agent_id, spool_epoch), every one
  // before it too; 0 when none.
  uint64_t StoredSeq(const std::string& agent_id, const std::string& spool_epoch);

  // Commits what is queued and stops accepting; later Submits fail Unavailable.
  void Stop();

  const WriterStats& stats() const { return stats_; }

  // Used by the .cc's GroupView.
  struct GroupWrites;

 private:
  struct Submission {
    std::shared_ptr<const AgentContext> agent;
    std::shared_ptr<const v1::EventBatch> batch;
    Completion done;
    // Empty runs when the batch did not come with its wire layout.
    BatchWire wire;
    // With no batch: the seq of a refused batch to settle (SubmitRefusal); 0
    // for a Hello's sign of life.
    uint64_t refused_seq = 0;
  };
  struct Prepared;

  StorageWriter(Store& store, Clock& clock, const Options& options);
  // Queues `s`, or calls its completion at once when the writer cannot.
  void Queue(Submission s);
  absl::Status Load();
  absl::Status LoadServers();
  // The writer thread: takes a group from the queue, makes it one write
  // (Prepare) and hands it to the commit thread; it prepares the next group
  // while that one is committed and synced.
  void Run();
  void Prepare(Prepared& p);
  // The commit thread: writes each prepared group, then tells the observer
  // and the submissions.
  void RunCommits();
  void Commit(Prepared& p);

  Store& store_;
  Clock& clock_;
  const Options options_;
  WriterStats stats_;

  Mutex mu_;
  // Submissions queued (the writer thread waits for them).
  CondVar cv_{&mu_};
  // A prepared group queued, or room for one (both threads wait on it).
  CondVar commit_cv_{&mu_};
  std::deque<Submission> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // (agent_id, spool_epoch) -> stored seq. Written only by the commit thread
  // after a successful commit, read by streams for their Welcome.
  std::map<std::pair<std::string, std::string>, uint64_t> marks_ ABSL_GUARDED_BY(mu_);
  // The same as the writer thread sees it: including the groups prepared and
  // not committed yet.
  std::map<std::pair<std::string, std::string>, uint64_t> prepared_marks_ ABSL_GUARDED_BY(mu_);
  // Prepared groups waiting for the commit thread (at most one).
  std::deque<std::unique_ptr<Prepared>> prepared_ ABSL_GUARDED_BY(mu_);
  bool preparing_done_ ABSL_GUARDED_BY(mu_) = false;
  // Counts failed commits: a group prepared in an older epoch fails too.
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // The number of the group committed last.
  uint64_t committed_number_ ABSL_GUARDED_BY(mu_) = 0;

  // Owned by the writer thread: the latest record per server (including
  // groups not committed yet), the epoch it was read in, and the writes of
  // the groups prepared and not known to be committed (by group number).
  std::map<std::string, v1::ServerInfo> servers_;
  uint64_t prepared_epoch_ = 0;
  std::deque<std::pair<uint64_t, std::shared_ptr<const GroupWrites>>> in_flight_;

  std::thread thread_;
  std::thread commit_thread_;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_STORAGE_WRITER_H_
