// Fuzzes ParseCsExportErrors (chunk size chosen as in the other XML fuzzers).
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/csexport.h"
#include "agent/parsers/csexport_internal.h"
#include "common/time_util.h"
#include "fuzz_invariants.h"

using syncwatch::fuzz::Violated;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const size_t chunk_size = size % 19 == 0 ? 64 * 1024 : size % 19;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  syncwatch::agent::StringByteReader in(input);
  const absl::Status status = syncwatch::agent::internal::ParseCsExportErrorsChunked(
      in, "fuzz.xml",
      [](syncwatch::v1::ExportError e) {
        // What ParseCsExportErrors promises for every error it hands over
        // (and what the collector's validation requires).
        if (e.error_type().empty()) Violated("error without error_type", e.DebugString());
        if (e.cs_guid().empty() && e.dn().empty()) Violated("error without id", e.DebugString());
        if (e.retry_count() < 0) Violated("negative retry_count", e.DebugString());
        if (e.has_date_occurred() && !syncwatch::IsValidTimestamp(e.date_occurred())) {
          Violated("date_occurred out of range", e.DebugString());
        }
        if (e.has_first_occurred() && !syncwatch::IsValidTimestamp(e.first_occurred())) {
          Violated("first_occurred out of range", e.DebugString());
        }
        syncwatch::fuzz::CheckUtf8(e);
        return absl::OkStatus();
      },
      chunk_size);
  if (!status.ok() && (status.code() != absl::StatusCode::kInvalidArgument ||
                       !absl::StartsWith(status.message(), "fuzz.xml:"))) {
    Violated("unexpected status", status.ToString());
  }
  if (status.ok()) syncwatch::fuzz::CheckAcceptedEncoding(input, '<');
  // The JSON reader on its own, on the same bytes.
  (void)syncwatch::agent::internal::ParseErrorExtraDetails(input);
  return 0;
}
