#include "collector/storage/record_keys.h"

#include "collector/state/run_identity.h"
#include "common/key_codec.h"
#include "common/time_util.h"

namespace syncwatch::collector {

std::string ServerKey(absl::string_view server) { return KeyBuilder().String(server).Take(); }

std::string ServerPrefix(absl::string_view server) { return KeyBuilder().String(server).Take(); }

std::string ServerConnectorPrefix(absl::string_view server, absl::string_view connector) {
  return KeyBuilder().String(server).String(connector).Take();
}

std::string RunKey(absl::string_view server, const v1::RunProfileResult& run) {
  std::string key;
  AppendRunKey(server, run, &key);
  return key;
}

void AppendRunKey(absl::string_view server, const v1::RunProfileResult& run, std::string* out) {
  KeyBuilder(out)
      .String(server)
      .String(run.connector_name())
      .Int64(ToUnixMicrosOrZero(run.start_time()));
  if (!run.run_history_id().empty()) {
    KeyBuilder(out).String(run.run_history_id());  // no copy of the id first
  } else {
    KeyBuilder(out).String(RunNaturalId(run));
  }
}

std::string SnapshotKey(absl::string_view server, absl::string_view connector) {
  return KeyBuilder().String(server).String(connector).Take();
}

std::string SnapshotHistoryKey(absl::string_view server, const v1::PendingExportSnapshot& s) {
  return KeyBuilder()
      .String(server)
      .String(s.connector_name())
      .Int64(ToUnixMicrosOrZero(s.taken_at()))
      .Take();
}

std::string ExportErrorKey(absl::string_view server, const v1::ExportError& e) {
  return KeyBuilder()
      .String(server)
      .String(e.connector_name())
      .String(e.cs_guid().empty() ? e.dn() : e.cs_guid())
      .String(e.error_type())
      .Take();
}

std::string ConfigurationKey(absl::string_view server) { return ServerKey(server); }

std::string ConfigurationHistoryKey(absl::string_view server, const v1::ServerConfiguration& c) {
  return KeyBuilder()
      .String(server)
      .Int64(ToUnixMicrosOrZero(c.taken_at()))
      .String(c.digest())
      .Take();
}

std::string ConfigurationChangeKey(absl::string_view server, const v1::ServerConfiguration& c,
                                   int64_t n) {
  return KeyBuilder()
      .String(server)
      .Int64(ToUnixMicrosOrZero(c.taken_at()))
      .String(c.digest())
      .Int64(n)
      .Take();
}

std::string AgentMarkKey(absl::string_view agent_id, absl::string_view spool_epoch) {
  return KeyBuilder().String(agent_id).String(spool_epoch).Take();
}

}  // namespace syncwatch::collector
