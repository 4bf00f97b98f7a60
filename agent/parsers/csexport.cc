// csexport XML (DOMAIN.md §2.1, §3.4) read through XmlStream. Each handler
// keeps only the <cs-object> being read; a pending-export snapshot also keeps
// its capped lists.
#include "agent/parsers/csexport.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
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
#include "absl/strings/string_view.h"
#include "agent/parsers/conflict.h"
#include "agent/parsers/csexport_internal.h"
#include "agent/parsers/engine_time.h"
#include "agent/parsers/xml_stream.h"
#include "common/text_util.h"
#include "nlohmann/json.hpp"

namespace syncwatch::agent {
namespace {

using internal::XmlStream;
using internal::XmlStreamHandler;
using internal::XmlStreamOptions;

constexpr size_t kChunkSize = 64 * 1024;

// Element depths of the csexport layout (root = 1):
//   <cs-objects> / <cs-object> / <unapplied-export> / <delta> / <attr> / <value>
//                              / <*-hologram>       / <entry> / <attr> / <value>
//                              / <export-delta-operation>, <ma-name>, <ma-id>, ...
constexpr size_t kObjectDepth = 2;
constexpr size_t kSectionDepth = 3;
constexpr size_t kDeltaOrEntryDepth = 4;
constexpr size_t kAttrDepth = 5;
constexpr size_t kValueDepth = 6;

// A value for an error message: escaped and cut short (values may be 1 MiB).
std::string Quote(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return absl::StrCat("\"", absl::CHexEscape(value), "\"");
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMax)), "\"...");
}

// The value of attribute `name` in expat's attribute array, or nullopt.
std::optional<absl::string_view> FindAttr(const char** attrs, absl::string_view name) {
  for (size_t i = 0; attrs[i] != nullptr; i += 2) {
    if (name == attrs[i]) return absl::StripAsciiWhitespace(attrs[i + 1]);
  }
  return std::nullopt;
}

absl::string_view AttrOrEmpty(const char** attrs, absl::string_view name) {
  return FindAttr(attrs, name).value_or(absl::string_view());
}

// Counters are plain decimal numbers; SimpleAtoi alone would also take a sign.
bool ParseCount(absl::string_view text, int64_t* out) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) return false;
  return absl::SimpleAtoi(text, out);
}

// Identity of the <cs-object> being read, and the check that a file holds
// one connector only (csexport exports one connector space).
class CsObjectIdentity {
 public:
  // Reads the attributes of a <cs-object> start tag.
  void Start(XmlStream& xml, const char** attrs) {
    line_ = xml.element_line();
    dn_ = std::string(AttrOrEmpty(attrs, "cs-dn"));
    cs_guid_ = NormalizeGuid(AttrOrEmpty(attrs, "id"));
    object_type_ = std::string(AttrOrEmpty(attrs, "object-type"));
  }

  // False (after failing `xml`) when the object has neither id nor cs-dn:
  // nothing could name it.
  bool Check(XmlStream& xml) const {
    if (!dn_.empty() || !cs_guid_.empty()) return true;
    xml.Fail(line_, "<cs-object> has neither an id nor a cs-dn attribute");
    return false;
  }

  // <ma-name> / <ma-id> of an object: the file's connector. Fails `xml` when
  // two objects disagree.
  void SetConnectorName(XmlStream& xml, absl::string_view value) {
    SetOnce(xml, "ma-name", value, &connector_name_);
  }
  void SetConnectorId(XmlStream& xml, absl::string_view value) {
    SetOnce(xml, "ma-id", NormalizeGuid(value), &connector_id_);
  }

  int64_t line() const { return line_; }
  const std::string& dn() const { return dn_; }
  const std::string& cs_guid() const { return cs_guid_; }
  const std::string& object_type() const { return object_type_; }
  const std::string& connector_name() const { return connector_name_; }
  const std::string& connector_id() const { return connector_id_; }

 private:
  static void SetOnce(XmlStream& xml, absl::string_view element, absl::string_view value,
                      std::string* slot) {
    if (value.empty()) return;
    if (slot->empty()) {
      *slot = std::string(value);
    } else if (*slot != value) {
      xml.Fail(xml.element_line(),
               absl::StrCat("cs-objects of two connectors in one file (<", element, "> ",
                            Quote(*slot), " and ", Quote(value), ")"));
    }
  }

