// `Get-ADSyncRunProfileResult [-RunStepDetails] | ConvertTo-Json` output
// (DOMAIN.md §1.3). The text is read whole (it is capped and may be UTF-16,
// which needs converting first), but parsed with nlohmann's SAX interface so
// that only one run's objects are built at a time.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/engine_time.h"
#include "agent/parsers/run_history.h"
#include "agent/parsers/text_input.h"
#include "common/status_macros.h"
#include "common/text_util.h"
#include "common/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace syncwatch::agent {
namespace {

using json = nlohmann::json;

// Months of run history with step details stay far below this; the cap keeps
// a runaway file from exhausting the agent's memory.
constexpr size_t kMaxJsonBytes = size_t{64} << 20;
// ConvertTo-Json output nests 4 deep at most (array, run, steps, step).
constexpr size_t kMaxDepth = 64;

std::string Quote(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return absl::StrCat("\"", absl::CHexEscape(value), "\"");
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMax)), "\"...");
}

const char* TypeName(const json& v) { return v.type_name(); }

// "stage_no_change" -> "StageNoChange": the RunStepResult property names are
// the proto counter field names in PascalCase.
std::string PascalCase(absl::string_view snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? absl::ascii_toupper(c) : c);
    upper = false;
  }
  return out;
}

// Reads typed properties of one JSON object. The first problem is kept as
// "<prefix><Property>: <problem>" and later reads become no-ops, so that a
// conversion reads like a list of fields and checks once at the end.
class PropertyReader {
 public:
  PropertyReader(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  const absl::Status& status() const { return status_; }

  // Null counts as absent: ConvertTo-Json writes null for unset properties.
  const json* Find(const char* key) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<std::string> String(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || !status_.ok()) return std::nullopt;
    if (!v->is_string()) {
      Fail(key, absl::StrCat("expected a string, got ", TypeName(*v)));
      return std::nullopt;
    }
    return v->get_ref<const std::string&>();
  }

  // Integers may be JSON numbers or numeric strings.
  std::optional<int64_t> Int(const char* key, int64_t max = std::numeric_limits<int64_t>::max()) {
    const json* v = Find(key);
    if (v == nullptr || !status_.ok()) return std::nullopt;
    int64_t n = 0;
    bool ok = false;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      ok = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      n = static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
      n = v->get<int64_t>();
      ok = true;
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      // 2^63 is exact as a double; anything below it converts safely.
      ok = std::trunc(d) == d && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18;
      if (ok) n = static_cast<int64_t>(d);
    } else if (v->is_string()) {
      ok = absl::SimpleAtoi(v->get_ref<const std::string&>(), &n);
    } else {
      Fail(key, absl::StrCat("expected a number, got ", TypeName(*v)));
      return std::nullopt;
    }
    if (!ok || n < 0 || n > max) {
      Fail(key, absl::StrCat("not a valid count: ", Quote(v->dump())));
      return std::nullopt;
    }
    return n;
  }

  std::optional<bool> Bool(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || !status_.ok()) return std::nullopt;
    if (v->is_boolean()) return v->get<bool>();
    if (v->is_string()) {
      const std::string& s = v->get_ref<const std::string&>();
      if (absl::EqualsIgnoreCase(s, "true")) return true;
      if (absl::EqualsIgnoreCase(s, "false")) return false;
    }
    Fail(key, absl::StrCat("expected true or false, got ", Quote(v->dump())));
    return std::nullopt;
  }

  // "\/Date(ms)\/" (Windows PowerShell) or ISO 8601 (PowerShell 7).
  std::optional<google::protobuf::Timestamp> Time(const char* key) {
    std::optional<std::string> s = String(key);
    if (!s) return std::nullopt;
    std::optional<google::protobuf::Timestamp> t = internal::ParseEngineTimestamp(*s);
    if (!t) Fail(key, absl::StrCat("not a time: ", Quote(*s)));
    return t;
  }

  void Fail(absl::string_view key, absl::string_view problem) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(prefix_, key, ": ", problem));
    }
  }

 private:
  const json& obj_;
  const std::string prefix_;
  absl::Status status_;
};

void ReadCounters(PropertyReader& r, google::protobuf::Message* counters) {
  const google::protobuf::Descriptor* d = counters->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->is_repeated() || f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT64) {
      continue;
    }
    const std::string key = PascalCase(f->name());
    if (std::optional<int64_t> n = r.Int(key.c_str())) {
      counters->GetReflection()->SetInt64(counters, f, *n);
    }
  }
}

