// Settings JSON (DOMAIN.md §2.2, §5). The documents are small (a few KiB), so
// the text is read whole, checked, and parsed into nlohmann's DOM; every
// value goes through a typed reader that names the property on error.
#include "agent/parsers/settings_json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/parsers/engine_time.h"
#include "agent/parsers/text_input.h"
#include "common/status_macros.h"
#include "common/text_util.h"
#include "common/time_util.h"
#include "nlohmann/json.hpp"

namespace syncwatch::agent {
namespace {

using json = nlohmann::json;

// The combined document is a few KiB; GlobalSettings with every parameter
// some tens of KiB. The cap only stops a runaway file.
constexpr size_t kMaxBytes = size_t{4} << 20;
// ConvertTo-Json output nests 4 deep (document, GlobalSettings, Parameters,
// parameter) plus a TimeSpan or DateTime object.
constexpr size_t kMaxDepth = 32;
// Longer than any interval the scheduler accepts; bounds the arithmetic.
constexpr int64_t kMaxTimeSpanDays = 3650;
constexpr int64_t kTicksPerSecond = 10000000;  // .NET ticks are 100 ns
// The threshold is a UInt32 in Enable-ADSyncExportDeletionThreshold.
constexpr int64_t kMaxThreshold = std::numeric_limits<uint32_t>::max();

std::string Quote(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return absl::StrCat("\"", absl::CHexEscape(value), "\"");
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMax)), "\"...");
}

bool KeyIs(absl::string_view key, absl::string_view want) {
  return absl::EqualsIgnoreCase(key, want);
}

// The member of `obj` named `key` (case-insensitively), or nullptr.
const json* FindKey(const json& obj, absl::string_view key) {
  if (!obj.is_object()) return nullptr;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (KeyIs(it.key(), key)) return &*it;
  }
  return nullptr;
}

// ---- conversions; each returns false when the value does not fit ----------

// A non-negative integer up to `max`, as a JSON number (integral) or a
// decimal string.
bool ToCount(const json& v, int64_t max, int64_t* out) {
  int64_t n = -1;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) return false;
    n = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d >= 0 && d <= static_cast<double>(max)) || std::trunc(d) != d) return false;
    n = static_cast<int64_t>(d);
  } else if (v.is_string()) {
    const absl::string_view s = absl::StripAsciiWhitespace(v.get_ref<const std::string&>());
    if (s.empty() || !std::all_of(s.begin(), s.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(s, &n)) {
      return false;
    }
  } else {
    return false;
  }
  if (n < 0 || n > max) return false;
  *out = n;
  return true;
}

bool ToBool(const json& v, bool* out) {
  if (v.is_boolean()) {
    *out = v.get<bool>();
    return true;
  }
  if (v.is_number_integer() || v.is_number_unsigned()) {
    // A flag written as 0/1 (Laparoscope describes the threshold's that way).
    int64_t n = 0;
    if (!ToCount(v, 1, &n)) return false;
    *out = n == 1;
    return true;
  }
  if (v.is_string()) {
    const absl::string_view s = absl::StripAsciiWhitespace(v.get_ref<const std::string&>());
    if (KeyIs(s, "true") || s == "1") {
      *out = true;
      return true;
    }
    if (KeyIs(s, "false") || s == "0") {
      *out = false;
      return true;
    }
  }
  return false;
}

