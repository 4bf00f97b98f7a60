// Reading the collector's Prometheus /metrics in process-level tests.
#ifndef SYNCWATCH_TESTS_TESTUTIL_METRICS_H_
#define SYNCWATCH_TESTS_TESTUTIL_METRICS_H_

#include <cstdint>
#include <string>

namespace syncwatch::testing {

// The value of the unlabelled metric `name` (e.g.
// syncwatch_ingest_events_stored_total) that the collector's HTTP listener on
// 127.0.0.1:`http_port` serves at /metrics; -1 when it cannot be read.
int64_t CollectorMetric(int http_port, const std::string& name);

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_METRICS_H_
