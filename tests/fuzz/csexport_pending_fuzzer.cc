// Fuzzes ParseCsExportPendingExports. The input's length picks the read-chunk
// size and the listing caps, so that small inputs still meet chunk
// boundaries anywhere and the caps are reached, while the seeds stay valid.
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
  syncwatch::agent::CsExportLimits limits;
  if (size % 3 == 1) {
    limits.max_listed_deletes = 1;
    limits.max_listed_changes = 2;
  } else if (size % 3 == 2) {
    limits.max_listed_delete_bytes = 512;
    limits.max_listed_change_bytes = 256;
    limits.max_object_value_bytes = 128;
  }
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  syncwatch::agent::StringByteReader in(input);
  syncwatch::v1::PendingExportSnapshot s;
  const absl::Status status = syncwatch::agent::internal::ParseCsExportPendingExportsChunked(
      in, "fuzz.xml", limits, &s, chunk_size);
  if (!status.ok()) {
    // Every rejection is the input's fault and says where.
    if (status.code() != absl::StatusCode::kInvalidArgument ||
        !absl::StartsWith(status.message(), "fuzz.xml:")) {
      Violated("unexpected status", status.ToString());
    }
    return 0;
  }
  syncwatch::fuzz::CheckAcceptedEncoding(input, '<');
  // What ParseCsExportPendingExports promises for a snapshot.
  if (s.pending_adds() < 0 || s.pending_updates() < 0 || s.pending_deletes() < 0) {
    Violated("negative count", s.DebugString());
  }
  if (s.deletes_size() > s.pending_deletes() || s.deletes_size() > limits.max_listed_deletes) {
    Violated("more deletes listed than counted or allowed", s.DebugString());
  }
  if (s.deletes_truncated() != (s.deletes_size() < s.pending_deletes())) {
    Violated("deletes_truncated", s.DebugString());
  }
  if (s.adds_and_updates_size() > s.pending_adds() + s.pending_updates() ||
      s.adds_and_updates_size() > limits.max_listed_changes) {
    Violated("more adds/updates listed than counted or allowed", s.DebugString());
  }
  if (s.connector_objects() != 0) Violated("connector_objects", s.DebugString());
  for (const auto& o : s.deletes()) {
    if (o.dn().empty() && o.cs_guid().empty())
      Violated("delete without dn and id", s.DebugString());
  }
  syncwatch::fuzz::CheckUtf8(s);
  return 0;
}