// The step parts that `-RunStepDetails` gives as run-history XML fragments
// in strings (docs/domain/run-step-counters.md), each parsed on its own by
// the run-history XML parser inside the element it belongs in, so that JSON
// and XML steps come out the same. `wrapper` is the element the fragment's
// content goes into (empty: straight into <step-details>); a fragment that
// already starts with that element goes in as it is.
struct StepFragment {
  const char* property;
  const char* wrapper;
};
constexpr StepFragment kStepFragments[] = {
    {"StepXml", "step-description"},
    {"ConnectorConnectionInformationXml", "ma-connection"},
    {"ConnectorCountersXml", ""},
    {"FlowCountersXml", ""},
    {"SyncErrors", "synchronization-errors"},
};

// The XML of one fragment property: a string, or for SyncErrors the
// SyncErrorsXml of the object ConvertTo-Json makes of it.
std::optional<std::string> FragmentText(PropertyReader& r, const StepFragment& f) {
  const json* v = r.Find(f.property);
  if (v == nullptr) return std::nullopt;
  if (v->is_object()) {
    auto it = v->find(absl::StrCat(f.property, "Xml"));
    if (it == v->end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      r.Fail(f.property, absl::StrCat(f.property, "Xml: expected a string, got ", TypeName(*it)));
      return std::nullopt;
    }
    return it->get<std::string>();
  }
  return r.String(f.property);
}

// Parses the fragments of a step into `out` (a step of the XML parser's).
void ParseStepFragments(PropertyReader& r, v1::RunStep* out) {
  for (const StepFragment& f : kStepFragments) {
    std::optional<std::string> text = FragmentText(r, f);
    if (!text) continue;
    const absl::string_view fragment = absl::StripAsciiWhitespace(*text);
    if (fragment.empty()) continue;
    const absl::string_view wrapper = f.wrapper;
    const bool wrap = !wrapper.empty() && !absl::StartsWith(fragment, absl::StrCat("<", wrapper));
    // The fragment starts on line 1, so an error's line is the fragment's.
    const std::string doc = absl::StrCat(
        "<run-history><run-details><ma-name>-</ma-name><step-details step-number=\"1\">",
        wrap ? absl::StrCat("<", wrapper, ">") : "", fragment,
        wrap ? absl::StrCat("</", wrapper, ">") : "",
        "</step-details></run-details></run-history>");
    StringByteReader in(doc);
    absl::Status st = ParseRunHistoryXml(in, f.property, [out](v1::RunProfileResult run) {
      if (run.steps_size() > 0) out->MergeFrom(run.steps(0));
      return absl::OkStatus();
    });
    if (!st.ok()) {
      // "…StepXml: XML fragment: StepXml:2: malformed XML: …".
      r.Fail(f.property, absl::StrCat("XML fragment: ", st.message()));
      return;
    }
  }
}

absl::Status ConvertStep(const json& obj, const std::string& prefix, v1::RunStep* step) {
  PropertyReader r(obj, prefix);
  // The fragments first: the step's own properties then take precedence.
  ParseStepFragments(r, step);
  step->clear_step_number();
  if (auto v = r.String("StepHistoryId")) step->set_step_id(NormalizeGuid(*v));
  if (auto v = r.Int("StepNumber", std::numeric_limits<int32_t>::max())) {
    step->set_step_number(static_cast<int32_t>(*v));
  }
  if (auto v = r.String("StepResult")) step->set_result(std::move(*v));
  if (auto v = r.Time("StartDate")) *step->mutable_start_time() = *v;
  if (auto v = r.Time("EndDate")) *step->mutable_end_time() = *v;
  ReadCounters(r, step->mutable_staging_counters());
  ReadCounters(r, step->mutable_inbound_flow_counters());
  ReadCounters(r, step->mutable_export_counters());
  return r.status();
}

