#include "collector/state/server_state.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace syncwatch::collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1760000000);

google::protobuf::Timestamp At(absl::Duration after_t0) { return ToProtoTimestamp(kT0 + after_t0); }

v1::RunProfileResult MakeRun(const std::string& connector, const std::string& profile,
                             int64_t number, absl::Duration start, const std::string& result,
                             bool complete = true) {
  v1::RunProfileResult r;
  r.set_connector_name(connector);
  r.set_run_profile_name(profile);
  r.set_run_number(number);
  r.set_result(result);
  r.set_is_run_complete(complete);
  *r.mutable_start_time() = At(start);
  if (complete) *r.mutable_end_time() = At(start + absl::Minutes(2));
  r.add_steps()->set_step_type(profile == "Export" ? "export" : "delta-import");
  return r;
}

v1::PendingExportSnapshot Snapshot(const std::string& connector, absl::Duration taken,
                                   int64_t deletes) {
  v1::PendingExportSnapshot s;
  s.set_connector_name(connector);
  *s.mutable_taken_at() = At(taken);
  s.set_pending_adds(3);
  s.set_pending_updates(4);
  s.set_pending_deletes(deletes);
  return s;
}

TEST(ServerStateTest, KeepsTheLatestRunPerConnectorWhateverTheOrder) {
  v1::ServerInfo info;
  ApplyRunToState(MakeRun("contoso.com", "Export", 9, absl::Minutes(30), "success"), &info);
  ApplyRunToState(
      MakeRun("contoso.com", "Delta Import", 8, absl::Minutes(0), "stopped-server-down"), &info);
  ASSERT_EQ(info.connectors_size(), 1);
  EXPECT_EQ(info.connectors(0).last_run().run_number(), 9);
  EXPECT_EQ(info.connectors(0).last_run().steps_size(), 0) << "steps are not kept in the state";
  EXPECT_EQ(info.last_run_result(), "success");
  EXPECT_EQ(ToUnixMicrosOrZero(info.last_run_time()), ToUnixMicrosOrZero(At(absl::Minutes(32))));
}

TEST(ServerStateTest, AnInProgressReportDoesNotUndoTheCompleteOneOfTheSameRun) {
  v1::ServerInfo info;
  ApplyRunToState(MakeRun("contoso.com", "Export", 9, absl::Minutes(30), "success"), &info);
  v1::RunProfileResult again = MakeRun("contoso.com", "Export", 9, absl::Minutes(30), "", false);
  ApplyRunToState(again, &info);
  EXPECT_TRUE(info.connectors(0).last_run().is_run_complete());
  EXPECT_EQ(info.connectors(0).last_run().result(), "success");
}

TEST(ServerStateTest, KeepsWhatTheRunRulesJudgeLatestCompleteRunPerKindWithoutExportErrors) {
  v1::ServerInfo info;
  v1::RunProfileResult failed_export =
      MakeRun("contoso.com", "Export", 5, absl::Minutes(60), "completed-export-errors");
  failed_export.mutable_steps(0)->add_export_errors()->set_dn("CN=duplicate");
  failed_export.mutable_steps(0)->set_result("completed-export-errors");
  ApplyRunToState(failed_export, &info);
  ApplyRunToState(MakeRun("contoso.com", "Export", 4, absl::Minutes(30), "success"), &info);
  ApplyRunToState(MakeRun("contoso.com", "Delta Import", 3, absl::Minutes(20), "success"), &info);
  ApplyRunToState(
      MakeRun("contoso.com", "Delta Import", 2, absl::Minutes(10), "stopped-server-down"), &info);
  // In progress: neither the latest import nor the latest export start.
  ApplyRunToState(MakeRun("contoso.com", "Delta Import", 6, absl::Minutes(90), "", false), &info);
  ApplyRunToState(MakeRun("contoso.com", "Export", 7, absl::Minutes(95), "", false), &info);

  ASSERT_EQ(info.connectors_size(), 1);
  const v1::ConnectorState& c = info.connectors(0);
  ASSERT_EQ(c.latest_complete_runs().size(), 2u);
  const v1::RunProfileResult& exported = c.latest_complete_runs().at("export");
  EXPECT_EQ(exported.run_number(), 5) << "the latest complete export, whatever its result";
  ASSERT_EQ(exported.steps_size(), 1) << "the steps' results are judged";
  EXPECT_EQ(exported.steps(0).result(), "completed-export-errors");
  EXPECT_EQ(exported.steps(0).export_errors_size(), 0) << "export errors stay out of the state";
  EXPECT_EQ(c.latest_complete_runs().at("import").run_number(), 3);
  EXPECT_EQ(ToUnixMicrosOrZero(c.latest_export_start()), ToUnixMicrosOrZero(At(absl::Minutes(60))));
  EXPECT_EQ(ToUnixMicrosOrZero(c.first_run_start()), ToUnixMicrosOrZero(At(absl::Minutes(10))));
  // "completed-*" did its work: the export's end is the latest success.
  EXPECT_EQ(ToUnixMicrosOrZero(c.last_success()), ToUnixMicrosOrZero(At(absl::Minutes(62))));
}