  int64_t line_ = 0;
  std::string dn_;
  std::string cs_guid_;
  std::string object_type_;
  std::string connector_name_;
  std::string connector_id_;
};

// Fails `xml` unless the root element is <cs-objects>.
void CheckRoot(XmlStream& xml, absl::string_view name) {
  if (name != "cs-objects") {
    xml.Fail(xml.element_line(), absl::StrCat("root element is <", name, ">, want <cs-objects>"));
  }
}

// ---- pending exports (/f:x) ------------------------------------------------

// The attributes a PendingObject carries.
enum Attribute { kUpn, kSourceAnchor, kDisplayName, kMail, kProxyAddresses, kAttributeCount };

std::optional<Attribute> AttributeOf(absl::string_view name) {
  static constexpr std::array<std::pair<Attribute, const char*>, kAttributeCount> kNames = {{
      {kUpn, "userPrincipalName"},
      {kSourceAnchor, "sourceAnchor"},
      {kDisplayName, "displayName"},
      {kMail, "mail"},
      {kProxyAddresses, "proxyAddresses"},
  }};
  for (const auto& [attribute, attribute_name] : kNames) {
    if (absl::EqualsIgnoreCase(name, attribute_name)) return attribute;
  }
  return std::nullopt;
}

// Where a value was read: the unapplied-export delta or one of the holograms.
enum Source {
  kDelta,
  kUnappliedExportHologram,
  kSynchronizedHologram,
  kPendingImportHologram,
  kSourceCount
};

std::optional<Source> HologramOf(absl::string_view section) {
  if (section == "unapplied-export-hologram") return kUnappliedExportHologram;
  if (section == "synchronized-hologram") return kSynchronizedHologram;
  if (section == "pending-import-hologram") return kPendingImportHologram;
  return std::nullopt;
}

enum class Change { kNone, kAdd, kUpdate, kDelete };

// See the classification in csexport.h.
Change Classify(absl::string_view export_delta_operation, absl::string_view delta_operation) {
  auto is = [](absl::string_view value, absl::string_view want) {
    return absl::EqualsIgnoreCase(value, want);
  };
  if (is(delta_operation, "add")) return Change::kAdd;
  if (is(delta_operation, "update") || is(delta_operation, "replace") ||
      is(delta_operation, "delete-add")) {
    return Change::kUpdate;
  }
  if (is(delta_operation, "delete")) {
    return export_delta_operation.empty() || is(export_delta_operation, "delete") ? Change::kDelete
                                                                                  : Change::kUpdate;
  }
  if (is(export_delta_operation, "add")) return Change::kAdd;
  if (is(export_delta_operation, "modify") || is(export_delta_operation, "update") ||
      is(export_delta_operation, "replace") || is(export_delta_operation, "delete-add")) {
    return Change::kUpdate;
  }
  if (is(export_delta_operation, "delete")) return Change::kDelete;
  return Change::kNone;
}

// One attribute's values in one source.
struct Values {
  // The source names the attribute (a delta may name it to delete it).
  bool present = false;
  std::vector<std::string> values;
};

class PendingExportsHandler final : public XmlStreamHandler {
 public:
  PendingExportsHandler(const CsExportLimits& limits, v1::PendingExportSnapshot* out)
      : limits_(limits), out_(out) {}
  PendingExportsHandler(const PendingExportsHandler&) = delete;
  PendingExportsHandler& operator=(const PendingExportsHandler&) = delete;

  void OnStartElement(XmlStream& xml, absl::string_view name, const char** attrs) override;
  void OnEndElement(XmlStream& xml, absl::string_view name, absl::string_view text) override;

  const CsObjectIdentity& identity() const { return identity_; }

 private:
  void StartObject(XmlStream& xml, const char** attrs);
  void FinishObject(XmlStream& xml);
  void AddValue(XmlStream& xml, absl::string_view value);
  // Fills the attribute fields of `object` from the first source in `order`
  // that names each attribute.
  void FillAttributes(std::initializer_list<Source> order, std::initializer_list<Attribute> which,
                      v1::PendingObject* object) const;

  const CsExportLimits& limits_;
  v1::PendingExportSnapshot* const out_;
  CsObjectIdentity identity_;
  size_t listed_delete_bytes_ = 0;
  size_t listed_change_bytes_ = 0;
  bool deletes_full_ = false;
  bool changes_full_ = false;

