#include "collector/storage/record_keys.h"

#include <string>
#include <vector>

#include "collector/state/run_identity.h"
#include "common/key_codec.h"
#include "common/time_util.h"
#include "gtest/gtest.h"

namespace syncwatch::collector {
namespace {

TEST(RecordKeysTest, TheRunKeyIsServerConnectorStartAndRunNaturalId) {
  std::vector<v1::RunProfileResult> runs(3);
  runs[0].set_run_history_id("{9B3F0D2A-0001}");
  runs[1].set_connector_name("contoso.com");  // no id: numbered in the connector name
  runs[2].set_connector_id("{C0FFEE}");       // no id: numbered in the connector id
  for (int i = 0; i < 3; ++i) {
    if (runs[i].connector_name().empty()) runs[i].set_connector_name("fabrikam.com");
    runs[i].set_run_number(7 + i);
    *runs[i].mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1714550400 + i));
  }
  for (const v1::RunProfileResult& run : runs) {
    const std::string key = RunKey("sync01", run);
    EXPECT_EQ(key, KeyBuilder()
                       .String("sync01")
                       .String(run.connector_name())
                       .Int64(ToUnixMicrosOrZero(run.start_time()))
                       .String(RunNaturalId(run))
                       .Take());
    std::string appended = "prefix";
    AppendRunKey("sync01", run, &appended);
    EXPECT_EQ(appended, "prefix" + key);
    EXPECT_EQ(key.rfind(ServerConnectorPrefix("sync01", run.connector_name()), 0), 0u)
        << "a connector's runs share its prefix";
  }
}

}  // namespace
}  // namespace syncwatch::collector
