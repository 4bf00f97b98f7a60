#include "common/event_validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/time_util.h"

namespace syncwatch {
namespace {

using v1::Event;

// Collects the first problem found; later checks are skipped once one failed.
class Checker {
 public:
  explicit Checker(const ValidationLimits& limits) : limits_(limits) {}

  void Name(absl::string_view field, const std::string& value, bool required) {
    if (!error_.empty()) return;
    if (required && value.empty()) {
      error_ = absl::StrCat(field, " is empty");
    } else if (value.find('\0') != std::string::npos) {
      error_ = absl::StrCat(field, " contains a NUL character");
    } else if (value.size() > limits_.max_name_bytes) {
      error_ =
          absl::StrCat(field, " is ", value.size(), " bytes (limit ", limits_.max_name_bytes, ")");
    }
  }
  void Text(absl::string_view field, const std::string& value) {
    if (!error_.empty()) return;
    if (value.size() > limits_.max_text_bytes) {
      error_ =
          absl::StrCat(field, " is ", value.size(), " bytes (limit ", limits_.max_text_bytes, ")");
    }
  }
  void Time(absl::string_view field, const google::protobuf::Timestamp& ts, bool present,
            bool required) {
    if (!error_.empty()) return;
    if (!present) {
      if (required) error_ = absl::StrCat(field, " is missing");
      return;
    }
    if (!IsValidTimestamp(ts)) error_ = absl::StrCat(field, " is not a valid time");
  }
  void NonNegative(absl::string_view field, int64_t v) {
    if (!error_.empty()) return;
    if (v < 0) error_ = absl::StrCat(field, " is negative (", v, ")");
  }
  void Fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
  }
  const std::string& error() const { return error_; }

 private:
  const ValidationLimits& limits_;
  std::string error_;
};

void CheckCdError(Checker& c, const v1::CdError& e) {
  c.Name("cd_error.error_code", e.error_code(), false);
  c.Text("cd_error.error_literal", e.error_literal());
  c.Text("cd_error.server_error_detail", e.server_error_detail());
}

void CheckExportError(Checker& c, const v1::ExportError& e, bool in_run) {
  c.Name("connector_name", e.connector_name(), !in_run);
  c.Name("cs_guid", e.cs_guid(), false);
  c.Name("dn", e.dn(), false);
  if (e.cs_guid().empty() && e.dn().empty()) c.Fail("cs_guid and dn are both empty");
  c.Name("error_type", e.error_type(), true);
  CheckCdError(c, e.cd_error());
  c.Time("first_occurred", e.first_occurred(), e.has_first_occurred(), false);
  c.Time("date_occurred", e.date_occurred(), e.has_date_occurred(), false);
  c.NonNegative("retry_count", e.retry_count());
  c.Name("conflict_attribute", e.conflict_attribute(), false);
  c.Text("conflict_value", e.conflict_value());
}

void CheckRun(Checker& c, const v1::RunProfileResult& r) {
  c.Name("connector_name", r.connector_name(), true);
  c.Name("run_history_id", r.run_history_id(), false);
  c.Name("connector_id", r.connector_id(), false);
  c.Name("run_profile_name", r.run_profile_name(), false);
  c.Name("result", r.result(), true);
  c.NonNegative("run_number", r.run_number());
  c.Time("start_time", r.start_time(), r.has_start_time(), true);
  c.Time("end_time", r.end_time(), r.has_end_time(), false);
  if (r.run_history_id().empty() && r.run_number() == 0) {
    c.Fail("run has neither run_history_id nor run_number");
  }
  for (int i = 0; i < r.steps_size(); ++i) {
    const v1::RunStep& s = r.steps(i);
    Checker sc = c;
    sc.Name("result", s.result(), false);
    sc.Time("start_time", s.start_time(), s.has_start_time(), false);
    sc.Time("end_time", s.end_time(), s.has_end_time(), false);
    for (const auto& inc : s.connection_incidents()) CheckCdError(sc, inc.cd_error());
    for (const auto& e : s.export_errors()) CheckExportError(sc, e, /*in_run=*/true);
    if (!sc.error().empty()) {
      c.Fail(absl::StrCat("step ", i, " (step-number ", s.step_number(), "): ", sc.error()));
      return;
    }
  }
}

void CheckSnapshot(Checker& c, const v1::PendingExportSnapshot& s, const ValidationLimits& limits) {
  c.Name("snapshot_id", s.snapshot_id(), true);
  c.Name("connector_name", s.connector_name(), true);
  c.Time("taken_at", s.taken_at(), s.has_taken_at(), true);
  c.NonNegative("pending_adds", s.pending_adds());
  c.NonNegative("pending_updates", s.pending_updates());
  c.NonNegative("pending_deletes", s.pending_deletes());
  c.NonNegative("connector_objects", s.connector_objects());
  if (static_cast<size_t>(s.deletes_size() + s.adds_and_updates_size()) >
      limits.max_snapshot_objects) {
    c.Fail(absl::StrCat("snapshot lists ", s.deletes_size() + s.adds_and_updates_size(),
                        " objects (limit ", limits.max_snapshot_objects, ")"));
  }
  if (s.deletes_size() > s.pending_deletes()) {
    c.Fail(absl::StrCat("deletes lists ", s.deletes_size(), " objects but pending_deletes is ",
                        s.pending_deletes()));
  }
}

void CheckSettings(Checker& c, const v1::ServerSettings& s) {
  c.NonNegative("deletion_threshold", s.deletion_threshold());
  c.NonNegative("sync_cycle_interval", s.sync_cycle_interval().seconds());
}

void CheckConfiguration(Checker& c, const v1::ServerConfiguration& s) {
  c.Name("digest", s.digest(), true);
  c.Time("taken_at", s.taken_at(), s.has_taken_at(), true);
  c.Name("source_path", s.source_path(), false);
  for (int i = 0; i < s.connectors_size(); ++i) {
    const v1::ConnectorConfiguration& k = s.connectors(i);
    Checker kc = c;
    kc.Name("name", k.name(), true);
    kc.Name("id", k.id(), false);
    kc.Name("type", k.type(), false);
    for (const v1::ConnectorPartition& p : k.partitions()) {
      kc.Name("partition.name", p.name(), true);
      for (const std::string& v : p.object_classes()) kc.Name("partition.object_classes", v, true);
      for (const std::string& v : p.inclusions()) kc.Name("partition.inclusions", v, true);
      for (const std::string& v : p.exclusions()) kc.Name("partition.exclusions", v, true);
    }
    if (!kc.error().empty()) {
      c.Fail(absl::StrCat("connector ", i, ": ", kc.error()));
      return;
    }
  }
  for (int i = 0; i < s.rules_size(); ++i) {
    const v1::SyncRuleConfiguration& r = s.rules(i);
    Checker rc = c;
    rc.Name("name", r.name(), true);
    rc.Name("id", r.id(), false);
    rc.Name("immutable_tag", r.immutable_tag(), false);
    rc.Name("direction", r.direction(), true);
    rc.Name("connector", r.connector(), false);
    rc.Name("connector_id", r.connector_id(), false);
    rc.Name("source_object_type", r.source_object_type(), false);
    rc.Name("target_object_type", r.target_object_type(), false);
    rc.Name("link_type", r.link_type(), false);
    rc.NonNegative("precedence", r.precedence());
    rc.Text("scoping_filter", r.scoping_filter());
    rc.Text("join_criteria", r.join_criteria());
    rc.Name("attribute_flows_digest", r.attribute_flows_digest(), false);
    rc.NonNegative("attribute_flow_count", r.attribute_flow_count());
    if (!rc.error().empty()) {
      c.Fail(absl::StrCat("rule ", i, " (", r.name(), "): ", rc.error()));
      return;
    }
  }
}

const char* KindName(const Event& e) {
  switch (e.kind_case()) {
    case Event::kRun:
      return "run";
    case Event::kPendingExports:
      return "pending_exports";
    case Event::kExportError:
      return "export_error";
    case Event::kSettings:
      return "settings";
    case Event::kHeartbeat:
      return "heartbeat";
    case Event::kConfiguration:
      return "configuration";
    case Event::KIND_NOT_SET:
      break;
  }
  return "unset";
}

}  // namespace

