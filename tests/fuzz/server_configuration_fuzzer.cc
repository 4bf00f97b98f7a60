// Fuzzes the parsers of Get-ADSyncServerConfiguration files: every input is
// read both as a connector file and as a sync-rule file.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/server_configuration.h"
#include "fuzz_invariants.h"

using syncwatch::fuzz::Violated;

namespace {

void CheckStatus(const absl::Status& status) {
  if (!status.ok() && (status.code() != absl::StatusCode::kInvalidArgument ||
                       !absl::StartsWith(status.message(), "fuzz.xml:"))) {
    Violated("unexpected status", status.ToString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  {
    syncwatch::agent::StringByteReader in(input);
    syncwatch::v1::ConnectorConfiguration c;
    const absl::Status status = syncwatch::agent::ParseConnectorXml(in, "fuzz.xml", &c);
    CheckStatus(status);
    if (status.ok()) {
      // What ParseConnectorXml promises (and the collector's validation needs).
      if (c.name().empty()) Violated("connector without name", c.DebugString());
      for (const auto& p : c.partitions()) {
        if (p.name().empty()) Violated("partition without name", c.DebugString());
        for (const auto* list : {&p.object_classes(), &p.inclusions(), &p.exclusions()}) {
          if (!std::is_sorted(list->begin(), list->end())) Violated("unsorted", c.DebugString());
          for (const auto& v : *list) {
            if (v.empty()) Violated("empty filter value", c.DebugString());
          }
        }
      }
      syncwatch::fuzz::CheckUtf8(c);
    }
  }
  {
    syncwatch::agent::StringByteReader in(input);
    syncwatch::v1::SyncRuleConfiguration r;
    const absl::Status status = syncwatch::agent::ParseSyncRuleXml(in, "fuzz.xml", &r);
    CheckStatus(status);
    if (status.ok()) {
      if (r.name().empty()) Violated("rule without name", r.DebugString());
      if (r.direction() != "inbound" && r.direction() != "outbound") {
        Violated("bad direction", r.DebugString());
      }
      if (r.connector_id().empty()) Violated("rule without connector", r.DebugString());
      if (r.precedence() < 0) Violated("negative precedence", r.DebugString());
      if (r.attribute_flows_digest().size() != 64) Violated("bad flows digest", r.DebugString());
      syncwatch::fuzz::CheckUtf8(r);
    }
  }
  return 0;
}
