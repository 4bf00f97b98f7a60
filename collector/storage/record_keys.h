// The keys of the collector's column families (layout in store.h), shared by
// the writer and the query service.
#ifndef SYNCWATCH_COLLECTOR_STORAGE_RECORD_KEYS_H_
#define SYNCWATCH_COLLECTOR_STORAGE_RECORD_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::collector {

std::string ServerKey(absl::string_view server);

// Prefix of every key of one server in the runs, snapshots, snapshot_history
// and export_errors families; with a connector, of that connector only.
std::string ServerPrefix(absl::string_view server);
std::string ServerConnectorPrefix(absl::string_view server, absl::string_view connector);

// A run's key: server, connector name, start time, then its RunNaturalId
// (state/run_identity.h).
std::string RunKey(absl::string_view server, const v1::RunProfileResult& run);
// The same key appended to `*out`.
void AppendRunKey(absl::string_view server, const v1::RunProfileResult& run, std::string* out);

std::string SnapshotKey(absl::string_view server, absl::string_view connector);
std::string SnapshotHistoryKey(absl::string_view server, const v1::PendingExportSnapshot& s);

// One record per (server, connector, object, error type): the latest occurrence.
std::string ExportErrorKey(absl::string_view server, const v1::ExportError& e);

// The configurations family: one record per server. History: per server and
// taken_at. Changes: per server, detected_at and the new configuration's
// digest, numbered in Diff's order.
std::string ConfigurationKey(absl::string_view server);
std::string ConfigurationHistoryKey(absl::string_view server, const v1::ServerConfiguration& c);
std::string ConfigurationChangeKey(absl::string_view server, const v1::ServerConfiguration& c,
                                   int64_t n);

std::string AgentMarkKey(absl::string_view agent_id, absl::string_view spool_epoch);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_RECORD_KEYS_H_
