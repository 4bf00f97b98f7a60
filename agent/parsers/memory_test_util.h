// Process-memory probes for the parsers' bounded-memory tests (test-only).
// Linux only (/proc/self/status), like the machines the tests run on.
#ifndef SYNCWATCH_AGENT_PARSERS_MEMORY_TEST_UTIL_H_
#define SYNCWATCH_AGENT_PARSERS_MEMORY_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/parsers/byte_reader.h"

#if defined(__SANITIZE_ADDRESS__)
#define SYNCWATCH_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYNCWATCH_TEST_ASAN 1
#endif
#endif

#ifdef SYNCWATCH_TEST_ASAN
#include <sanitizer/allocator_interface.h>
#endif

namespace syncwatch::agent::testing {

constexpr int64_t kMiB = int64_t{1} << 20;

inline double InMiB(int64_t bytes) {
  return static_cast<double>(bytes) / static_cast<double>(kMiB);
}

// VmRSS / VmHWM of this process in bytes; 0 when unknown.
struct ProcMemory {
  int64_t rss = 0;
  int64_t hwm = 0;
};

inline ProcMemory ReadProcMemory() {
  ProcMemory m;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    const std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 2) continue;
    int64_t kb = 0;
    if (!absl::SimpleAtoi(parts[1], &kb)) continue;
    if (parts[0] == "VmRSS:") m.rss = kb * 1024;
    if (parts[0] == "VmHWM:") m.hwm = kb * 1024;
  }
  return m;
}

// Resets VmHWM to the current RSS (Linux 4.0+); false when not allowed.
inline bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

// Heap bytes in use, where the allocator can say (ASan keeps freed memory in
// quarantine and has shadow memory, so RSS says little about our use there).
inline int64_t HeapInUse() {
#ifdef SYNCWATCH_TEST_ASAN
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  return 0;
#endif
}

// A document of about `target` bytes made piece by piece as it is read
// (never held whole), sampling the process's memory every 4 MiB read.
class GeneratedDocument : public ByteReader {
 public:
  absl::StatusOr<size_t> Read(char* out, size_t capacity) override {
    while (pos_ == buf_.size() && !done_) {
      buf_.clear();
      pos_ = 0;
      done_ = produced_ >= target_;
      if (done_) {
        buf_ = Tail();
      } else {
        Refill(&buf_);
      }
    }
    const size_t n = std::min(capacity, buf_.size() - pos_);
    std::copy(buf_.data() + pos_, buf_.data() + pos_ + n, out);
    pos_ += n;
    produced_ += static_cast<int64_t>(n);
    if (produced_ >= next_sample_) {
      next_sample_ += 4 * kMiB;
      Sample();
    }
    return n;
  }

  void Sample() {
    max_rss_ = std::max(max_rss_, ReadProcMemory().rss);
    max_heap_ = std::max(max_heap_, HeapInUse());
  }

  int64_t produced() const { return produced_; }
  int64_t max_rss() const { return max_rss_; }
  int64_t max_heap() const { return max_heap_; }

 protected:
  GeneratedDocument(int64_t target, std::string head) : target_(target), buf_(std::move(head)) {}
  // Appends the next piece of the body.
  virtual void Refill(std::string* buf) = 0;
  // What closes the document.
  virtual std::string Tail() const = 0;

 private:
  const int64_t target_;
  std::string buf_;
  size_t pos_ = 0;
  bool done_ = false;
  int64_t produced_ = 0;
  int64_t next_sample_ = 0;
  int64_t max_rss_ = 0;
  int64_t max_heap_ = 0;
};

}  // namespace syncwatch::agent::testing

#endif  // SYNCWATCH_AGENT_PARSERS_MEMORY_TEST_UTIL_H_