// A JSON number as a double (for TimeSpan's Total* properties).
std::optional<double> NumberOf(const json* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

// "d.HH:mm:ss[.fffffff]" / "HH:mm:ss", or ConvertTo-Json's TimeSpan object.
bool ToDuration(const json& v, absl::Duration* out) {
  absl::Duration d;
  if (v.is_string()) {
    absl::StatusOr<absl::Duration> parsed = ParseTimeSpan(v.get_ref<const std::string&>());
    if (!parsed.ok()) return false;
    d = *parsed;
  } else if (v.is_object()) {
    const json* ticks = FindKey(v, "Ticks");
    if (ticks != nullptr) {
      int64_t t = 0;
      if (!ToCount(*ticks, kMaxTimeSpanDays * 86400 * kTicksPerSecond, &t)) return false;
      d = absl::Seconds(t / kTicksPerSecond) + absl::Nanoseconds((t % kTicksPerSecond) * 100);
    } else if (std::optional<double> ms = NumberOf(FindKey(v, "TotalMilliseconds"))) {
      d = absl::Milliseconds(*ms);
    } else if (std::optional<double> s = NumberOf(FindKey(v, "TotalSeconds"))) {
      d = absl::Seconds(*s);
    } else if (std::optional<double> m = NumberOf(FindKey(v, "TotalMinutes"))) {
      d = absl::Minutes(*m);
    } else {
      return false;
    }
  } else {
    return false;
  }
  if (d < absl::ZeroDuration() || d > absl::Hours(24 * kMaxTimeSpanDays)) return false;
  *out = d;
  return true;
}

// ISO 8601, "\/Date(ms)\/", or PowerShell's wrapped DateTime {"value": …}.
bool ToTime(const json& v, google::protobuf::Timestamp* out) {
  const json* value = &v;
  if (v.is_object()) {
    value = FindKey(v, "value");
    if (value == nullptr) return false;
  }
  if (!value->is_string()) return false;
  std::optional<google::protobuf::Timestamp> t =
      internal::ParseEngineTimestamp(value->get_ref<const std::string&>());
  if (!t) return false;
  *out = *t;
  return true;
}

// NextSyncCyclePolicyType as written, or the assumed enum numbering.
bool ToPolicyType(const json& v, std::string* out) {
  static constexpr const char* kNames[] = {"Unspecified", "Delta", "Initial"};
  if (v.is_number()) {
    int64_t n = 0;
    if (!ToCount(v, 2, &n)) return false;
    *out = kNames[n];
    return true;
  }
  if (!v.is_string()) return false;
  const absl::string_view s = absl::StripAsciiWhitespace(v.get_ref<const std::string&>());
  if (s.empty()) return false;
  for (const char* name : kNames) {
    if (KeyIs(s, name)) {
      *out = name;
      return true;
    }
  }
  *out = std::string(s);  // a value this version does not know: kept as written
  return true;
}

enum class Prevention { kDisabled, kCount, kPercentage };

bool ToPrevention(const json& v, Prevention* out) {
  if (v.is_number() && !v.is_number_float()) {
    int64_t n = 0;
    if (!ToCount(v, 2, &n)) return false;
    *out = n == 0 ? Prevention::kDisabled : n == 1 ? Prevention::kCount : Prevention::kPercentage;
    return true;
  }
  if (v.is_string()) {
    const absl::string_view s = absl::StripAsciiWhitespace(v.get_ref<const std::string&>());
    if (KeyIs(s, "Disabled")) {
      *out = Prevention::kDisabled;
      return true;
    }
    if (KeyIs(s, "Enabled") || KeyIs(s, "EnabledForCount")) {
      *out = Prevention::kCount;
      return true;
    }
    if (KeyIs(s, "EnabledForPercentage") || s == "2") {
      *out = Prevention::kPercentage;
      return true;
    }
  }
  bool enabled = false;
  if (!ToBool(v, &enabled)) return false;
  *out = enabled ? Prevention::kCount : Prevention::kDisabled;
  return true;
}

// ---- gathering --------------------------------------------------------------

// What the sources said, before precedence is applied.
struct Gathered {
  bool any_source = false;
  // Get-ADSyncScheduler.
  std::optional<bool> staging_mode;
  std::optional<bool> sync_cycle_enabled;
  std::optional<bool> scheduler_suspended;
  std::optional<bool> sync_cycle_in_progress;
  std::optional<absl::Duration> effective_interval;
  std::optional<absl::Duration> allowed_interval;
  std::optional<absl::Duration> customized_interval;
  std::optional<absl::Duration> purge_interval;
  std::optional<std::string> policy_type;
  std::optional<google::protobuf::Timestamp> next_start;
  // Get-ADSyncExportDeletionThreshold (tenant).
  std::optional<Prevention> prevention;
  std::optional<int64_t> threshold_count;
  // Get-ADSyncGlobalSettings (local copies).
  std::optional<bool> gs_staging_mode;
  std::optional<bool> gs_scheduler_suspended;
  std::optional<bool> gs_threshold_enabled;
  std::optional<int64_t> gs_threshold_value;
  std::optional<absl::Duration> gs_interval;
  std::optional<absl::Duration> gs_purge_interval;
  std::optional<std::string> gs_policy_type;
  std::optional<google::protobuf::Timestamp> gs_next_start;
};

bool IsSchedulerKey(absl::string_view key) {
  static constexpr const char* kKeys[] = {"AllowedSyncCycleInterval",
                                          "CurrentlyEffectiveSyncCycleInterval",
                                          "CustomizedSyncCycleInterval",
                                          "NextSyncCyclePolicyType",
                                          "NextSyncCycleStartTimeInUTC",
                                          "PurgeRunHistoryInterval",
                                          "SyncCycleEnabled",
                                          "MaintenanceEnabled",
                                          "StagingModeEnabled",
                                          "SchedulerSuspended",
                                          "SyncCycleInProgress"};
  return std::any_of(std::begin(kKeys), std::end(kKeys),
                     [&](const char* k) { return KeyIs(key, k); });
}

bool IsThresholdKey(absl::string_view key) {
  return KeyIs(key, "DeletionPrevention") || KeyIs(key, "ThresholdCount") ||
         KeyIs(key, "ThresholdPercentage");
}

// Reads typed values out of the DOM; the first problem is kept as
// "<name>:<line>: <path>: <problem>" and later reads are skipped.
class SettingsReader {
 public:
  SettingsReader(absl::string_view name, absl::string_view text) : name_(name), text_(text) {}

  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  // Reads one top-level item (an object, or what the combined document holds).
  void ReadDocument(const json& doc, Gathered* g);

  void Fail(absl::string_view path, absl::string_view anchor, absl::string_view problem) {
    if (!status_.ok()) return;
    status_ = absl::InvalidArgumentError(
        absl::StrCat(name_, ":", LineOf(anchor), ": ", path, ": ", problem));
  }

 private:
  // Line of the first `"anchor"` in the text: where a property (or a
  // GlobalSettings parameter name) is written. Good enough for documents
  // whose property names hardly repeat; line 1 when not found.
  int LineOf(absl::string_view anchor) const {
    if (anchor.empty()) return 1;
    const size_t at = text_.find(absl::StrCat("\"", anchor, "\""));
    return at == absl::string_view::npos ? 1 : LineOfOffset(text_, at);
  }

  template <typename T, typename Convert>
  std::optional<T> Read(const json& v, absl::string_view path, absl::string_view anchor,
                        absl::string_view expected, Convert convert) {
    T out{};
    if (convert(v, &out)) return out;
    Fail(path, anchor, absl::StrCat("expected ", expected, ", got ", Quote(v.dump())));
    return std::nullopt;
  }

  std::optional<bool> Bool(const json& v, absl::string_view path, absl::string_view anchor) {
    return Read<bool>(v, path, anchor, "true or false", ToBool);
  }
  std::optional<absl::Duration> Duration(const json& v, absl::string_view path,
                                         absl::string_view anchor) {
    return Read<absl::Duration>(v, path, anchor,
                                "a time span (\"d.HH:mm:ss\" or a TimeSpan object)", ToDuration);
  }
  std::optional<google::protobuf::Timestamp> Time(const json& v, absl::string_view path,
                                                  absl::string_view anchor) {
    return Read<google::protobuf::Timestamp>(v, path, anchor, "a time", ToTime);
  }
  std::optional<int64_t> Threshold(const json& v, absl::string_view path,
                                   absl::string_view anchor) {
    return Read<int64_t>(v, path, anchor, "a count of objects", [](const json& x, int64_t* out) {
      return ToCount(x, kMaxThreshold, out);
    });
  }

  void ReadScheduler(const json& obj, const std::string& prefix, Gathered* g);
  void ReadThreshold(const json& obj, const std::string& prefix, Gathered* g);
  void ReadGlobalSettings(const json& obj, const std::string& prefix, Gathered* g);
  void ReadParameter(absl::string_view param, const json& value, const std::string& path,
                     Gathered* g);
  // Reads the value of one combined-document section (object, array of
  // objects, or null).
  template <typename ReadFn>
  void ReadSection(const json& v, const std::string& path, ReadFn read);

  const std::string name_;
  const absl::string_view text_;
  absl::Status status_;
};

void SettingsReader::ReadScheduler(const json& obj, const std::string& prefix, Gathered* g) {
  g->any_source = true;
  for (auto it = obj.begin(); it != obj.end() && ok(); ++it) {
    const std::string& key = it.key();
    const json& v = *it;
    if (v.is_null()) continue;  // ConvertTo-Json writes null for unset values
    const std::string path = absl::StrCat(prefix, key);
    if (KeyIs(key, "StagingModeEnabled")) {
      g->staging_mode = Bool(v, path, key);
    } else if (KeyIs(key, "SyncCycleEnabled")) {
      g->sync_cycle_enabled = Bool(v, path, key);
    } else if (KeyIs(key, "SchedulerSuspended")) {
      g->scheduler_suspended = Bool(v, path, key);
    } else if (KeyIs(key, "SyncCycleInProgress")) {
      g->sync_cycle_in_progress = Bool(v, path, key);
    } else if (KeyIs(key, "MaintenanceEnabled")) {
      (void)Bool(v, path, key);  // checked only: ServerSettings has no field for it
    } else if (KeyIs(key, "CurrentlyEffectiveSyncCycleInterval")) {
      g->effective_interval = Duration(v, path, key);
    } else if (KeyIs(key, "AllowedSyncCycleInterval")) {
      g->allowed_interval = Duration(v, path, key);
    } else if (KeyIs(key, "CustomizedSyncCycleInterval")) {
      g->customized_interval = Duration(v, path, key);
    } else if (KeyIs(key, "PurgeRunHistoryInterval")) {
      g->purge_interval = Duration(v, path, key);
    } else if (KeyIs(key, "NextSyncCycleStartTimeInUTC")) {
      g->next_start = Time(v, path, key);
    } else if (KeyIs(key, "NextSyncCyclePolicyType")) {
      g->policy_type =
          Read<std::string>(v, path, key, "Delta, Initial, Unspecified or 0..2", ToPolicyType);
    }
  }
}

void SettingsReader::ReadThreshold(const json& obj, const std::string& prefix, Gathered* g) {
  g->any_source = true;
  for (auto it = obj.begin(); it != obj.end() && ok(); ++it) {
    const std::string& key = it.key();
    const json& v = *it;
    if (v.is_null()) continue;
    const std::string path = absl::StrCat(prefix, key);
    if (KeyIs(key, "DeletionPrevention")) {
      g->prevention = Read<Prevention>(
          v, path, key, "a flag (0/1, true/false, Disabled/EnabledForCount/EnabledForPercentage)",
          ToPrevention);
    } else if (KeyIs(key, "ThresholdCount")) {
      g->threshold_count = Threshold(v, path, key);
    } else if (KeyIs(key, "ThresholdPercentage")) {
      // Checked only: ServerSettings has no percentage field (see the header).
      (void)Read<int64_t>(v, path, key, "a percentage (0..100)",
                          [](const json& x, int64_t* out) { return ToCount(x, 100, out); });
    }
  }
}

void SettingsReader::ReadParameter(absl::string_view param, const json& value,
                                   const std::string& path, Gathered* g) {
  if (value.is_null()) return;
  if (KeyIs(param, "Microsoft.Synchronize.StagingMode")) {
    g->gs_staging_mode = Bool(value, path, param);
  } else if (KeyIs(param, "Microsoft.Synchronize.SchedulerSuspended")) {
    g->gs_scheduler_suspended = Bool(value, path, param);
  } else if (KeyIs(param, "Microsoft.OptionalFeature.ExportDeletionThreshold")) {
    g->gs_threshold_enabled = Bool(value, path, param);
  } else if (KeyIs(param, "Microsoft.OptionalFeature.ExportDeletionThresholdValue")) {
    g->gs_threshold_value = Threshold(value, path, param);
  } else if (KeyIs(param, "Microsoft.Synchronize.TimeInterval")) {
    g->gs_interval = Duration(value, path, param);
  } else if (KeyIs(param, "Microsoft.Synchronize.RunHistoryPurgeInterval")) {
    g->gs_purge_interval = Duration(value, path, param);
  } else if (KeyIs(param, "Microsoft.Synchronize.SynchronizationPolicy")) {
    g->gs_policy_type =
        Read<std::string>(value, path, param, "Delta, Initial, Unspecified or 0..2", ToPolicyType);
  } else if (KeyIs(param, "Microsoft.Synchronize.NextStartTime")) {
    // Its format is not attested (it may be written in the server's locale):
    // taken when it parses, skipped otherwise.
    google::protobuf::Timestamp t;
    if (ToTime(value, &t)) g->gs_next_start = t;
  }
}

void SettingsReader::ReadGlobalSettings(const json& obj, const std::string& prefix, Gathered* g) {
  g->any_source = true;
  const json* params = FindKey(obj, "Parameters");
  if (params == nullptr || params->is_null()) return;
  const std::string base = absl::StrCat(prefix, "Parameters");
  if (params->is_array()) {
    for (size_t i = 0; i < params->size() && ok(); ++i) {
      const json& p = (*params)[i];
      const std::string where = absl::StrCat(base, "[", i, "]");
      if (!p.is_object()) {
        Fail(where, "Parameters", absl::StrCat("expected an object, got ", p.type_name()));
        return;
      }
      const json* pname = FindKey(p, "Name");
      if (pname == nullptr || !pname->is_string()) {
        Fail(where, "Parameters", "a parameter without a Name string");
        return;
      }
      const std::string& param = pname->get_ref<const std::string&>();
      const json* value = FindKey(p, "Value");
      if (value != nullptr) ReadParameter(param, *value, absl::StrCat(base, "[", param, "]"), g);
    }
  } else if (params->is_object()) {
    // {"<name>": value} or {"<name>": {"Value": value, ...}}.
    for (auto it = params->begin(); it != params->end() && ok(); ++it) {
      const json* value = &*it;
      if (value->is_object()) value = FindKey(*value, "Value");
      if (value != nullptr) {
        ReadParameter(it.key(), *value, absl::StrCat(base, "[", it.key(), "]"), g);
      }
    }
  } else {
    Fail(base, "Parameters",
         absl::StrCat("expected an array or an object, got ", params->type_name()));
  }
}

template <typename ReadFn>
void SettingsReader::ReadSection(const json& v, const std::string& path, ReadFn read) {
  if (v.is_null()) return;  // the exporter writes null when a cmdlet failed
  if (v.is_object()) {
    read(v, absl::StrCat(path, "."));
    return;
  }
  if (v.is_array()) {  // a cmdlet that wrote several objects
    for (size_t i = 0; i < v.size() && ok(); ++i) {
      if (!v[i].is_object()) {
        Fail(absl::StrCat(path, "[", i, "]"), path,
             absl::StrCat("expected an object, got ", v[i].type_name()));
        return;
      }
      read(v[i], absl::StrCat(path, "[", i, "]."));
    }
    return;
  }
  Fail(path, path, absl::StrCat("expected an object, got ", v.type_name()));
}

void SettingsReader::ReadDocument(const json& doc, Gathered* g) {
  bool combined = false;
  for (auto it = doc.begin(); it != doc.end() && ok(); ++it) {
    const std::string& key = it.key();
    if (KeyIs(key, "Scheduler")) {
      combined = true;
      ReadSection(*it, key, [&](const json& o, const std::string& p) { ReadScheduler(o, p, g); });
    } else if (KeyIs(key, "DeletionThreshold")) {
      combined = true;
      ReadSection(*it, key, [&](const json& o, const std::string& p) { ReadThreshold(o, p, g); });
    } else if (KeyIs(key, "GlobalSettings")) {
      combined = true;
      ReadSection(*it, key,
                  [&](const json& o, const std::string& p) { ReadGlobalSettings(o, p, g); });
    }
  }
  if (combined || !ok()) return;
  // One cmdlet's own output, told apart by its properties.
  if (FindKey(doc, "Parameters") != nullptr) {
    ReadGlobalSettings(doc, "", g);
    return;
  }
  bool threshold = false;
  bool scheduler = false;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    threshold = threshold || IsThresholdKey(it.key());
    scheduler = scheduler || IsSchedulerKey(it.key());
  }
  if (threshold) ReadThreshold(doc, "", g);
  if (scheduler && ok()) ReadScheduler(doc, "", g);
}

