#include "agent/spool.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "agent/platform.h"
#include "common/file_util.h"
#include "common/key_codec.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace syncwatch::agent {
namespace {

constexpr char kEpochKey[] = "epoch";
constexpr char kLastSeqKey[] = "last_seq";

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat("spool ", what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  return absl::UnavailableError(msg);
}

std::string SeqKey(uint64_t seq) { return KeyBuilder().Uint64(seq).Take(); }

bool ParseSeq(const rocksdb::Slice& s, uint64_t* seq) {
  KeyReader r(absl::string_view(s.data(), s.size()));
  return r.Uint64(seq) && r.done();
}

rocksdb::ColumnFamilyOptions FamilyOptions() {
  // The agent must stay small: modest memtables, no big caches.
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 4 * 1024 * 1024;
  return cf;
}

// Default (meta), then batches, inputs, acked, refused.
std::vector<rocksdb::ColumnFamilyDescriptor> FamilyDescriptors() {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : {"default", "batches", "inputs", "acked", "refused"}) {
    descriptors.emplace_back(name, FamilyOptions());
  }
  return descriptors;
}

// Whether a record of `family` decodes; inputs and refusals hold free text.
bool RecordDecodes(const std::string& family, const rocksdb::Slice& key,
                   const rocksdb::Slice& value) {
  uint64_t seq = 0;
  if (family == "batches") {
    v1::EventBatch batch;
    return ParseSeq(key, &seq) &&
           batch.ParseFromArray(value.data(), static_cast<int>(value.size()));
  }
  if (family == "acked") return ParseSeq(value, &seq);
  if (family == rocksdb::kDefaultColumnFamilyName && key == kLastSeqKey) {
    return ParseSeq(value, &seq);
  }
  return true;
}

}  // namespace

absl::StatusOr<SpoolCheckReport> Spool::Check(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(Utf8Path(dir) / "CURRENT", ec)) {
    return absl::NotFoundError(absl::StrCat("no spool in ", dir, " (no CURRENT file)"));
  }
  SpoolCheckReport report;
  rocksdb::Options options;
  options.paranoid_checks = true;
  // The families the MANIFEST knows: RepairDB does not recreate empty ones,
  // and Open creates what is missing.
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, dir, &names);
  if (!s.ok()) {
    report.problems.push_back(absl::StrCat("cannot read the spool's MANIFEST: ", s.ToString()));
    return report;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const rocksdb::ColumnFamilyDescriptor& d : FamilyDescriptors()) {
    if (std::find(names.begin(), names.end(), d.name) != names.end()) descriptors.push_back(d);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) {
    report.problems.push_back(absl::StrCat("cannot open the spool: ", s.ToString()));
    return report;
  }
  s = db->VerifyChecksum();
  if (!s.ok()) report.problems.push_back(absl::StrCat("checksum: ", s.ToString()));
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    const std::string family = h->GetName();
    uint64_t records = 0;
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++records;
      if (!RecordDecodes(family, it->key(), it->value())) {
        report.problems.push_back(
            absl::StrCat(family, ": record ", it->key().ToString(true), " does not decode"));
      }
    }
    if (!it->status().ok()) {
      report.problems.push_back(
          absl::StrCat(family, ": reading stopped: ", it->status().ToString()));
    }
    report.records.emplace_back(family, records);
    (void)db->DestroyColumnFamilyHandle(h);
  }
  return report;
}