absl::Status ConvertRun(const json& obj, v1::RunProfileResult* run) {
  PropertyReader r(obj, "");
  if (auto v = r.String("RunHistoryId")) run->set_run_history_id(NormalizeGuid(*v));
  if (auto v = r.String("ConnectorId")) run->set_connector_id(NormalizeGuid(*v));
  if (auto v = r.String("ConnectorName")) run->set_connector_name(std::move(*v));
  if (auto v = r.String("RunProfileId")) run->set_run_profile_id(NormalizeGuid(*v));
  if (auto v = r.String("RunProfileName")) run->set_run_profile_name(std::move(*v));
  std::optional<int64_t> run_number = r.Int("RunNumber");
  if (run_number) run->set_run_number(*run_number);
  if (auto v = r.String("Username")) run->set_username(std::move(*v));
  if (auto v = r.Bool("IsRunComplete")) run->set_is_run_complete(*v);
  if (auto v = r.String("Result")) run->set_result(std::move(*v));
  constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  if (auto v = r.Int("CurrentStepNumber", kMaxInt32)) {
    run->set_current_step_number(static_cast<int32_t>(*v));
  }
  if (auto v = r.Int("TotalSteps", kMaxInt32)) run->set_total_steps(static_cast<int32_t>(*v));
  if (auto v = r.Time("StartDate")) *run->mutable_start_time() = *v;
  if (auto v = r.Time("EndDate")) *run->mutable_end_time() = *v;
  SYNCWATCH_RETURN_IF_ERROR(r.status());

  if (run->connector_name().empty()) r.Fail("ConnectorName", "missing");
  if (run->result().empty()) r.Fail("Result", "missing");
  if (!run->has_start_time()) r.Fail("StartDate", "missing");
  if (run->run_history_id().empty() && !run_number) {
    r.Fail("RunHistoryId", "missing, and there is no RunNumber either");
  }
  SYNCWATCH_RETURN_IF_ERROR(r.status());

  if (const json* steps = r.Find("RunStepResults")) {
    auto convert = [&](const json& s, const std::string& where) -> absl::Status {
      if (s.is_object()) return ConvertStep(s, absl::StrCat(where, "."), run->add_steps());
      // With ConvertTo-Json's default -Depth 2 the steps arrive as their
      // ToString() type name; they carry nothing to read.
      if (s.is_string()) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected an object, got ", TypeName(s)));
    };
    if (steps->is_array()) {
      for (size_t k = 0; k < steps->size(); ++k) {
        SYNCWATCH_RETURN_IF_ERROR(convert((*steps)[k], absl::StrCat("RunStepResults[", k, "]")));
      }
    } else {
      SYNCWATCH_RETURN_IF_ERROR(convert(*steps, "RunStepResults"));
    }
    auto* s = run->mutable_steps();
    for (v1::RunStep& step : *s) {
      for (v1::ExportError& e : *step.mutable_export_errors()) {
        e.set_connector_name(run->connector_name());
        e.set_connector_id(run->connector_id());
      }
    }
    std::stable_sort(s->pointer_begin(), s->pointer_end(),
                     [](const v1::RunStep* a, const v1::RunStep* b) {
                       return a->step_number() < b->step_number();
                     });
  }
  return absl::OkStatus();
}

// Byte offset where item `index` of the top-level array starts (the object
// itself when the top level is one object); only used to put a line number
// on an error, so it can rely on the text being valid JSON up to there.
size_t ItemOffset(absl::string_view text, int64_t index, bool top_is_array) {
  size_t i = 0;
  while (i < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (!top_is_array) return i;
  int depth = 0;
  bool in_string = false;
  bool expect_item = false;
  int64_t seen = -1;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (expect_item && !absl::ascii_isspace(static_cast<unsigned char>(c))) {
      if (++seen == index) return i;
      expect_item = false;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth == 1) expect_item = true;
        break;
      case ']':
      case '}':
        --depth;
        break;
      case ',':
        if (depth == 1) expect_item = true;
        break;
      default:
        break;
    }
  }
  return text.size();
}

// Builds one top-level item at a time from SAX events and hands it on.
class RunCollector final : public nlohmann::json_sax<json> {
 public:
  RunCollector(absl::string_view name, absl::string_view text, const RunSink& sink)
      : name_(name), text_(text), sink_(sink) {}

  const absl::Status& status() const { return status_; }

  bool null() override { return Value(json(nullptr)); }
  bool boolean(bool val) override { return Value(json(val)); }
  bool number_integer(number_integer_t val) override { return Value(json(val)); }
  bool number_unsigned(number_unsigned_t val) override { return Value(json(val)); }
  bool number_float(number_float_t val, const string_t& /*s*/) override { return Value(json(val)); }
  bool string(string_t& val) override { return Value(json(std::move(val))); }
  bool binary(binary_t& /*val*/) override { return Value(json(nullptr)); }  // not in JSON text
  bool key(string_t& val) override {
    key_ = std::move(val);
    return true;
  }