// ---- input -----------------------------------------------------------------

// Offset where nesting first goes deeper than kMaxDepth, if it does
// (nlohmann's DOM would otherwise recurse on deep input when destroyed).
std::optional<size_t> TooDeepAt(absl::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

// Only used to word a syntax error: nlohmann reports it here with its offset.
class SyntaxErrorSax final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool /*val*/) override { return true; }
  bool number_integer(number_integer_t /*val*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return true; }
  bool string(string_t& /*val*/) override { return true; }
  bool binary(binary_t& /*val*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override { return true; }
  bool key(string_t& /*val*/) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t /*elements*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    position_ = position;
    // what(): "[json.exception.parse_error.101] parse error at line 2, ...";
    // the bracketed id means nothing to a reader.
    absl::string_view what = ex.what();
    const size_t bracket = what.find("] ");
    if (absl::StartsWith(what, "[") && bracket != absl::string_view::npos) {
      what.remove_prefix(bracket + 2);
    }
    message_ = std::string(what);
    return false;
  }

  size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  size_t position_ = 0;
  std::string message_ = "syntax error";
};

absl::Status Parse(ByteReader& in, absl::string_view name, v1::ServerSettings* out) {
  out->Clear();
  absl::StatusOr<std::string> decoded = ReadTextInput(in, name, kMaxBytes, "settings JSON");
  if (!decoded.ok()) return decoded.status();
  const std::string& text = *decoded;
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":1: empty input"));
  }
  if (std::optional<size_t> at = TooDeepAt(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", LineOfOffset(text, *at), ": nesting deeper than ", kMaxDepth));
  }

  const json doc = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    SyntaxErrorSax sax;
    json::sax_parse(text, &sax);
    const size_t at = sax.position() > 0 ? sax.position() - 1 : 0;
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", LineOfOffset(text, at), ": JSON ", sax.message()));
  }

  SettingsReader reader(name, text);
  Gathered g;
  if (doc.is_object()) {
    reader.ReadDocument(doc, &g);
  } else if (doc.is_array()) {
    for (size_t i = 0; i < doc.size() && reader.ok(); ++i) {
      if (!doc[i].is_object()) {
        reader.Fail(absl::StrCat("item ", i), "",
                    absl::StrCat("expected an object, got ", doc[i].type_name()));
        break;
      }
      reader.ReadDocument(doc[i], &g);
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":1: top level is ", doc.type_name(), ", want an object"));
  }
  SYNCWATCH_RETURN_IF_ERROR(reader.status());
  if (!g.any_source) {
    return absl::InvalidArgumentError(
        absl::StrCat(name,
                     ":1: no Get-ADSyncScheduler, Get-ADSyncExportDeletionThreshold or "
                     "Get-ADSyncGlobalSettings settings found"));
  }

  // Precedence (see the header): the scheduler over the global-settings
  // copies; the tenant's threshold over the local one, field by field.
  out->set_staging_mode_enabled(g.staging_mode.value_or(g.gs_staging_mode.value_or(false)));
  out->set_sync_cycle_enabled(g.sync_cycle_enabled.value_or(false));
  out->set_scheduler_suspended(
      g.scheduler_suspended.value_or(g.gs_scheduler_suspended.value_or(false)));
  out->set_sync_cycle_in_progress(g.sync_cycle_in_progress.value_or(false));
  std::optional<absl::Duration> interval = g.effective_interval;
  if (!interval && (g.allowed_interval || g.customized_interval)) {
    // "CustomizedSyncCycleInterval … ignored if below allowed" (DOMAIN.md §5).
    interval = g.customized_interval &&
                       (!g.allowed_interval || *g.customized_interval >= *g.allowed_interval)
                   ? g.customized_interval
                   : g.allowed_interval;
  }
  if (!interval) interval = g.gs_interval;
  if (interval) *out->mutable_sync_cycle_interval() = ToProtoDuration(*interval);
  if (std::optional<std::string> policy = g.policy_type ? g.policy_type : g.gs_policy_type) {
    out->set_next_sync_cycle_policy_type(std::move(*policy));
  }
  if (std::optional<google::protobuf::Timestamp> next =
          g.next_start ? g.next_start : g.gs_next_start) {
    *out->mutable_next_sync_cycle_start_time() = *next;
  }
  if (std::optional<absl::Duration> purge =
          g.purge_interval ? g.purge_interval : g.gs_purge_interval) {
    *out->mutable_purge_run_history_interval() = ToProtoDuration(*purge);
  }

  const bool threshold_known =
      g.prevention || g.threshold_count || g.gs_threshold_enabled || g.gs_threshold_value;
  if (threshold_known) {
    out->set_deletion_threshold_known(true);
    if (g.prevention) {
      out->set_deletion_threshold_enabled(*g.prevention != Prevention::kDisabled);
    } else {
      out->set_deletion_threshold_enabled(g.gs_threshold_enabled.value_or(false));
    }
    // A percentage threshold has no count to report ("0 when unknown").
    if (!(g.prevention && *g.prevention == Prevention::kPercentage)) {
      out->set_deletion_threshold(g.threshold_count.value_or(g.gs_threshold_value.value_or(0)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseSettingsJson(ByteReader& in, absl::string_view name, v1::ServerSettings* out) {
  // Parsing is done without exceptions (allow_exceptions=false, type checks
  // before every access); the catch keeps a bug of ours from escaping as one.
  try {
    return Parse(in, name, out);
  } catch (const json::exception& e) {
    return absl::InternalError(absl::StrCat(name, ": JSON parser: ", e.what()));
  }
}

}  // namespace syncwatch::agent