absl::Status Spool::Repair(const std::string& dir) {
  rocksdb::Options options;
  return FromRocks(
      rocksdb::RepairDB(dir, rocksdb::DBOptions(options), FamilyDescriptors(), FamilyOptions()),
      absl::StrCat("repair ", dir));
}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir,
                                                   const std::vector<std::string>& collectors,
                                                   const Options& options) {
  std::error_code ec;
  std::filesystem::create_directories(Utf8Path(dir), ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("cannot create spool dir ", dir, ": ", ec.message()));
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 1;
  db_options.keep_log_file_num = 3;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, FamilyDescriptors(), &handles, &raw);
  std::unique_ptr<Spool> spool(new Spool());
  spool->db_.reset(raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open ", dir));
  spool->options_ = options;
  spool->meta_ = handles[0];
  spool->batches_ = handles[1];
  spool->inputs_ = handles[2];
  spool->acked_ = handles[3];
  spool->refused_ = handles[4];

  rocksdb::DB* db = spool->db_.get();
  std::string value;
  s = db->Get(rocksdb::ReadOptions(), spool->meta_, kEpochKey, &value);
  if (s.IsNotFound()) {
    value = RandomHex(8);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    SYNCWATCH_RETURN_IF_ERROR(
        FromRocks(db->Put(wo, spool->meta_, kEpochKey, value), "write epoch"));
  } else if (!s.ok()) {
    return FromRocks(s, "read epoch");
  }
  spool->epoch_ = value;

  MutexLock lock(&spool->mu_);
  s = db->Get(rocksdb::ReadOptions(), spool->meta_, kLastSeqKey, &value);
  if (s.ok()) {
    if (!ParseSeq(value, &spool->last_seq_))
      return absl::DataLossError("spool: last_seq does not decode");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read last_seq");
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), spool->batches_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t seq = 0;
    if (!ParseSeq(it->key(), &seq))
      return absl::DataLossError("spool: a batch key does not decode");
    spool->sizes_[seq] = it->value().size();
    spool->bytes_ += it->value().size();
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocks(it->status(), "scan batches"));
  spool->gc_floor_ = spool->sizes_.empty() ? spool->last_seq_ : spool->sizes_.begin()->first - 1;
  for (const std::string& c : collectors) {
    s = db->Get(rocksdb::ReadOptions(), spool->acked_, c, &value);
    uint64_t acked = 0;
    if (s.ok()) {
      if (!ParseSeq(value, &acked)) return absl::DataLossError("spool: an ack does not decode");
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "read acks");
    }
    // A collector added to the config later starts from what is still held.
    spool->acked_seq_[c] = std::max(acked, s.IsNotFound() ? spool->gc_floor_ : acked);
  }
  return spool;
}

Spool::~Spool() {
  // As the collector's store does: table files carry their family's name, WAL
  // records only its id (kept in the MANIFEST), so a flush at shutdown lets
  // RepairDB recover every family should the MANIFEST later be damaged.
  if (db_) {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    for (auto* h : {meta_, batches_, inputs_, acked_, refused_}) {
      if (h != nullptr) handles.push_back(h);
    }
    (void)db_->Flush(rocksdb::FlushOptions(), handles);  // best effort; the WAL has it all
  }
  for (auto* h : {meta_, batches_, inputs_, acked_, refused_}) {
    if (h != nullptr) (void)db_->DestroyColumnFamilyHandle(h);  // best effort at shutdown
  }
  if (db_) (void)db_->Close();  // every write that matters was synced
}

absl::Status Spool::Append(std::vector<v1::Event> events, const std::optional<InputMark>& mark,
                           Priority priority) {
  MutexLock lock(&mu_);
  rocksdb::WriteBatch wb;
  uint64_t seq = last_seq_;
  size_t added_bytes = 0;
  std::map<uint64_t, size_t> added;
  v1::EventBatch batch;
  size_t batch_bytes = 0;
  auto flush = [&]() {
    if (batch.events_size() == 0) return;
    batch.set_seq(++seq);
    std::string bytes = batch.SerializeAsString();
    added[seq] = bytes.size();
    added_bytes += bytes.size();
    wb.Put(batches_, SeqKey(seq), bytes);
    batch.Clear();
    batch_bytes = 0;
  };
  for (v1::Event& e : events) {
    const size_t size = e.ByteSizeLong() + 8;
    if (batch.events_size() > 0 &&
        (static_cast<size_t>(batch.events_size()) >= options_.batch_max_events ||
         batch_bytes + size > options_.batch_max_bytes)) {
      flush();
    }
    *batch.add_events() = std::move(e);
    batch_bytes += size;
  }
  flush();
  if (priority == Priority::kLow) {
    const auto limit =
        static_cast<size_t>(static_cast<double>(options_.max_bytes) * options_.low_priority_share);
    if (bytes_ + added_bytes > limit) {
      ++low_priority_refused_;
      if (!refusing_low_) {
        refusing_low_ = true;
        SYNCWATCH_LOG(
            kWarning, "spool holds ", bytes_, " of ", options_.max_bytes,
            " bytes: refusing heartbeats and superseded snapshots until collectors catch up");
      }
      return absl::ResourceExhaustedError(
          absl::StrCat("spool is over ", static_cast<int>(options_.low_priority_share * 100),
                       "% of its budget: low-priority events refused"));
    }
    if (refusing_low_) {
      refusing_low_ = false;
      SYNCWATCH_LOG(kInfo, "spool has room again: low-priority events accepted");
    }
  }
  if (bytes_ + added_bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("spool is full: ", bytes_, " bytes held, ", added_bytes,
                     " more would exceed the budget of ", options_.max_bytes,
                     " (collectors unreachable for long?)"));
  }
  if (seq != last_seq_) wb.Put(meta_, kLastSeqKey, SeqKey(seq));
  if (mark) wb.Put(inputs_, mark->key, mark->fingerprint);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  SYNCWATCH_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "append"));
  last_seq_ = seq;
  sizes_.insert(added.begin(), added.end());
  bytes_ += added_bytes;
  Changed();
  return absl::OkStatus();
}

