#include "collector/state/run_identity.h"

#include "absl/strings/str_cat.h"

namespace syncwatch::collector {
namespace {

// The connector a run without an id is numbered in.
const std::string& NumberingConnector(const v1::RunProfileResult& run) {
  return run.connector_id().empty() ? run.connector_name() : run.connector_id();
}

}  // namespace

std::string RunNaturalId(const v1::RunProfileResult& run) {
  if (!run.run_history_id().empty()) return run.run_history_id();
  return absl::StrCat("run#", NumberingConnector(run), "#", run.run_number());
}

bool SameRun(const v1::RunProfileResult& a, const v1::RunProfileResult& b) {
  const bool a_id = !a.run_history_id().empty();
  const bool b_id = !b.run_history_id().empty();
  if (a_id && b_id) return a.run_history_id() == b.run_history_id();
  // "run#<connector>#<number>" names one (connector, number): the number has
  // no '#'.
  if (!a_id && !b_id) {
    return a.run_number() == b.run_number() && NumberingConnector(a) == NumberingConnector(b);
  }
  return RunNaturalId(a) == RunNaturalId(b);  // an id against a made-up one
}

}  // namespace syncwatch::collector
