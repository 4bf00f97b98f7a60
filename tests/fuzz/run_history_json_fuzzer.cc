// Fuzzes ParseRunHistoryJson.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/run_history.h"
#include "fuzz_invariants.h"

using syncwatch::fuzz::Violated;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  syncwatch::agent::StringByteReader in(input);
  const absl::Status status = syncwatch::agent::ParseRunHistoryJson(
      in, "fuzz.json", [](syncwatch::v1::RunProfileResult run) {
        // What ParseRunHistoryJson promises for every run it hands over.
        if (run.connector_name().empty()) Violated("run without ConnectorName", "");
        if (run.result().empty()) Violated("run without Result", run.DebugString());
        if (!run.has_start_time()) Violated("run without StartDate", run.DebugString());
        for (int i = 1; i < run.steps_size(); ++i) {
          if (run.steps(i - 1).step_number() > run.steps(i).step_number()) {
            Violated("steps not sorted", run.DebugString());
          }
        }
        return absl::OkStatus();
      });
  if (!status.ok() && (status.code() != absl::StatusCode::kInvalidArgument ||
                       !absl::StartsWith(status.message(), "fuzz.json"))) {
    Violated("unexpected status", status.ToString());
  }
  if (status.ok()) syncwatch::fuzz::CheckAcceptedEncoding(input, '\0');
  return 0;
}