// The writer folds a batch's runs at once; the state must be the one folding
// them one by one gives, whatever the order and the repeats.
TEST(ServerStateTest, FoldingManyRunsAtOnceEqualsFoldingThemOneByOne) {
  std::vector<v1::RunProfileResult> runs;
  const std::vector<std::string> connectors = {"contoso.com", "aad", "HR"};
  const std::vector<std::string> profiles = {"Delta Import", "Delta Synchronization", "Export"};
  for (int i = 0; i < 60; ++i) {
    // Starts out of order, a few runs reported twice (in progress, then
    // complete, or the other way round), results of every sort.
    const int n = (i * 37) % 45;
    const std::string results[] = {"success", "completed-export-errors", "stopped-server-down"};
    v1::RunProfileResult r =
        MakeRun(connectors[static_cast<size_t>(n) % 3], profiles[static_cast<size_t>(n / 3) % 3], n,
                absl::Minutes(n), results[n % 3], /*complete=*/i % 7 != 3);
    r.set_run_history_id("run-" + std::to_string(n));
    if (n % 5 == 0) r.mutable_steps(0)->add_export_errors()->set_dn("CN=x");
    runs.push_back(r);
  }
  v1::ServerInfo start;
  ApplyRunToState(MakeRun("aad", "Export", 100, absl::Minutes(20), "success"), &start);
  ApplyRunToState(MakeRun("HR", "Delta Import", 101, absl::Minutes(90), "success"), &start);

  for (size_t split : {size_t{1}, size_t{7}, runs.size()}) {
    v1::ServerInfo one_by_one = start;
    for (const v1::RunProfileResult& r : runs) ApplyRunToState(r, &one_by_one);
    v1::ServerInfo at_once = start;
    for (size_t from = 0; from < runs.size(); from += split) {
      std::vector<const v1::RunProfileResult*> chunk;
      for (size_t k = from; k < std::min(runs.size(), from + split); ++k) chunk.push_back(&runs[k]);
      ApplyRunsToState(chunk, &at_once);
    }
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(at_once, one_by_one))
        << "chunks of " << split << ":\n"
        << at_once.DebugString() << "\nvs one by one:\n"
        << one_by_one.DebugString();
  }
}

TEST(ServerStateTest, ConnectorsAreOrderedByName) {
  v1::ServerInfo info;
  for (const char* c : {"m.onmicrosoft.com - AAD", "contoso.com", "fabrikam.com", "a.com"}) {
    ApplyRunToState(MakeRun(c, "Export", 1, absl::Minutes(1), "success"), &info);
  }
  std::vector<std::string> names;
  for (const auto& c : info.connectors()) names.push_back(c.connector());
  EXPECT_THAT(names,
              ElementsAre("a.com", "contoso.com", "fabrikam.com", "m.onmicrosoft.com - AAD"));
}

