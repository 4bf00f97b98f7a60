// Shared test helpers: temporary directories, a settable clock and status
// matchers (Abseil 20220623 ships none).
#ifndef SYNCWATCH_TESTS_TESTUTIL_TEST_UTIL_H_
#define SYNCWATCH_TESTS_TESTUTIL_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::testing {

// A fresh directory under the test temp dir named after the running test,
// removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path` (creating parent directories).
void WriteFile(const std::string& path, const std::string& content);

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}
  absl::Time Now() const override {
    MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") { return GetStatus(arg).ok(); }

MATCHER_P(StatusIs, code, "has code " + ::testing::PrintToString(code)) {
  return GetStatus(arg).code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  return GetStatus(arg).code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(GetStatus(arg).message()),
                                       result_listener);
}

#define SYNCWATCH_ASSERT_OK(expr)                                   \
  do {                                                              \
    const auto& syncwatch_s_ = (expr);                              \
    ASSERT_TRUE(::syncwatch::testing::GetStatus(syncwatch_s_).ok()) \
        << ::syncwatch::testing::GetStatus(syncwatch_s_);           \
  } while (false)

#define SYNCWATCH_EXPECT_OK(expr) \
  EXPECT_TRUE(::syncwatch::testing::GetStatus(expr).ok()) << ::syncwatch::testing::GetStatus(expr)

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_TEST_UTIL_H_
