// The agent's only OS-specific calls, so that it builds on Windows (where it
// runs in production) as well as on Linux (where it is tested).
#ifndef SYNCWATCH_AGENT_PLATFORM_H_
#define SYNCWATCH_AGENT_PLATFORM_H_

#include <string>

namespace syncwatch::agent {

// The machine's host name (short form), or "localhost" if it cannot be read.
std::string HostName();

// Random bytes from the OS, hex encoded (for spool epochs).
std::string RandomHex(int bytes);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PLATFORM_H_
