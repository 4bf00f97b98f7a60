#include "collector/collector_options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CollectorOptions, DefaultsAreValid) { SYNCWATCH_EXPECT_OK(CollectorOptions().Validate()); }

TEST(CollectorOptions, NonLoopbackNeedsInsecure) {
  CollectorOptions o;
  o.listen = "0.0.0.0:7443";
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--insecure")));
  o.insecure = true;
  SYNCWATCH_EXPECT_OK(o.Validate());
  EXPECT_TRUE(IsLoopbackAddress("[::1]:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7443"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1:7443"));
}

TEST(CollectorOptions, RejectsMalformedListen) {
  CollectorOptions o;
  o.listen = "7443";
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host:port")));
  o.listen = "127.0.0.1:99999";
  EXPECT_FALSE(o.Validate().ok());
}

TEST(LoadCollectorConfig, ShippedConfigsLoad) {
  for (const char* rel : {"/deploy/linux/collector.yaml", "/deploy/examples/collector.yaml"}) {
    auto o = LoadCollectorConfig(std::string(SYNCWATCH_SOURCE_DIR) + rel, CollectorOptions());
    EXPECT_TRUE(o.ok()) << rel << ": " << o.status();
  }
}

TEST(LoadCollectorConfig, ReadsKnownKeys) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path, "data_dir: /tmp/x\nlisten: 127.0.0.1:0\nsync_writes: false\n");
  auto o = LoadCollectorConfig(path, CollectorOptions());
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->data_dir, "/tmp/x");
  EXPECT_EQ(o->listen, "127.0.0.1:0");
  EXPECT_FALSE(o->sync_writes);
}

TEST(LoadCollectorConfig, UnknownKeyNamesFileAndLine) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path, "data_dir: /tmp/x\n\nlisten_addr: 127.0.0.1:1\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ":3: unknown key 'listen_addr'")));
}

TEST(LoadCollectorConfig, BadValueNamesTheLine) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path, "sync_writes: maybe\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":1: 'sync_writes' must be")));
  testing::WriteFile(path, "listen: [unclosed\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path + ":")));
}

}  // namespace
}  // namespace syncwatch::collector
