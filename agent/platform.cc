#include "agent/platform.h"

#include <random>

#include "absl/strings/str_format.h"

#ifdef _WIN32
#include <winsock2.h>
#else
#include <unistd.h>
#endif

namespace syncwatch::agent {

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string name(buf);
  // Sync servers are known by their short name in Entra Connect's UI.
  const size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

std::string RandomHex(int bytes) {
  std::random_device rd;  // the OS's entropy source on both platforms
  std::string out;
  for (int i = 0; i < bytes; ++i) out += absl::StrFormat("%02x", rd() & 0xFF);
  return out;
}

}  // namespace syncwatch::agent