bool Spool::IsRead(const InputMark& mark) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), inputs_, mark.key, &value);
  return s.ok() && value == mark.fingerprint;
}

absl::StatusOr<std::vector<v1::EventBatch>> Spool::ReadAfter(uint64_t after, size_t max) {
  std::vector<v1::EventBatch> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), batches_));
  for (it->Seek(SeqKey(after + 1)); it->Valid() && out.size() < max; it->Next()) {
    v1::EventBatch b;
    if (!b.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("spool: a stored batch does not parse");
    }
    out.push_back(std::move(b));
  }
  SYNCWATCH_RETURN_IF_ERROR(FromRocks(it->status(), "read"));
  return out;
}

absl::Status Spool::Ack(const std::string& collector, uint64_t seq) {
  MutexLock lock(&mu_);
  uint64_t& acked = acked_seq_[collector];
  if (seq <= acked) return absl::OkStatus();
  acked = std::min(seq, last_seq_);
  // Not synced: losing an ack only means a re-send, which the collector
  // recognises.
  SYNCWATCH_RETURN_IF_ERROR(
      FromRocks(db_->Put(rocksdb::WriteOptions(), acked_, collector, SeqKey(acked)), "record ack"));
  SYNCWATCH_RETURN_IF_ERROR(CollectGarbage());
  Changed();
  return absl::OkStatus();
}

absl::Status Spool::Refuse(const std::string& collector, uint64_t seq, const std::string& reason) {
  SYNCWATCH_LOG(kError, "collector ", collector, " refused batch ", seq, ": ", reason);
  SYNCWATCH_RETURN_IF_ERROR(
      FromRocks(db_->Put(rocksdb::WriteOptions(), refused_,
                         KeyBuilder().Uint64(seq).String(collector).Take(), reason),
                "record refusal"));
  return Ack(collector, seq);
}

absl::Status Spool::CollectGarbage() {
  uint64_t floor = last_seq_;
  for (const auto& [c, seq] : acked_seq_) floor = std::min(floor, seq);
  if (floor <= gc_floor_) return absl::OkStatus();
  SYNCWATCH_RETURN_IF_ERROR(FromRocks(
      db_->DeleteRange(rocksdb::WriteOptions(), batches_, SeqKey(gc_floor_ + 1), SeqKey(floor + 1)),
      "delete acknowledged batches"));
  for (auto it = sizes_.begin(); it != sizes_.end() && it->first <= floor;) {
    bytes_ -= it->second;
    it = sizes_.erase(it);
  }
  gc_floor_ = floor;
  return absl::OkStatus();
}

uint64_t Spool::AckedSeq(const std::string& collector) {
  MutexLock lock(&mu_);
  auto it = acked_seq_.find(collector);
  return it == acked_seq_.end() ? 0 : it->second;
}

uint64_t Spool::LastSeq() {
  MutexLock lock(&mu_);
  return last_seq_;
}

uint64_t Spool::FirstSeq() {
  MutexLock lock(&mu_);
  return gc_floor_ + 1;
}

bool Spool::AllHandled() {
  MutexLock lock(&mu_);
  for (const auto& [c, seq] : acked_seq_) {
    if (seq < last_seq_) return false;
  }
  return true;
}

std::vector<std::string> Spool::Refusals() {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), refused_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    KeyReader key(absl::string_view(it->key().data(), it->key().size()));
    uint64_t seq = 0;
    std::string collector;
    if (!key.Uint64(&seq) || !key.String(&collector)) continue;
    out.push_back(
        absl::StrCat("batch ", seq, " refused by ", collector, ": ", it->value().ToString()));
  }
  return out;
}

uint64_t Spool::low_priority_refused() {
  MutexLock lock(&mu_);
  return low_priority_refused_;
}

size_t Spool::BytesUsed() {
  MutexLock lock(&mu_);
  return bytes_;
}

void Spool::WaitForChange(uint64_t* generation, absl::Duration timeout) {
  MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (generation_ == *generation) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    cv_.WaitFor(absl::ToChronoNanoseconds(left));
  }
  *generation = generation_;
}

void Spool::Poke() {
  MutexLock lock(&mu_);
  Changed();
}

void Spool::Changed() {
  ++generation_;
  cv_.SignalAll();
}

}  // namespace syncwatch::agent
