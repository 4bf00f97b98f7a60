// A run's identity: which reports are of the same run. The server state folds
// a later report of a run over an earlier one (server_state.h), and the store
// keys a run by it (storage/record_keys.h).
#ifndef SYNCWATCH_COLLECTOR_STATE_RUN_IDENTITY_H_
#define SYNCWATCH_COLLECTOR_STATE_RUN_IDENTITY_H_

#include <string>

#include "syncwatch/v1/event.pb.h"

namespace syncwatch::collector {

// A run's natural identity: its RunHistoryId, or the connector and run number
// when the source has no id (run-history XML).
std::string RunNaturalId(const v1::RunProfileResult& run);
// RunNaturalId(a) == RunNaturalId(b), without building either.
bool SameRun(const v1::RunProfileResult& a, const v1::RunProfileResult& b);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STATE_RUN_IDENTITY_H_
