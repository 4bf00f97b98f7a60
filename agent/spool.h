// The agent's durable spool: a RocksDB in the data dir that holds every batch
// until each configured collector has acknowledged it. Appending an input's
// events and marking the input as read is one atomic, synced write, so after a
// crash (even SIGKILL) an input is either fully spooled or not at all, and is
// never spooled twice.
//
// Layout: default family holds meta ("epoch", "last_seq"); `batches` seq ->
// EventBatch; `inputs` input key -> fingerprint; `acked` collector -> seq;
// `refused` seq, collector -> reason.
#ifndef SYNCWATCH_AGENT_SPOOL_H_
#define SYNCWATCH_AGENT_SPOOL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "rocksdb/db.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

// What Spool::Check found: records per family and every problem.
struct SpoolCheckReport {
  std::vector<std::pair<std::string, uint64_t>> records;  // family, count
  std::vector<std::string> problems;
  bool healthy() const { return problems.empty(); }
};

// Thread-safe.
class Spool {
 public:
  struct Options {
    // Bytes of batches the spool may hold; an Append beyond it fails with
    // ResourceExhausted and spools nothing. Default: 512 MiB.
    size_t max_bytes = size_t{512} * 1024 * 1024;
    // Share of max_bytes that low-priority appends (heartbeats, snapshots that
    // a later one supersedes) may fill, so that when collectors are away for
    // long the last room goes to run history and errors. Default: 0.8.
    double low_priority_share = 0.8;
    // Most events per batch. Default: 500.
    size_t batch_max_events = 500;
    // Most serialized bytes per batch (one larger event gets a batch alone).
    // Default: 4 MiB.
    size_t batch_max_bytes = size_t{4} * 1024 * 1024;
  };

  // An input (e.g. a file) that the events came from.
  struct InputMark {
    std::string key;          // e.g. "runs:/in/runs/x.xml"
    std::string fingerprint;  // e.g. size and modification time
  };

  // Opens or creates the spool in `dir` for the given collectors (their
  // acknowledgements are tracked separately).
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir,
                                                     const std::vector<std::string>& collectors,
                                                     const Options& options);
  // Opens the spool in `dir` read-only, verifies every checksum and parses
  // every batch and counter. An error only when there is no spool in `dir`.
  static absl::StatusOr<SpoolCheckReport> Check(const std::string& dir);
  // rocksdb::RepairDB on `dir`: keeps what is readable, drops the rest. The
  // agent must not be running.
  static absl::Status Repair(const std::string& dir);

  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Identifies this spool; sequence numbers are unique within it.
  const std::string& epoch() const { return epoch_; }

  enum class Priority { kNormal, kLow };

  // Spools `events` (split into batches) and, if given, marks the input as read,
  // in one synced write. Empty `events` with a mark only records the mark.
  // ResourceExhausted (nothing spooled) when the budget — for kLow, its
  // low_priority_share — would be exceeded.
  // Takes the events by value so that callers can move them in: a snapshot can
  // be tens of MB and the agent must stay small.
  absl::Status Append(std::vector<v1::Event> events, const std::optional<InputMark>& mark,
                      Priority priority = Priority::kNormal);

  // Low-priority appends refused for lack of room since the spool was opened.
  uint64_t low_priority_refused();

  // True when the input was spooled with this fingerprint before.
  bool IsRead(const InputMark& mark);

  // Up to `max` batches with seq > `after`, in order.
  absl::StatusOr<std::vector<v1::EventBatch>> ReadAfter(uint64_t after, size_t max);

  // The collector has stored every batch up to `seq`. Batches every collector
  // has acknowledged are deleted.
  absl::Status Ack(const std::string& collector, uint64_t seq);
  // The collector will never store batch `seq`; counts as handled for it and
  // is remembered with the reason.
  absl::Status Refuse(const std::string& collector, uint64_t seq, const std::string& reason);

  uint64_t AckedSeq(const std::string& collector);
  uint64_t LastSeq();
  // The lowest seq still held (LastSeq() + 1 when none is): every batch from
  // it through LastSeq() is held; those before it were deleted.
  uint64_t FirstSeq();
  // True when every collector has handled every batch.
  bool AllHandled();
  // Refusals recorded since the spool was created.
  std::vector<std::string> Refusals();
  size_t BytesUsed();

  // Blocks until something changed (append, ack, Poke) after `*generation`, or
  // `timeout` passed; updates `*generation`.
  void WaitForChange(uint64_t* generation, absl::Duration timeout);
  // Wakes every WaitForChange.
  void Poke();

 private:
  Spool() = default;
  absl::Status CollectGarbage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options options_;
  std::string epoch_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* batches_ = nullptr;
  rocksdb::ColumnFamilyHandle* inputs_ = nullptr;
  rocksdb::ColumnFamilyHandle* acked_ = nullptr;
  rocksdb::ColumnFamilyHandle* refused_ = nullptr;

  Mutex mu_;
  CondVar cv_{&mu_};
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Everything up to this seq has been deleted.
  uint64_t gc_floor_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> acked_seq_ ABSL_GUARDED_BY(mu_);
  // seq -> serialized size of each batch still held.
  std::map<uint64_t, size_t> sizes_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t low_priority_refused_ ABSL_GUARDED_BY(mu_) = 0;
  // Whether the last low-priority append was refused (logs once per episode).
  bool refusing_low_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_SPOOL_H_