TEST(ServerStateTest, LastSuccessfulCycleIsTheEarliestOfTheConnectorsLatestExports) {
  v1::ServerInfo info;
  ApplyRunToState(MakeRun("contoso.com", "Export", 1, absl::Minutes(0), "success"), &info);
  EXPECT_EQ(ToUnixMicrosOrZero(info.last_successful_cycle()),
            ToUnixMicrosOrZero(At(absl::Minutes(2))));
  // A second connector that has run but never succeeded: no cycle completed.
  ApplyRunToState(MakeRun("aad", "Export", 1, absl::Minutes(5), "stopped-extension-dll-exception"),
                  &info);
  EXPECT_FALSE(info.has_last_successful_cycle());
  // It exports: the cycle ends with the earlier of the two exports.
  ApplyRunToState(MakeRun("aad", "Export", 2, absl::Minutes(35), "success"), &info);
  EXPECT_EQ(ToUnixMicrosOrZero(info.last_successful_cycle()),
            ToUnixMicrosOrZero(At(absl::Minutes(2))));
  ApplyRunToState(MakeRun("contoso.com", "Export", 2, absl::Minutes(40), "completed-export-errors"),
                  &info);
  EXPECT_EQ(ToUnixMicrosOrZero(info.last_successful_cycle()),
            ToUnixMicrosOrZero(At(absl::Minutes(37))));
  // A later failed import does not move the cycle back.
  ApplyRunToState(MakeRun("aad", "Delta Import", 3, absl::Minutes(60), "stopped-server-down"),
                  &info);
  EXPECT_EQ(ToUnixMicrosOrZero(info.last_successful_cycle()),
            ToUnixMicrosOrZero(At(absl::Minutes(37))));
  EXPECT_EQ(info.last_run_result(), "stopped-server-down");
}

TEST(ServerStateTest, PendingFiguresComeFromEachConnectorsLatestSnapshot) {
  v1::ServerInfo info;
  ApplySnapshotToState(Snapshot("contoso.com", absl::Minutes(10), 700), &info);
  ApplySnapshotToState(Snapshot("contoso.com", absl::Minutes(5), 1), &info);  // older: ignored
  ApplySnapshotToState(Snapshot("aad", absl::Minutes(1), 20), &info);
  EXPECT_EQ(info.pending_deletes(), 720);
  ASSERT_EQ(info.connectors_size(), 2);
  EXPECT_EQ(info.connectors(1).pending_deletes(), 700);
  EXPECT_EQ(info.connectors(1).pending_adds(), 3);
  EXPECT_FALSE(info.has_last_successful_cycle()) << "snapshots say nothing about cycles";
}

FiringAlert Firing(const std::string& severity, const std::string& connector,
                   const std::string& summary) {
  FiringAlert a;
  a.severity = severity;
  a.connector = connector;
  a.summary = summary;
  return a;
}

TEST(JudgeHealthTest, NoDataIsUnknownAndQuietDataIsOk) {
  v1::ServerInfo info;
  JudgeHealth(ThresholdSource(), 500, {}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_UNKNOWN);
  EXPECT_EQ(info.deletion_threshold(), 500);
  EXPECT_TRUE(info.deletion_threshold_enabled());
  ApplyRunToState(MakeRun("contoso.com", "Export", 1, absl::Minutes(0), "success"), &info);
  JudgeHealth(ThresholdSource(), 500, {}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_OK);
  EXPECT_EQ(info.health_reasons_size(), 0);
}