  // The object being read.
  bool in_object_ = false;
  std::string section_;  // name of the open element at kSectionDepth
  std::string export_delta_operation_;
  bool delta_open_ = false;
  bool delta_seen_ = false;
  std::string delta_operation_;
  bool entry_open_ = false;
  std::optional<Attribute> attribute_;  // the open <attr>, when one we want
  bool attribute_deleted_ = false;      // its delta operation deletes it
  bool value_deleted_ = false;          // the open <value> is a delete
  std::array<std::array<Values, kAttributeCount>, kSourceCount> values_;
  size_t value_bytes_ = 0;
};

void PendingExportsHandler::OnStartElement(XmlStream& xml, absl::string_view name,
                                           const char** attrs) {
  const size_t depth = xml.depth();
  if (depth == 1) {
    CheckRoot(xml, name);
    return;
  }
  if (depth == kObjectDepth) {
    if (name == "cs-object") StartObject(xml, attrs);
    return;
  }
  if (!in_object_) return;
  switch (depth) {
    case kSectionDepth:
      section_ = std::string(name);
      if (name == "export-delta-operation" || name == "ma-name" || name == "ma-id") {
        xml.CollectText();
      }
      break;
    case kDeltaOrEntryDepth:
      if (section_ == "unapplied-export" && name == "delta" && !delta_seen_) {
        delta_open_ = true;
        delta_seen_ = true;
        delta_operation_ = std::string(AttrOrEmpty(attrs, "operation"));
      } else if (name == "entry" && HologramOf(section_)) {
        entry_open_ = true;
      }
      break;
    case kAttrDepth:
      if (name != "attr" || !(delta_open_ || entry_open_)) break;
      attribute_ = AttributeOf(AttrOrEmpty(attrs, "name"));
      if (!attribute_) break;
      attribute_deleted_ =
          delta_open_ && absl::EqualsIgnoreCase(AttrOrEmpty(attrs, "operation"), "delete");
      values_[delta_open_ ? kDelta : *HologramOf(section_)][*attribute_].present = true;
      break;
    case kValueDepth:
      if (name != "value" || !attribute_) break;
      value_deleted_ = absl::EqualsIgnoreCase(AttrOrEmpty(attrs, "operation"), "delete");
      xml.CollectText();
      break;
    default:
      break;
  }
}

void PendingExportsHandler::OnEndElement(XmlStream& xml, absl::string_view name,
                                         absl::string_view text) {
  if (!in_object_) return;
  switch (xml.depth()) {
    case kObjectDepth:
      FinishObject(xml);
      break;
    case kSectionDepth:
      if (name == "export-delta-operation") {
        export_delta_operation_ = std::string(text);
      } else if (name == "ma-name") {
        identity_.SetConnectorName(xml, text);
      } else if (name == "ma-id") {
        identity_.SetConnectorId(xml, text);
      }
      section_.clear();
      break;
    case kDeltaOrEntryDepth:
      delta_open_ = false;
      entry_open_ = false;
      break;
    case kAttrDepth:
      attribute_.reset();
      attribute_deleted_ = false;
      break;
    case kValueDepth:
      if (name == "value" && attribute_) AddValue(xml, text);
      break;
    default:
      break;
  }
}

void PendingExportsHandler::StartObject(XmlStream& xml, const char** attrs) {
  in_object_ = true;
  identity_.Start(xml, attrs);
  section_.clear();
  export_delta_operation_.clear();
  delta_open_ = false;
  delta_seen_ = false;
  delta_operation_.clear();
  entry_open_ = false;
  attribute_.reset();
  attribute_deleted_ = false;
  value_deleted_ = false;
  for (auto& source : values_) {
    for (Values& v : source) {
      v.present = false;
      v.values.clear();
    }
  }
  value_bytes_ = 0;
}

void PendingExportsHandler::AddValue(XmlStream& xml, absl::string_view value) {
  // A delta's delete (of the attribute or of this value) exports nothing.
  if (delta_open_ && (attribute_deleted_ || value_deleted_)) return;
  if (value.empty()) return;
  value_bytes_ += value.size();
  if (value_bytes_ > limits_.max_object_value_bytes) {
    xml.Fail(identity_.line(),
             absl::StrCat("<cs-object> holds more than ", limits_.max_object_value_bytes,
                          " bytes of attribute values"));
    return;
  }
  const Source source = delta_open_ ? kDelta : *HologramOf(section_);
  values_[source][*attribute_].values.emplace_back(value);
}

