// Fuzzes ParseRunHistoryXml. The input's length picks the read-chunk size, so
// that small inputs still meet chunk boundaries anywhere (between documents,
// inside a UTF-8 or UTF-16 character) while the seeds stay valid XML.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/run_history.h"
#include "agent/parsers/run_history_internal.h"
#include "fuzz_invariants.h"

using syncwatch::fuzz::Violated;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const size_t chunk_size = size % 19 == 0 ? 64 * 1024 : size % 19;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  syncwatch::agent::StringByteReader in(input);
  const absl::Status status = syncwatch::agent::internal::ParseRunHistoryXmlChunked(
      in, "fuzz.xml",
      [](syncwatch::v1::RunProfileResult run) {
        if (run.connector_name().empty()) Violated("run without connector_name", "");
        if (run.total_steps() != run.steps_size()) Violated("total_steps", run.DebugString());
        for (int i = 1; i < run.steps_size(); ++i) {
          if (run.steps(i - 1).step_number() > run.steps(i).step_number()) {
            Violated("steps not sorted", run.DebugString());
          }
        }
        if (run.is_run_complete() && !run.has_end_time()) {
          Violated("complete run without end_time", run.DebugString());
        }
        return absl::OkStatus();
      },
      chunk_size);
  // Every rejection is the input's fault and says where.
  if (!status.ok() && (status.code() != absl::StatusCode::kInvalidArgument ||
                       !absl::StartsWith(status.message(), "fuzz.xml:"))) {
    Violated("unexpected status", status.ToString());
  }
  if (status.ok()) syncwatch::fuzz::CheckAcceptedEncoding(input, '<');
  return 0;
}
