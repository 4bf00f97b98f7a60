// Time as a dependency (Envoy's TimeSource idea): code that waits, times out or
// stamps records takes a Clock&, and tests pass a FakeClock.
#ifndef SYNCWATCH_COMMON_CLOCK_H_
#define SYNCWATCH_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace syncwatch {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system's wall clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance.
  static Clock& Get();
};

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_CLOCK_H_