  bool start_object(std::size_t /*elements*/) override { return StartContainer(json::object()); }
  bool start_array(std::size_t /*elements*/) override {
    if (depth_ == 0) {
      top_is_array_ = true;
      depth_ = 1;
      return true;
    }
    return StartContainer(json::array());
  }
  bool end_object() override { return EndContainer(); }
  bool end_array() override {
    if (depth_ == 1 && top_is_array_) {
      depth_ = 0;
      return true;
    }
    return EndContainer();
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    // what(): "[json.exception.parse_error.101] parse error at line 2, ...";
    // the bracketed id means nothing to a reader.
    absl::string_view what = ex.what();
    const size_t bracket = what.find("] ");
    if (absl::StartsWith(what, "[") && bracket != absl::string_view::npos) {
      what.remove_prefix(bracket + 2);
    }
    const int line = LineOfOffset(text_, position > 0 ? position - 1 : 0);
    SetError(absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": JSON ", what)));
    return false;
  }

 private:
  bool InTopArray() const { return top_is_array_ && depth_ == 1; }

  bool Value(json v) {
    if (depth_ == 0) {
      return Fail(ItemOffset(text_, 0, /*top_is_array=*/false),
                  "top level is not an array or an object");
    }
    if (InTopArray()) {
      return FailItem(absl::StrCat("expected an object, got ", v.type_name()));
    }
    Add(std::move(v));
    return true;
  }

  bool StartContainer(json empty) {
    if (depth_ >= kMaxDepth) {
      return Fail(ItemOffset(text_, index_, top_is_array_), "nesting deeper than 64");
    }
    if (depth_ == 0 || InTopArray()) {
      if (!empty.is_object()) return FailItem("expected an object, got array");
      item_ = std::move(empty);
      stack_.assign(1, &item_);
    } else {
      stack_.push_back(Add(std::move(empty)));
    }
    ++depth_;
    return true;
  }

  bool EndContainer() {
    --depth_;
    stack_.pop_back();
    if (!stack_.empty()) return true;
    // A whole item: convert it and let it go.
    v1::RunProfileResult run;
    absl::Status s = ConvertRun(item_, &run);
    if (!s.ok()) return FailItem(s.message());
    item_ = json();
    s = sink_(std::move(run));
    ++index_;
    if (!s.ok()) {
      SetError(std::move(s));  // the sink's own error, unchanged
      return false;
    }
    return true;
  }

  // Adds `v` to the innermost open container and returns where it went.
  json* Add(json v) {
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  bool Fail(size_t offset, absl::string_view problem) {
    SetError(absl::InvalidArgumentError(
        absl::StrCat(name_, ":", LineOfOffset(text_, offset), ": ", problem)));
    return false;
  }

  bool FailItem(absl::string_view problem) {
    std::string id;
    if (item_.is_object()) {
      auto it = item_.find("RunHistoryId");
      if (it != item_.end() && it->is_string()) id = it->get<std::string>();
    }
    if (id.empty()) id = absl::StrCat("#", index_);
    return Fail(ItemOffset(text_, index_, top_is_array_),
                absl::StrCat("item ", index_, " (", id, "): ", problem));
  }

  void SetError(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }

  const std::string name_;
  const absl::string_view text_;
  const RunSink& sink_;
  absl::Status status_;

  bool top_is_array_ = false;
  size_t depth_ = 0;   // open containers, the top-level array included
  int64_t index_ = 0;  // the item being built
  json item_;
  std::vector<json*> stack_;  // open containers of item_
  std::string key_;
};

}  // namespace

absl::Status ParseRunHistoryJson(ByteReader& in, absl::string_view name, const RunSink& sink) {
  absl::StatusOr<std::string> text = ReadTextInput(in, name, kMaxJsonBytes, "JSON run history");
  if (!text.ok()) return text.status();
  // `... | ConvertTo-Json` of an empty result writes nothing at all.
  if (std::all_of(text->begin(), text->end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return absl::OkStatus();
  }

  RunCollector collector(name, *text, sink);
  try {
    json::sax_parse(*text, &collector);
  } catch (const json::exception& e) {
    // sax_parse reports syntax errors through the collector; anything thrown
    // is a bug of ours, kept from escaping as an exception.
    return absl::InternalError(absl::StrCat(name, ": JSON parser: ", e.what()));
  }
  return collector.status();
}

}  // namespace syncwatch::agent
