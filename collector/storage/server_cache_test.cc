#include "collector/storage/server_cache.h"

#include <string>
#include <vector>

#include "common/time_util.h"
#include "gtest/gtest.h"

namespace syncwatch::collector {
namespace {

v1::ServerInfo Server(const std::string& name, const std::string& tenant, int64_t last_seen_s) {
  v1::ServerInfo info;
  info.set_server(name);
  info.set_tenant(tenant);
  *info.mutable_last_seen() = ToProtoTimestamp(absl::FromUnixSeconds(last_seen_s));
  return info;
}

void ReportThreshold(v1::ServerInfo* info, bool enabled, int64_t value) {
  info->mutable_settings()->set_deletion_threshold_known(true);
  info->mutable_settings()->set_deletion_threshold_enabled(enabled);
  info->mutable_settings()->set_deletion_threshold(value);
}

TEST(TenantThresholdsTest, OwnReportWinsElseThePeerHeardFromLast) {
  std::vector<v1::ServerInfo> servers = {Server("sync01", "Contoso.onmicrosoft.com", 100),
                                         Server("sync02", "contoso.onmicrosoft.com", 200),
                                         Server("sync03", "contoso.onmicrosoft.com", 50),
                                         Server("lab", "", 300),
                                         Server("other", "fabrikam.onmicrosoft.com", 10)};
  ReportThreshold(&servers[0], true, 300);
  ReportThreshold(&servers[1], false, 400);
  ReportThreshold(&servers[3], true, 50);
  std::vector<ServerEntry> entries(servers.begin(), servers.end());  // never moved after
  TenantThresholds t;
  for (const auto& e : entries) t.Add(e);
  EXPECT_EQ(t.For(entries[0]).value, 300);
  EXPECT_EQ(t.For(entries[2]).reported_by, "sync02") << "the peer seen last, tenant case-folded";
  EXPECT_FALSE(t.For(entries[2]).enabled);
  EXPECT_FALSE(t.For(entries[4]).known) << "another tenant's report does not apply";
  const ServerEntry lab2(Server("lab2", "", 1));
  EXPECT_FALSE(t.For(lab2).known) << "a tenant-less server is a group of its own";
}

TEST(ServerEntryTest, KeepsTheRecordItsSummaryWithoutConnectorsAndWhatJudgingReads) {
  v1::ServerInfo record;
  record.set_server("sync01");
  record.set_tenant("Contoso.onmicrosoft.com");
  record.set_pending_deletes(7);
  record.add_connectors()->set_connector("contoso.com");
  record.mutable_connectors(0)->set_pending_deletes(3);
  v1::ConnectorState* aad = record.add_connectors();
  aad->set_connector("contoso.onmicrosoft.com - AAD");
  aad->set_pending_deletes(7);
  record.set_last_run_result("stopped-server-down");
  record.mutable_settings()->set_deletion_threshold_known(true);
  record.mutable_settings()->set_deletion_threshold(300);
  *record.mutable_last_seen() = ToProtoTimestamp(absl::FromUnixSeconds(1700000000));
  record.add_health_reasons("judged by an earlier query");  // never stored; dropped if it were
  record.set_health(v1::HEALTH_CRITICAL);
  const ServerEntry entry(record);
  EXPECT_EQ(entry.record.health_reasons_size(), 0);
  EXPECT_EQ(entry.record.health(), v1::HEALTH_UNSPECIFIED);
  EXPECT_EQ(entry.health.max_pending_deletes, 7);
  EXPECT_TRUE(entry.health.stopped);
  EXPECT_TRUE(entry.health.has_connectors);
  EXPECT_TRUE(entry.reported_threshold.known);
  EXPECT_EQ(entry.reported_threshold.value, 300);
  EXPECT_EQ(entry.reported_threshold.reported_by, "sync01");
  EXPECT_EQ(entry.last_seen_us, int64_t{1700000000} * 1000000);
  EXPECT_EQ(entry.record.connectors_size(), 2);
  v1::ServerInfo summary;
  ASSERT_TRUE(summary.ParseFromString(entry.summary_bytes));
  EXPECT_EQ(summary.connectors_size(), 0);
  EXPECT_EQ(summary.server(), "sync01");
  EXPECT_EQ(summary.pending_deletes(), 7);
  EXPECT_EQ(summary.health_reasons_size(), 0);
  EXPECT_EQ(entry.tenant_group, "contoso.onmicrosoft.com");
}

}  // namespace
}  // namespace syncwatch::collector
