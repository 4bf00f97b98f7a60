#include "collector/collector_options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::collector {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::AllOf;
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

// issue 6: off loopback, TLS without client certificates would let any client
// write events for any server.
TEST(CollectorOptions, NonLoopbackTlsNeedsClientCaOrInsecure) {
  CollectorOptions o;
  o.listen = "0.0.0.0:7443";
  o.tls.cert = "/etc/syncwatch/collector.pem";
  o.tls.key = "/etc/syncwatch/collector.key";
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("tls has no client_ca; without client certificates "
                                               "any client can write events for any server")));
  o.tls.client_ca = "/etc/syncwatch/ca.pem";
  SYNCWATCH_EXPECT_OK(o.Validate());
  o.tls.client_ca.clear();
  o.insecure = true;
  SYNCWATCH_EXPECT_OK(o.Validate());
  o.insecure = false;
  o.listen = "127.0.0.1:7443";  // on loopback server-only TLS is fine
  SYNCWATCH_EXPECT_OK(o.Validate());
}

// issue 16: off loopback the HTTP port serves HTTPS with the collector's
// certificate and needs tokens; plain HTTP there is refused at start-up.
TEST(CollectorOptions, NonLoopbackHttpNeedsTlsAndTokensOrInsecure) {
  CollectorOptions o;
  o.http_listen = "0.0.0.0:9464";
  o.auth.tokens_file = "/etc/syncwatch/tokens";
  EXPECT_THAT(o.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("http_listen: 0.0.0.0:9464 is not a loopback address and "
                                       "the HTTP port would be plain HTTP"),
                             HasSubstr("--tls_cert"), HasSubstr("--insecure"))));
  o.tls.cert = "/etc/syncwatch/collector.pem";
  o.tls.key = "/etc/syncwatch/collector.key";
  SYNCWATCH_EXPECT_OK(o.Validate());
  // HTTPS without tokens would still show every server to anyone.
  o.auth.tokens_file.clear();
  EXPECT_THAT(o.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("has no access control"), HasSubstr("auth.tokens_file"))));
  o.insecure = true;
  SYNCWATCH_EXPECT_OK(o.Validate());
  o.tls = ServerTls();
  SYNCWATCH_EXPECT_OK(o.Validate()) << "--insecure allows plain HTTP off loopback";
  // On loopback plain HTTP and no tokens stay allowed.
  o.insecure = false;
  o.http_listen = "127.0.0.1:9464";
  SYNCWATCH_EXPECT_OK(o.Validate());
  o.http_listen = "[::1]:9464";
  SYNCWATCH_EXPECT_OK(o.Validate());
}

TEST(CollectorOptions, RejectsLimitsBelowOne) {
  CollectorOptions o;
  o.agent_limits.max_streams_per_agent = 0;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("limits.max_streams_per_agent")));
  o = CollectorOptions();
  o.agent_limits.agent_events_per_second = 0;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("limits.agent_events_per_second")));
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

TEST(LoadCollectorConfig, ReadsLimitsAndTlsReloadInterval) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path,
                     "limits:\n  max_streams_per_agent: 2\n  agent_events_per_second: 500\n"
                     "tls: {reload_interval: 5m}\n");
  auto o = LoadCollectorConfig(path, CollectorOptions());
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->agent_limits.max_streams_per_agent, 2);
  EXPECT_EQ(o->agent_limits.agent_events_per_second, 500);
  EXPECT_EQ(o->tls.reload_interval, absl::Minutes(5));
}

TEST(LoadCollectorConfig, ReadsAuthAndRefusesProtectMetricsWithoutTokens) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path,
                     "auth:\n  tokens_file: /etc/syncwatch/tokens\n  protect_metrics: true\n");
  auto o = LoadCollectorConfig(path, CollectorOptions());
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->auth.tokens_file, "/etc/syncwatch/tokens");
  EXPECT_TRUE(o->auth.protect_metrics);
  testing::WriteFile(path, "auth:\n  protect_metrics: true\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.protect_metrics needs auth.tokens_file")));
  testing::WriteFile(path, "auth:\n  tokens: x\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'tokens'")));
}

TEST(LoadCollectorConfig, BadLimitNamesTheKeyAndLine) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path, "limits:\n  max_streams_per_agent: 0\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":2: 'limits.max_streams_per_agent' must be between 1")));
  testing::WriteFile(path, "limits:\n  events_per_second: 10\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'events_per_second'")));
  testing::WriteFile(path, "tls:\n  reload_interval: soon\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'tls.reload_interval'")));
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

TEST(LoadCollectorConfig, ReadsRetention) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path,
                     "retention:\n  runs: 30d\n  export_errors: off\n  snapshots: 36h\n"
                     "  interval: 15m\n");
  auto o = LoadCollectorConfig(path, CollectorOptions());
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->retention.runs, absl::Hours(30 * 24));
  EXPECT_EQ(o->retention.export_errors, absl::ZeroDuration());
  EXPECT_EQ(o->retention.snapshots, absl::Hours(36));
  EXPECT_EQ(o->retention.interval, absl::Minutes(15));

  // Keys left out keep their defaults; "0" is "off".
  testing::WriteFile(path, "retention:\n  snapshots: 0\n");
  o = LoadCollectorConfig(path, CollectorOptions());
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->retention.runs, absl::Hours(400 * 24));
  EXPECT_EQ(o->retention.export_errors, absl::Hours(400 * 24));
  EXPECT_EQ(o->retention.snapshots, absl::ZeroDuration());
  EXPECT_EQ(o->retention.interval, absl::Hours(1));
}

TEST(LoadCollectorConfig, BadRetentionValueNamesTheKey) {
  testing::TempDir dir;
  const std::string path = dir.Sub("collector.yaml");
  testing::WriteFile(path, "retention:\n  runs: forever\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ":2: 'retention.runs' must be a positive duration")));
  testing::WriteFile(path, "retention:\n  snapshots: -5d\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'retention.snapshots'")));
  testing::WriteFile(path, "retention:\n  interval: off\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":2: 'retention.interval'")));
  testing::WriteFile(path, "retention:\n  history: 90d\n");
  EXPECT_THAT(LoadCollectorConfig(path, CollectorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":2: unknown key 'history' in retention")));
}

}  // namespace
}  // namespace syncwatch::collector