void PendingExportsHandler::FillAttributes(std::initializer_list<Source> order,
                                           std::initializer_list<Attribute> which,
                                           v1::PendingObject* object) const {
  for (Attribute attribute : which) {
    const Values* found = nullptr;
    for (Source source : order) {
      if (values_[source][attribute].present) {
        found = &values_[source][attribute];
        break;
      }
    }
    if (found == nullptr || found->values.empty()) continue;
    const std::string& first = found->values.front();
    switch (attribute) {
      case kUpn:
        object->set_user_principal_name(first);
        break;
      case kSourceAnchor:
        object->set_source_anchor(first);
        break;
      case kDisplayName:
        object->set_display_name(first);
        break;
      case kMail:
        object->set_mail(first);
        break;
      case kProxyAddresses:
        for (const std::string& v : found->values) object->add_proxy_addresses(v);
        break;
      case kAttributeCount:
        break;
    }
  }
}

void PendingExportsHandler::FinishObject(XmlStream& xml) {
  in_object_ = false;
  if (!identity_.Check(xml)) return;
  const Change change = Classify(export_delta_operation_, delta_operation_);
  if (change == Change::kNone) return;

  v1::PendingObject object;
  object.set_dn(identity_.dn());
  object.set_object_type(identity_.object_type());
  object.set_cs_guid(identity_.cs_guid());
  if (change == Change::kDelete) {
    out_->set_pending_deletes(out_->pending_deletes() + 1);
    if (deletes_full_ || out_->deletes_size() >= limits_.max_listed_deletes) return;
    // What is about to disappear is described by the holograms; the delete
    // delta itself carries no attributes (DOMAIN.md §2.1).
    FillAttributes({kPendingImportHologram, kSynchronizedHologram},
                   {kUpn, kSourceAnchor, kDisplayName, kMail, kProxyAddresses}, &object);
    const size_t bytes = object.SpaceUsedLong();
    if (listed_delete_bytes_ + bytes > limits_.max_listed_delete_bytes) {
      deletes_full_ = true;
      return;
    }
    listed_delete_bytes_ += bytes;
    *out_->add_deletes() = std::move(object);
    return;
  }

  if (change == Change::kAdd) {
    out_->set_pending_adds(out_->pending_adds() + 1);
  } else {
    out_->set_pending_updates(out_->pending_updates() + 1);
  }
  if (changes_full_ || out_->adds_and_updates_size() >= limits_.max_listed_changes) return;
  FillAttributes({kDelta, kUnappliedExportHologram, kSynchronizedHologram, kPendingImportHologram},
                 {kUpn, kMail, kProxyAddresses}, &object);
  const size_t bytes = object.SpaceUsedLong();
  if (listed_change_bytes_ + bytes > limits_.max_listed_change_bytes) {
    changes_full_ = true;
    return;
  }
  listed_change_bytes_ += bytes;
  *out_->add_adds_and_updates() = std::move(object);
}

// ---- export errors (/f:e) ---------------------------------------------------

// The text fields of an export error, wherever they sit below
// <export-errordetail>.
enum class ErrorField {
  kDateOccurred,
  kFirstOccurred,
  kRetryCount,
  kErrorType,
  kErrorName,
  kErrorCode,
  kErrorLiteral,
  kServerErrorDetail,
  kExtraDetails,
};

std::optional<ErrorField> ErrorFieldOf(absl::string_view name) {
  if (name == "date-occurred") return ErrorField::kDateOccurred;
  if (name == "first-occurred") return ErrorField::kFirstOccurred;
  if (name == "retry-count") return ErrorField::kRetryCount;
  if (name == "error-type") return ErrorField::kErrorType;
  if (name == "error-name") return ErrorField::kErrorName;
  if (name == "error-code") return ErrorField::kErrorCode;
  if (name == "error-literal") return ErrorField::kErrorLiteral;
  if (name == "server-error-detail") return ErrorField::kServerErrorDetail;
  if (name == "extra-error-details" || name == "error-extra-details") {
    return ErrorField::kExtraDetails;
  }
  return std::nullopt;
}

// An export error being read.
struct PendingError {
  v1::ExportError error;
  std::string error_name;
  std::string extra_details;
  int64_t line = 0;
};

class ExportErrorsHandler final : public XmlStreamHandler {
 public:
  explicit ExportErrorsHandler(const ExportErrorSink& sink) : sink_(sink) {}
  ExportErrorsHandler(const ExportErrorsHandler&) = delete;
  ExportErrorsHandler& operator=(const ExportErrorsHandler&) = delete;

