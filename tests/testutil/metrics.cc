#include "tests/testutil/metrics.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace syncwatch::testing {

int64_t CollectorMetric(int http_port, const std::string& name) {
  httplib::Client http("127.0.0.1", http_port);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const absl::string_view body = res->body;
  const std::string prefix = "\n" + name + " ";
  const size_t at = body.find(prefix);
  if (at == absl::string_view::npos) return -1;
  const absl::string_view rest = body.substr(at + prefix.size());
  int64_t value = -1;
  return absl::SimpleAtoi(rest.substr(0, rest.find('\n')), &value) ? value : -1;
}

}  // namespace syncwatch::testing
