#include "collector/web/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::collector {
namespace {

TEST(MetricsWriterTest, WritesFamiliesWithEscapedLabelsAndExactIntegers) {
  MetricsWriter m;
  m.Family("syncwatch_server_pending_deletes", "gauge", "Pending deletes.");
  m.Sample("syncwatch_server_pending_deletes", {{"server", "sync\"01\\\n"}, {"role", "active"}},
           int64_t{123456789012});
  m.Single("syncwatch_total", "counter", "A counter.", 7);
  m.Family("syncwatch_age_seconds", "gauge", "An age.");
  m.Sample("syncwatch_age_seconds", {}, 1.5);
  EXPECT_EQ(m.Take(),
            "# HELP syncwatch_server_pending_deletes Pending deletes.\n"
            "# TYPE syncwatch_server_pending_deletes gauge\n"
            "syncwatch_server_pending_deletes{server=\"sync\\\"01\\\\\\n\",role=\"active\"} "
            "123456789012\n"
            "# HELP syncwatch_total A counter.\n"
            "# TYPE syncwatch_total counter\n"
            "syncwatch_total 7\n"
            "# HELP syncwatch_age_seconds An age.\n"
            "# TYPE syncwatch_age_seconds gauge\n"
            "syncwatch_age_seconds 1.500\n");
}

}  // namespace
}  // namespace syncwatch::collector