  void OnStartElement(XmlStream& xml, absl::string_view name, const char** attrs) override;
  void OnEndElement(XmlStream& xml, absl::string_view name, absl::string_view text) override;

 private:
  // Reads the attribute forms (MIM's reference) of an <export-errordetail>
  // or <export-error> start tag.
  void ReadErrorAttributes(XmlStream& xml, const char** attrs);
  void SetField(XmlStream& xml, ErrorField field, absl::string_view value);
  void FinishObject(XmlStream& xml);

  const ExportErrorSink& sink_;
  CsObjectIdentity identity_;
  bool in_object_ = false;
  bool in_detail_ = false;                // inside <export-errordetail>
  std::optional<ErrorField> open_field_;  // the field element whose text is collected
  size_t open_field_depth_ = 0;
  std::vector<PendingError> errors_;  // of the object being read
};

void ExportErrorsHandler::OnStartElement(XmlStream& xml, absl::string_view name,
                                         const char** attrs) {
  const size_t depth = xml.depth();
  if (depth == 1) {
    CheckRoot(xml, name);
    return;
  }
  if (depth == kObjectDepth) {
    if (name != "cs-object") return;
    in_object_ = true;
    in_detail_ = false;
    open_field_.reset();
    errors_.clear();
    identity_.Start(xml, attrs);
    return;
  }
  if (!in_object_) return;
  if (depth == kSectionDepth) {
    if (name == "ma-name" || name == "ma-id") {
      xml.CollectText();
    } else if (name == "export-errordetail") {
      in_detail_ = true;
      errors_.emplace_back();
      errors_.back().line = xml.element_line();
      ReadErrorAttributes(xml, attrs);
    }
    return;
  }
  if (!in_detail_) return;
  if (name == "export-error") {
    ReadErrorAttributes(xml, attrs);
    return;
  }
  // Field elements nest in cd-error (and export-status); a field inside a
  // field (not seen) would be ignored, as XmlStream collects one at a time.
  if (open_field_) return;
  if (std::optional<ErrorField> field = ErrorFieldOf(name)) {
    open_field_ = field;
    open_field_depth_ = depth;
    xml.CollectText();
  }
}

void ExportErrorsHandler::OnEndElement(XmlStream& xml, absl::string_view name,
                                       absl::string_view text) {
  if (!in_object_) return;
  const size_t depth = xml.depth();
  if (depth == kObjectDepth) {
    FinishObject(xml);
    return;
  }
  if (depth == kSectionDepth) {
    if (name == "ma-name") {
      identity_.SetConnectorName(xml, text);
    } else if (name == "ma-id") {
      identity_.SetConnectorId(xml, text);
    } else if (name == "export-errordetail") {
      in_detail_ = false;
    }
    return;
  }
  if (open_field_ && depth == open_field_depth_) {
    const ErrorField field = *open_field_;
    open_field_.reset();
    SetField(xml, field, text);
  }
}

void ExportErrorsHandler::ReadErrorAttributes(XmlStream& xml, const char** attrs) {
  for (size_t i = 0; attrs[i] != nullptr && !xml.failed(); i += 2) {
    std::optional<ErrorField> field = ErrorFieldOf(attrs[i]);
    if (field && (*field == ErrorField::kDateOccurred || *field == ErrorField::kFirstOccurred ||
                  *field == ErrorField::kRetryCount || *field == ErrorField::kErrorType)) {
      SetField(xml, *field, absl::StripAsciiWhitespace(attrs[i + 1]));
    }
  }
}

