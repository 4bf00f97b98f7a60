// Fuzzes ParseSettingsJson.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/settings_json.h"
#include "common/time_util.h"
#include "fuzz_invariants.h"

using syncwatch::fuzz::Violated;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  syncwatch::agent::StringByteReader in(input);
  syncwatch::v1::ServerSettings s;
  const absl::Status status = syncwatch::agent::ParseSettingsJson(in, "fuzz.json", &s);
  if (!status.ok()) {
    // InternalError would mean an nlohmann exception reached the boundary.
    if (status.code() != absl::StatusCode::kInvalidArgument ||
        !absl::StartsWith(status.message(), "fuzz.json")) {
      Violated("unexpected status", status.ToString());
    }
    return 0;
  }
  syncwatch::fuzz::CheckAcceptedEncoding(input, '\0');
  if (s.deletion_threshold() < 0) Violated("negative threshold", s.DebugString());
  if (!s.deletion_threshold_known() &&
      (s.deletion_threshold() != 0 || s.deletion_threshold_enabled())) {
    Violated("threshold fields set without deletion_threshold_known", s.DebugString());
  }
  if (s.sync_cycle_interval().seconds() < 0 || s.purge_run_history_interval().seconds() < 0) {
    Violated("negative interval", s.DebugString());
  }
  if (s.has_next_sync_cycle_start_time() &&
      !syncwatch::IsValidTimestamp(s.next_sync_cycle_start_time())) {
    Violated("next_sync_cycle_start_time out of range", s.DebugString());
  }
  syncwatch::fuzz::CheckUtf8(s);
  return 0;
}