absl::Status ValidateHello(const v1::Hello& hello, const ValidationLimits& limits) {
  Checker c(limits);
  c.Name("agent_id", hello.agent_id(), true);
  c.Name("server", hello.server(), true);
  c.Name("tenant", hello.tenant(), false);
  c.Name("agent_version", hello.agent_version(), false);
  c.Name("spool_epoch", hello.spool_epoch(), true);
  if (c.error().empty() && hello.role() == v1::SERVER_ROLE_UNSPECIFIED) {
    c.Fail("role is unspecified");
  }
  if (!c.error().empty()) return absl::InvalidArgumentError(absl::StrCat("hello: ", c.error()));
  return absl::OkStatus();
}

absl::Status ValidateBatch(const v1::EventBatch& batch, const ValidationLimits& limits) {
  if (batch.seq() == 0)
    return absl::InvalidArgumentError("batch seq is 0 (sequence numbers start at 1)");
  if (batch.events_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("batch ", batch.seq(), " has no events"));
  }
  if (static_cast<size_t>(batch.events_size()) > limits.max_events_per_batch) {
    return absl::InvalidArgumentError(absl::StrCat("batch ", batch.seq(), " has ",
                                                   batch.events_size(), " events (limit ",
                                                   limits.max_events_per_batch, ")"));
  }
  for (int i = 0; i < batch.events_size(); ++i) {
    const Event& e = batch.events(i);
    Checker c(limits);
    c.Name("source", e.source(), false);
    c.Time("observed_at", e.observed_at(), e.has_observed_at(), true);
    switch (e.kind_case()) {
      case Event::kRun:
        CheckRun(c, e.run());
        break;
      case Event::kPendingExports:
        CheckSnapshot(c, e.pending_exports(), limits);
        break;
      case Event::kExportError:
        CheckExportError(c, e.export_error(), /*in_run=*/false);
        break;
      case Event::kSettings:
        CheckSettings(c, e.settings());
        break;
      case Event::kHeartbeat:
        break;
      case Event::kConfiguration:
        CheckConfiguration(c, e.configuration());
        break;
      case Event::KIND_NOT_SET:
        c.Fail("event kind is not set");
        break;
    }
    if (!c.error().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch ", batch.seq(), " event ", i, " (", KindName(e), "): ", c.error()));
    }
  }
  return absl::OkStatus();
}

}  // namespace syncwatch