void ExportErrorsHandler::SetField(XmlStream& xml, ErrorField field, absl::string_view value) {
  // An empty element says nothing; it does not clear what another form said.
  if (value.empty() || errors_.empty()) return;
  PendingError& pending = errors_.back();
  v1::ExportError& e = pending.error;
  auto set_time = [&](const char* element, google::protobuf::Timestamp* ts) {
    std::optional<google::protobuf::Timestamp> t = internal::ParseEngineTimestamp(value);
    if (!t) {
      xml.Fail(xml.element_line(), absl::StrCat("<", element, "> is not a time: ", Quote(value)));
      return;
    }
    *ts = *t;
  };
  switch (field) {
    case ErrorField::kDateOccurred:
      set_time("date-occurred", e.mutable_date_occurred());
      break;
    case ErrorField::kFirstOccurred:
      set_time("first-occurred", e.mutable_first_occurred());
      break;
    case ErrorField::kRetryCount: {
      int64_t n = 0;
      if (!ParseCount(value, &n)) {
        xml.Fail(xml.element_line(), absl::StrCat("<retry-count> is not a number: ", Quote(value)));
        return;
      }
      e.set_retry_count(n);
      break;
    }
    case ErrorField::kErrorType:
      e.set_error_type(std::string(value));
      break;
    case ErrorField::kErrorName:
      pending.error_name = std::string(value);
      break;
    case ErrorField::kErrorCode:
      e.mutable_cd_error()->set_error_code(std::string(value));
      break;
    case ErrorField::kErrorLiteral:
      e.mutable_cd_error()->set_error_literal(std::string(value));
      break;
    case ErrorField::kServerErrorDetail:
      e.mutable_cd_error()->set_server_error_detail(std::string(value));
      break;
    case ErrorField::kExtraDetails:
      pending.extra_details = std::string(value);
      break;
  }
}

void ExportErrorsHandler::FinishObject(XmlStream& xml) {
  in_object_ = false;
  in_detail_ = false;
  if (errors_.empty()) return;
  if (!identity_.Check(xml)) return;
  for (PendingError& pending : errors_) {
    v1::ExportError& e = pending.error;
    // A generic "cd-error" (or no type) says less than the directory's own
    // error name, which is what uniqueness rules key on.
    if (!pending.error_name.empty() &&
        (e.error_type().empty() || absl::EqualsIgnoreCase(e.error_type(), "cd-error"))) {
      e.set_error_type(pending.error_name);
    }
    if (e.error_type().empty()) {
      xml.Fail(pending.line, "<export-errordetail> has no error-type (nor error-name)");
      return;
    }
    e.set_connector_name(identity_.connector_name());
    e.set_connector_id(identity_.connector_id());
    e.set_cs_guid(identity_.cs_guid());
    e.set_dn(identity_.dn());

    std::optional<internal::ErrorExtraDetails> extra;
    if (!pending.extra_details.empty()) {
      extra = internal::ParseErrorExtraDetails(pending.extra_details);
    }
    // Assumed: the JSON may also come as the server error detail.
    if (!extra) extra = internal::ParseErrorExtraDetails(e.cd_error().server_error_detail());
    if (extra) {
      e.set_conflict_attribute(extra->attribute_conflict_name);
      e.set_conflict_value(extra->attribute_conflict_value);
      e.set_object_id_in_conflict(extra->object_id_in_conflict);
    }
    if (e.conflict_attribute().empty() && e.conflict_value().empty()) {
      if (std::optional<Conflict> c = ParseConflictFromLiteral(e.cd_error().error_literal())) {
        e.set_conflict_attribute(std::move(c->attribute));
        e.set_conflict_value(std::move(c->value));
      }
    }
    absl::Status s = sink_(std::move(e));
    if (!s.ok()) {
      xml.FailWith(std::move(s));
      return;
    }
  }
  errors_.clear();
}

XmlStreamOptions StreamOptions(size_t chunk_size) {
  XmlStreamOptions options;
  options.chunk_size = std::max<size_t>(chunk_size, 1);
  return options;
}

absl::Status ParsePending(ByteReader& in, absl::string_view name, const CsExportLimits& limits,
                          v1::PendingExportSnapshot* out, size_t chunk_size) {
  // Keep what the caller preset (see csexport.h); reset the rest.
  std::string connector_name = out->connector_name();
  std::string connector_id = out->connector_id();
  std::string snapshot_id = out->snapshot_id();
  const bool has_taken_at = out->has_taken_at();
  google::protobuf::Timestamp taken_at = out->taken_at();
  out->Clear();
  out->set_snapshot_id(std::move(snapshot_id));
  if (has_taken_at) *out->mutable_taken_at() = taken_at;

  PendingExportsHandler handler(limits, out);
  XmlStream xml(name, handler, StreamOptions(chunk_size));
  absl::Status s = xml.Parse(in);
  if (!s.ok()) return s;
  const CsObjectIdentity& identity = handler.identity();
  out->set_connector_name(identity.connector_name().empty() ? std::move(connector_name)
                                                            : identity.connector_name());
  out->set_connector_id(identity.connector_id().empty() ? std::move(connector_id)
                                                        : identity.connector_id());
  out->set_deletes_truncated(out->deletes_size() < out->pending_deletes());
  return absl::OkStatus();
}