TEST(JudgeHealthTest, PendingDeletesOverAnEnabledThresholdAreCriticalEvenBeforeAnyAlert) {
  v1::ServerInfo info;
  ApplySnapshotToState(Snapshot("contoso.com", absl::Minutes(0), 301), &info);
  ThresholdSource reported{true, true, 300, "sync01"};
  JudgeHealth(reported, 500, {}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_CRITICAL);
  EXPECT_EQ(info.deletion_threshold(), 300);
  ASSERT_EQ(info.health_reasons_size(), 1);
  EXPECT_THAT(info.health_reasons(0), HasSubstr("301 pending deletes on contoso.com exceed"));
  // Equal is not over (the engine stops an export that *exceeds* it).
  ApplySnapshotToState(Snapshot("contoso.com", absl::Minutes(1), 300), &info);
  JudgeHealth(reported, 500, {}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_OK);
  // A disabled threshold stops nothing: the server is not critical by this test.
  ApplySnapshotToState(Snapshot("contoso.com", absl::Minutes(2), 5000), &info);
  JudgeHealth(ThresholdSource{true, false, 300, "sync01"}, 500, {}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_OK);
  EXPECT_FALSE(info.deletion_threshold_enabled());
}

TEST(JudgeHealthTest, AlertsDecideAndTheirSummariesAreTheReasonsCriticalFirst) {
  v1::ServerInfo info;
  ApplySnapshotToState(Snapshot("contoso.com", absl::Minutes(0), 900), &info);
  const FiringAlert warning = Firing("warning", "", "sync overdue");
  const FiringAlert critical = Firing("critical", "contoso.com", "900 deletes over 500");
  JudgeHealth(ThresholdSource(), 500, {&warning, &critical}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_CRITICAL);
  EXPECT_EQ(info.open_alerts(), 2);
  EXPECT_EQ(info.open_critical_alerts(), 1);
  // The alert about the connector already says it: no second line for it.
  EXPECT_THAT(info.health_reasons(), ElementsAre("900 deletes over 500", "sync overdue"));
  JudgeHealth(ThresholdSource(), 1000, {&warning}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_WARNING);
}

TEST(JudgeHealthTest, AStoppedLatestRunIsAWarningWithoutAnyAlert) {
  v1::ServerInfo info;
  ApplyRunToState(MakeRun("contoso.com", "Export", 1, absl::Minutes(0), "stopped-server-down"),
                  &info);
  JudgeHealth(ThresholdSource(), 500, {}, &info);
  EXPECT_EQ(info.health(), v1::HEALTH_WARNING);
  EXPECT_THAT(info.health_reasons(), ElementsAre("the latest run ended stopped-server-down"));
}

TEST(HealthTest, NamesAndRankWorstFirst) {
  EXPECT_EQ(HealthName(v1::HEALTH_CRITICAL), "critical");
  EXPECT_EQ(HealthName(v1::HEALTH_UNSPECIFIED), "unknown");
  EXPECT_LT(HealthRank(v1::HEALTH_CRITICAL), HealthRank(v1::HEALTH_WARNING));
  EXPECT_LT(HealthRank(v1::HEALTH_WARNING), HealthRank(v1::HEALTH_UNKNOWN));
  EXPECT_LT(HealthRank(v1::HEALTH_UNKNOWN), HealthRank(v1::HEALTH_OK));
}

TEST(JudgeHealthTest, JudgesTheRecordIntoACopyWithoutConnectors) {
  v1::ServerInfo record;
  record.set_server("sync01");
  v1::ConnectorState& c = *record.add_connectors();
  c.set_connector("contoso.onmicrosoft.com - AAD");
  c.set_pending_deletes(900);
  record.set_pending_deletes(900);
  v1::ServerInfo copy = record;
  copy.clear_connectors();
  JudgeHealth(ThresholdSource(), 500, {}, record, HealthInputs(record), &copy);
  EXPECT_EQ(copy.health(), v1::HEALTH_CRITICAL);
  EXPECT_THAT(copy.health_reasons(), ElementsAre(HasSubstr("900 pending deletes on contoso")));
  EXPECT_EQ(copy.connectors_size(), 0);
}

}  // namespace
}  // namespace syncwatch::collector
