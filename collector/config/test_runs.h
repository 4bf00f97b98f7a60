// Runs with the step counters a real server reports, for the delete-cause tests.
#ifndef SYNCWATCH_COLLECTOR_CONFIG_TEST_RUNS_H_
#define SYNCWATCH_COLLECTOR_CONFIG_TEST_RUNS_H_

#include <cstdint>
#include <string>

#include "syncwatch/v1/event.pb.h"

namespace syncwatch::collector::config::testing {

// A complete, successful run of one step of `step_type`.
inline v1::RunProfileResult OneStepRun(const std::string& connector, int64_t start_seconds,
                                       const std::string& profile, const std::string& step_type) {
  v1::RunProfileResult run;
  run.set_connector_name(connector);
  run.set_run_profile_name(profile);
  run.set_run_number(start_seconds % 1000);
  run.set_result("success");
  run.set_is_run_complete(true);
  run.mutable_start_time()->set_seconds(start_seconds);
  run.mutable_end_time()->set_seconds(start_seconds + 60);
  v1::RunStep* s = run.add_steps();
  s->set_step_number(1);
  s->set_step_type(step_type);
  s->set_result("success");
  return run;
}

inline v1::RunProfileResult ImportRun(const std::string& connector, int64_t start_seconds,
                                      const std::string& type, int64_t stage_delete,
                                      int64_t filtered_objects) {
  v1::RunProfileResult run = OneStepRun(
      connector, start_seconds, type == "full-import" ? "Full Import" : "Delta Import", type);
  v1::RunStep* s = run.mutable_steps(0);
  s->mutable_staging_counters()->set_stage_delete(stage_delete);
  s->mutable_staging_counters()->set_stage_no_change(5000);
  s->set_filtered_objects(filtered_objects);
  return run;
}

struct SyncCounters {
  int64_t filtered_remove_mv = 0;
  int64_t filtered_leave_mv = 0;
  int64_t delete_remove_mv = 0;
  // provisioned-disconnect towards `target`.
  int64_t disconnects = 0;
};

inline v1::RunProfileResult SyncRun(const std::string& connector, int64_t start_seconds,
                                    const std::string& target, const SyncCounters& c) {
  v1::RunProfileResult run =
      OneStepRun(connector, start_seconds, "Delta Synchronization", "apply-rules");
  v1::RunStep* s = run.mutable_steps(0);
  v1::InboundFlowCounters* in = s->mutable_inbound_flow_counters();
  in->set_connector_filtered_remove_mv(c.filtered_remove_mv);
  in->set_connector_filtered_leave_mv(c.filtered_leave_mv);
  in->set_connector_delete_remove_mv(c.delete_remove_mv);
  in->set_connector_no_flow(4000);
  v1::OutboundFlowCounters* out = s->add_outbound_flow_counters();
  out->set_connector(target);
  out->set_provisioned_disconnect(c.disconnects);
  out->set_connector_flow(20);
  return run;
}

}  // namespace syncwatch::collector::config::testing

#endif  // SYNCWATCH_COLLECTOR_CONFIG_TEST_RUNS_H_
