// The Windows helpers of common/win_util.h under the agent's namespace, for
// the agent's Windows-only files (platform_win.cc, service_win.cc).
#ifndef SYNCWATCH_AGENT_WIN_UTIL_H_
#define SYNCWATCH_AGENT_WIN_UTIL_H_

#include "common/win_util.h"

namespace syncwatch::agent::win {

using ::syncwatch::win::ErrorText;
using ::syncwatch::win::Handle;
using ::syncwatch::win::Narrow;
using ::syncwatch::win::Widen;

}  // namespace syncwatch::agent::win

#endif  // SYNCWATCH_AGENT_WIN_UTIL_H_
