#include "common/clock.h"

namespace syncwatch {

Clock& RealClock::Get() {
  static RealClock* const clock = new RealClock();
  return *clock;
}

}  // namespace syncwatch