absl::Status ParseErrors(ByteReader& in, absl::string_view name, const ExportErrorSink& sink,
                         size_t chunk_size) {
  ExportErrorsHandler handler(sink);
  XmlStream xml(name, handler, StreamOptions(chunk_size));
  return xml.Parse(in);
}

// Nesting of JSON text outside strings; ErrorExtraDetails nests 3 deep.
size_t JsonDepth(absl::string_view text) {
  size_t depth = 0;
  size_t max_depth = 0;
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
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

// Reads parsed ErrorExtraDetails JSON (see ParseErrorExtraDetails).
std::optional<internal::ErrorExtraDetails> ReadErrorExtraDetails(const nlohmann::json& doc) {
  using json = nlohmann::json;
  if (doc.is_discarded()) return std::nullopt;

  // "Value" is an array of strings in the attested form; a bare string is
  // taken too.
  auto first_string = [](const json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get_ref<const std::string&>();
    if (v.is_array()) {
      for (const json& item : v) {
        if (item.is_string()) return item.get_ref<const std::string&>();
      }
    }
    return std::nullopt;
  };
  internal::ErrorExtraDetails out;
  bool found = false;
  auto take = [&](absl::string_view key, const json& value) {
    std::optional<std::string> s = first_string(value);
    if (!s) return;
    if (absl::EqualsIgnoreCase(key, "AttributeConflictName")) {
      out.attribute_conflict_name = std::move(*s);
      found = true;
    } else if (absl::EqualsIgnoreCase(key, "AttributeConflictValues")) {
      out.attribute_conflict_value = std::move(*s);
      found = true;
    } else if (absl::EqualsIgnoreCase(key, "ObjectIdInConflict")) {
      out.object_id_in_conflict = NormalizeGuid(*s);
      found = true;
    }
  };
  auto find_ci = [](const json& obj, absl::string_view key) -> const json* {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (absl::EqualsIgnoreCase(it.key(), key)) return &*it;
    }
    return nullptr;
  };
  if (doc.is_array()) {
    for (const json& pair : doc) {
      if (!pair.is_object()) continue;
      const json* key = find_ci(pair, "Key");
      const json* value = find_ci(pair, "Value");
      if (key == nullptr || value == nullptr || !key->is_string()) continue;
      take(key->get_ref<const std::string&>(), *value);
    }
  } else if (doc.is_object()) {
    for (auto it = doc.begin(); it != doc.end(); ++it) take(it.key(), *it);
  }
  if (!found) return std::nullopt;
  return out;
}

}  // namespace

absl::Status ParseCsExportPendingExports(ByteReader& in, absl::string_view name,
                                         const CsExportLimits& limits,
                                         v1::PendingExportSnapshot* out) {
  return ParsePending(in, name, limits, out, kChunkSize);
}

absl::Status ParseCsExportErrors(ByteReader& in, absl::string_view name,
                                 const ExportErrorSink& sink) {
  return ParseErrors(in, name, sink, kChunkSize);
}

namespace internal {

absl::Status ParseCsExportPendingExportsChunked(ByteReader& in, absl::string_view name,
                                                const CsExportLimits& limits,
                                                v1::PendingExportSnapshot* out, size_t chunk_size) {
  return ParsePending(in, name, limits, out, chunk_size);
}

absl::Status ParseCsExportErrorsChunked(ByteReader& in, absl::string_view name,
                                        const ExportErrorSink& sink, size_t chunk_size) {
  return ParseErrors(in, name, sink, chunk_size);
}

std::optional<ErrorExtraDetails> ParseErrorExtraDetails(absl::string_view text) {
  using json = nlohmann::json;
  text = absl::StripAsciiWhitespace(text);
  if (text.empty() || (text.front() != '[' && text.front() != '{')) return std::nullopt;
  // The real thing nests 3 deep; refusing deep input keeps nlohmann's
  // recursive parts (destruction) off a long recursion.
  if (JsonDepth(text) > 8) return std::nullopt;
  // Syntax errors come back as a discarded value; the type checks below keep
  // every accessor from throwing. The catch is the boundary that keeps any
  // other nlohmann exception from escaping: the JSON is informational.
  try {
    return ReadErrorExtraDetails(
        json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false));
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace internal

}  // namespace syncwatch::agent
