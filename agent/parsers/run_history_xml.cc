// Run-history XML (`MIIS_RunHistory.RunDetails()`, DOMAIN.md §1.5) streamed
// through expat. Each `<run-details>` becomes one v1::RunProfileResult that is
// handed to the sink when its end tag is seen; nothing else is kept.
#include <expat.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
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
#include "absl/strings/strip.h"
#include "agent/parsers/conflict.h"
#include "agent/parsers/engine_time.h"
#include "agent/parsers/run_history.h"
#include "agent/parsers/run_history_internal.h"
#include "agent/parsers/xml_stream.h"
#include "common/status_macros.h"
#include "common/text_util.h"
#include "common/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace syncwatch::agent {
namespace {

using internal::Utf8StreamChecker;

constexpr size_t kChunkSize = 64 * 1024;
// Real run history nests 8 deep; anything far deeper is not run history.
constexpr size_t kMaxDepth = 64;
// The largest text of one element (error literals are a few KiB).
constexpr size_t kMaxValueBytes = 1 << 20;
// Input that expat has been given but not reported on yet. Text is reported
// piecewise, so this grows only with one huge tag, attribute value or comment,
// or with what follows the document element (white space between the
// documents of a concatenated file). expat defers re-parsing a partial token
// until its buffer has doubled (CVE-2023-52425 fix), hence twice the value
// limit.
constexpr size_t kMaxPendingBytes = 2 * kMaxValueBytes + kChunkSize;

struct ExpatParserDeleter {
  void operator()(XML_ParserStruct* p) const { XML_ParserFree(p); }
};
using ExpatParser = std::unique_ptr<XML_ParserStruct, ExpatParserDeleter>;

// A value for an error message: escaped and cut short (values may be 1 MiB).
std::string Quote(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return absl::StrCat("\"", absl::CHexEscape(value), "\"");
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMax)), "\"...");
}

// Counters are plain decimal numbers; SimpleAtoi alone would also take a sign.
bool ParseCount(absl::string_view text, int64_t* out) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) return false;
  return absl::SimpleAtoi(text, out);
}

bool TimestampLess(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds() : a.nanos() < b.nanos();
}

class XmlRunHistoryParser {
 public:
  XmlRunHistoryParser(absl::string_view name, const RunSink& sink, size_t chunk_size)
      : name_(name), sink_(sink), chunk_size_(std::max<size_t>(chunk_size, 1)) {}
  XmlRunHistoryParser(const XmlRunHistoryParser&) = delete;
  XmlRunHistoryParser& operator=(const XmlRunHistoryParser&) = delete;

  absl::Status Parse(ByteReader& in);

 private:
  // expat callbacks; `user` is the parser object.
  static void XMLCALL OnStart(void* user, const XML_Char* name, const XML_Char** attrs);
  static void XMLCALL OnEnd(void* user, const XML_Char* name);
  static void XMLCALL OnText(void* user, const XML_Char* s, int len);
  static void XMLCALL OnOther(void* user, const XML_Char* s, int len);
  static void XMLCALL OnDoctype(void* user, const XML_Char* name, const XML_Char* sysid,
                                const XML_Char* pubid, int has_internal_subset);
  static void XMLCALL OnEntityDecl(void* user, const XML_Char* name, int is_parameter_entity,
                                   const XML_Char* value, int value_length, const XML_Char* base,
                                   const XML_Char* system_id, const XML_Char* public_id,
                                   const XML_Char* notation_name);

  // Starts a new expat parser for a document beginning at byte `abs_offset`
  // of the input, on line `line`.
  absl::Status NewDocument(int64_t abs_offset, int64_t line);
  // Feeds the next `data` of the input to expat, restarting when a further
  // document follows the current one.
  absl::Status Feed(absl::string_view data, bool final);
  absl::Status ExpatError(bool final);

  void StartElement(absl::string_view name, const XML_Char** attrs);
  void EndElement();
  void StartInRun(absl::string_view rel, const XML_Char** attrs);
  void EndInRun(absl::string_view rel, absl::string_view value);
  void EndInStep(absl::string_view rel, absl::string_view value);
  void FinishRun();

  // Value setters; on bad input they record the error and return false.
  bool SetCount(absl::string_view element, absl::string_view value, int64_t* out);
  bool SetTime(absl::string_view element, absl::string_view value,
               google::protobuf::Timestamp* out);
  // Sets the int64 field named like `element` ("stage-add" -> stage_add) of a
  // counters message; elements it does not know are ignored.
  void SetCounter(absl::string_view element, absl::string_view value,
                  google::protobuf::Message* counters);

  int64_t CurrentLine() const {
    return doc_base_line_ + static_cast<int64_t>(XML_GetCurrentLineNumber(parser_.get())) - 1;
  }
  int64_t CurrentEventAbs() const {
    return doc_base_abs_ + static_cast<int64_t>(XML_GetCurrentByteIndex(parser_.get()));
  }
  // Remembers where the current event ends: expat has used the input up to there.
  void NoteEvent() {
    processed_abs_ =
        std::max(processed_abs_, CurrentEventAbs() + XML_GetCurrentByteCount(parser_.get()));
  }
  // Records the first error and stops expat; callbacks check error_ first
  // because expat may still deliver a few events after XML_StopParser.
  void Fail(int64_t line, absl::string_view problem);
  void FailWith(absl::Status status);

  const std::string name_;
  const RunSink& sink_;
  const size_t chunk_size_;
  absl::Status error_;

  ExpatParser parser_;
  const char* encoding_ = "UTF-8";
  int64_t doc_base_abs_ = 0;   // input offset where the current document starts
  int64_t doc_base_line_ = 1;  // input line where the current document starts
  int64_t processed_abs_ = 0;  // input offset up to which expat reported events
  int64_t runs_ = 0;

  // Per document.
  std::vector<std::string> stack_;  // open element names
  std::string path_;                // "/run-history/run-details/step-details/..."
  std::vector<size_t> path_lens_;   // path_ length before each open element
  bool root_seen_ = false;
  bool root_closed_ = false;
  int64_t root_end_abs_ = 0;  // input offset just after the root end tag
  // Input fed to expat from offset pending_abs_ on that may still be needed:
  // everything after the last event (expat may report events late, see
  // kMaxPendingBytes), or after the root element once it has closed, since a
  // further document may start there.
  std::string pending_;
  int64_t pending_abs_ = 0;

  // Text since the last tag, and the line its element started on.
  std::string text_;
  int64_t text_line_ = 0;

  // The run being built (only while inside <run-details>).
  bool in_run_ = false;
  size_t run_prefix_len_ = 0;  // path_ length of ".../run-details/"
  int64_t run_line_ = 0;
  v1::RunProfileResult run_;
  v1::RunStep* step_ = nullptr;
  v1::ConnectionIncident* incident_ = nullptr;
  v1::ExportError* export_error_ = nullptr;
  v1::ImportError* import_error_ = nullptr;
  v1::OutboundFlowCounters* outbound_ = nullptr;
};

void XmlRunHistoryParser::Fail(int64_t line, absl::string_view problem) {
  FailWith(absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": ", problem)));
}

void XmlRunHistoryParser::FailWith(absl::Status status) {
  if (!error_.ok()) return;
  error_ = std::move(status);
  XML_StopParser(parser_.get(), XML_FALSE);
}

absl::Status XmlRunHistoryParser::NewDocument(int64_t abs_offset, int64_t line) {
  parser_.reset(XML_ParserCreate(encoding_));
  if (parser_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(name_, ": cannot create an XML parser"));
  }
  XML_Parser p = parser_.get();
  XML_SetUserData(p, this);
  XML_SetElementHandler(p, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(p, &OnText);
  // Sees everything else (declaration, comments, white space outside the
  // root); we only use it to track how far expat has got.
  XML_SetDefaultHandlerExpand(p, &OnOther);
  // Run history never has a DTD; refusing any DOCTYPE rules out entity
  // expansion bombs and external entities before expat looks at them.
  XML_SetStartDoctypeDeclHandler(p, &OnDoctype);
  XML_SetEntityDeclHandler(p, &OnEntityDecl);
  XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);

  doc_base_abs_ = abs_offset;
  doc_base_line_ = line;
  processed_abs_ = abs_offset;
  stack_.clear();
  path_.clear();
  path_lens_.clear();
  root_seen_ = false;
  root_closed_ = false;
  root_end_abs_ = 0;
  pending_.clear();
  pending_abs_ = abs_offset;
  text_.clear();
  return absl::OkStatus();
}

absl::Status XmlRunHistoryParser::Parse(ByteReader& in) {
  // The first chunk is at least 4 bytes so that it shows any byte-order mark.
  std::string chunk(std::max<size_t>(chunk_size_, 4), '\0');
  // Fills `chunk` as far as the reader allows, so that every chunk but the
  // last is full.
  auto read_chunk = [&](bool* eof) -> absl::StatusOr<size_t> {
    size_t filled = 0;
    *eof = false;
    while (filled < chunk.size()) {
      SYNCWATCH_ASSIGN_OR_RETURN(size_t n, in.Read(&chunk[filled], chunk.size() - filled));
      if (n == 0) {
        *eof = true;
        break;
      }
      filled += n;
    }
    return filled;
  };

  bool eof = false;
  SYNCWATCH_ASSIGN_OR_RETURN(size_t n, read_chunk(&eof));
  absl::string_view first(chunk.data(), n);
  if (first.empty()) return absl::InvalidArgumentError(absl::StrCat(name_, ":1: empty input"));

  // The engine's XML declares encoding="utf-16" but is usually written out
  // as UTF-8, so the declaration cannot be trusted: the bytes decide. Naming
  // the encoding makes expat ignore the declaration (and still skip a BOM),
  // and it also holds for the later documents of a concatenated file, which
  // carry no BOM of their own.
  bool check_utf8 = false;
  switch (DetectBom(first)) {
    case Bom::kUtf16Le:
      encoding_ = "UTF-16LE";
      break;
    case Bom::kUtf16Be:
      encoding_ = "UTF-16BE";
      break;
    case Bom::kUtf8:
    case Bom::kNone:
      // UTF-16 without a BOM still starts with '<' next to a zero byte.
      if (first.size() >= 2 && first[0] == '<' && first[1] == '\0') {
        encoding_ = "UTF-16LE";
      } else if (first.size() >= 2 && first[0] == '\0' && first[1] == '<') {
        encoding_ = "UTF-16BE";
      } else {
        encoding_ = "UTF-8";
        check_utf8 = true;
      }
      break;
  }
  SYNCWATCH_RETURN_IF_ERROR(NewDocument(0, 1));

  // expat does reject most bad UTF-8, but only as "invalid token"; checking
  // ourselves gives a clear message and covers all of it.
  Utf8StreamChecker utf8;
  int64_t abs = 0;    // input offset of chunk[0]
  int64_t lines = 0;  // newlines before chunk[0]
  while (true) {
    absl::string_view data(chunk.data(), n);
    if (check_utf8) {
      if (std::optional<int64_t> bad = utf8.Check(data, eof)) {
        // Parse up to the bad byte first, so that an earlier XML error wins
        // and the runs before it are handed over whatever the chunk size.
        const absl::string_view before =
            data.substr(0, static_cast<size_t>(std::max<int64_t>(*bad, 0)));
        SYNCWATCH_RETURN_IF_ERROR(Feed(before, /*final=*/false));
        const int64_t line = 1 + lines + std::count(before.begin(), before.end(), '\n');
        return absl::InvalidArgumentError(
            absl::StrCat(name_, ":", line, ": invalid UTF-8 at byte ", abs + *bad));
      }
    }
    SYNCWATCH_RETURN_IF_ERROR(Feed(data, eof));
    if (eof) break;
    abs += static_cast<int64_t>(n);
    lines += std::count(data.begin(), data.end(), '\n');
    chunk.resize(chunk_size_);
    SYNCWATCH_ASSIGN_OR_RETURN(n, read_chunk(&eof));
  }
  if (runs_ == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ":", CurrentLine(), ": no <run-details> found"));
  }
  return absl::OkStatus();
}

absl::Status XmlRunHistoryParser::Feed(absl::string_view data, bool final) {
  std::string restart;  // the rest of the input when a further document starts
  while (true) {
    pending_.append(data.data(), data.size());
    const XML_Status st =
        XML_Parse(parser_.get(), data.data(), static_cast<int>(data.size()), final ? 1 : 0);
    if (!error_.ok()) return error_;
    const bool junk =
        st != XML_STATUS_OK && XML_GetErrorCode(parser_.get()) == XML_ERROR_JUNK_AFTER_DOC_ELEMENT;
    if (st != XML_STATUS_OK && !junk) return ExpatError(final);
    if (!junk) break;

    // PowerShell writes an array of RunDetails() strings one after another,
    // each with its own declaration. expat stops at the second one ("junk
    // after document element"); continue there with a fresh parser.
    const int64_t next_abs = CurrentEventAbs();
    const int64_t next_line = CurrentLine();
    if (next_abs < pending_abs_ ||
        next_abs - pending_abs_ > static_cast<int64_t>(pending_.size())) {
      return absl::InternalError(
          absl::StrCat(name_, ":", next_line, ": lost track of the next document's start"));
    }
    restart = pending_.substr(static_cast<size_t>(next_abs - pending_abs_));
    SYNCWATCH_RETURN_IF_ERROR(NewDocument(next_abs, next_line));
    data = restart;
  }

  // Forget what expat is done with.
  const int64_t keep_from = root_closed_ ? root_end_abs_ : processed_abs_;
  if (keep_from > pending_abs_) {
    const size_t drop = std::min(pending_.size(), static_cast<size_t>(keep_from - pending_abs_));
    pending_.erase(0, drop);
    pending_abs_ += static_cast<int64_t>(drop);
  }
  if (pending_.size() > kMaxPendingBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ":", CurrentLine(), ": ",
                     root_closed_ ? "more than 1 MiB of data after the document element"
                                  : "a tag, attribute value or comment larger than 1 MiB"));
  }
  return absl::OkStatus();
}

absl::Status XmlRunHistoryParser::ExpatError(bool final) {
  const XML_Error code = XML_GetErrorCode(parser_.get());
  const char* what = XML_ErrorString(code);
  std::string problem;
  if (final && (code == XML_ERROR_NO_ELEMENTS || code == XML_ERROR_UNCLOSED_TOKEN ||
                code == XML_ERROR_PARTIAL_CHAR || code == XML_ERROR_UNCLOSED_CDATA_SECTION)) {
    problem = root_seen_ ? absl::StrCat("truncated XML (", what, ")")
                         : absl::StrCat("no root element (", what, ")");
  } else {
    problem = absl::StrCat("malformed XML: ", what);
  }
  return absl::InvalidArgumentError(absl::StrCat(name_, ":", CurrentLine(), ": ", problem));
}

// ---- expat callbacks ------------------------------------------------------

void XMLCALL XmlRunHistoryParser::OnStart(void* user, const XML_Char* name,
                                          const XML_Char** attrs) {
  auto* self = static_cast<XmlRunHistoryParser*>(user);
  if (!self->error_.ok()) return;
  self->NoteEvent();
  self->StartElement(name, attrs);
}

void XMLCALL XmlRunHistoryParser::OnEnd(void* user, const XML_Char* /*name*/) {
  auto* self = static_cast<XmlRunHistoryParser*>(user);
  if (!self->error_.ok()) return;
  self->NoteEvent();
  self->EndElement();
}

void XMLCALL XmlRunHistoryParser::OnText(void* user, const XML_Char* s, int len) {
  auto* self = static_cast<XmlRunHistoryParser*>(user);
  if (!self->error_.ok()) return;
  self->NoteEvent();
  if (self->text_.size() + static_cast<size_t>(len) > kMaxValueBytes) {
    const std::string element = self->stack_.empty() ? "" : self->stack_.back();
    self->Fail(self->text_line_, absl::StrCat("text of <", element, "> larger than 1 MiB"));
    return;
  }
  self->text_.append(s, static_cast<size_t>(len));
}

void XMLCALL XmlRunHistoryParser::OnOther(void* user, const XML_Char* /*s*/, int /*len*/) {
  auto* self = static_cast<XmlRunHistoryParser*>(user);
  if (!self->error_.ok()) return;
  self->NoteEvent();
}

void XMLCALL XmlRunHistoryParser::OnDoctype(void* user, const XML_Char* /*name*/,
                                            const XML_Char* /*sysid*/, const XML_Char* /*pubid*/,
                                            int /*has_internal_subset*/) {
  auto* self = static_cast<XmlRunHistoryParser*>(user);
  self->Fail(self->CurrentLine(), "DOCTYPE/entities not allowed");
}

void XMLCALL XmlRunHistoryParser::OnEntityDecl(
    void* user, const XML_Char* /*name*/, int /*is_parameter_entity*/, const XML_Char* /*value*/,
    int /*value_length*/, const XML_Char* /*base*/, const XML_Char* /*system_id*/,
    const XML_Char* /*public_id*/, const XML_Char* /*notation_name*/) {
  // Unreachable while OnDoctype refuses every DTD; kept as a second lock.
  auto* self = static_cast<XmlRunHistoryParser*>(user);
  self->Fail(self->CurrentLine(), "DOCTYPE/entities not allowed");
}

// ---- element handling -----------------------------------------------------

void XmlRunHistoryParser::StartElement(absl::string_view name, const XML_Char** attrs) {
  path_lens_.push_back(path_.size());
  absl::StrAppend(&path_, "/", name);
  stack_.emplace_back(name);
  text_.clear();
  text_line_ = CurrentLine();
  const size_t depth = stack_.size();
  if (depth > kMaxDepth) {
    Fail(text_line_, absl::StrCat("elements nested deeper than ", kMaxDepth));
    return;
  }
  if (depth == 1) {
    root_seen_ = true;
    if (name != "run-history" && name != "execution-histories") {
      Fail(text_line_, absl::StrCat("root element is <", name,
                                    ">, want <run-history> or <execution-histories>"));
    }
    return;
  }
  if (in_run_) {
    StartInRun(absl::string_view(path_).substr(run_prefix_len_), attrs);
    return;
  }
  // <run-details> counts only as a child of <run-history>, so that an element
  // of that name elsewhere (inside custom-data, say) is just unknown.
  if (name == "run-details" && stack_[depth - 2] == "run-history") {
    in_run_ = true;
    run_prefix_len_ = path_.size() + 1;
    run_line_ = text_line_;
    run_.Clear();
  }
}

void XmlRunHistoryParser::EndElement() {
  const std::string value(absl::StripAsciiWhitespace(text_));
  text_.clear();
  if (in_run_) {
    if (path_.size() + 1 == run_prefix_len_) {
      FinishRun();
    } else {
      EndInRun(absl::string_view(path_).substr(run_prefix_len_), value);
    }
  }
  path_.resize(path_lens_.back());
  path_lens_.pop_back();
  stack_.pop_back();
  if (stack_.empty()) {
    root_closed_ = true;
    root_end_abs_ = CurrentEventAbs() + XML_GetCurrentByteCount(parser_.get());
  }
}

void XmlRunHistoryParser::StartInRun(absl::string_view rel, const XML_Char** attrs) {
  if (rel == "step-details") {
    step_ = run_.add_steps();
    bool has_number = false;
    for (size_t i = 0; attrs[i] != nullptr; i += 2) {
      const absl::string_view attr = attrs[i];
      const absl::string_view val = absl::StripAsciiWhitespace(attrs[i + 1]);
      if (attr == "step-number" || attr == "number") {  // MS's example says "number"
        int64_t number = 0;
        if (!ParseCount(val, &number) || number > std::numeric_limits<int32_t>::max()) {
          Fail(text_line_, absl::StrCat("<step-details> ", attr, " is not a number: ", Quote(val)));
          return;
        }
        step_->set_step_number(static_cast<int32_t>(number));
        has_number = true;
      } else if (attr == "step-id") {
        step_->set_step_id(NormalizeGuid(val));
      }
    }
    if (!has_number) Fail(text_line_, "<step-details> has no step-number attribute");
    return;
  }
  if (step_ == nullptr) return;
  if (rel == "step-details/step-description/step-type") {
    for (size_t i = 0; attrs[i] != nullptr; i += 2) {
      if (absl::string_view(attrs[i]) == "type") step_->set_step_type(attrs[i + 1]);
    }
  } else if (rel == "step-details/ma-connection/connection-log/incident") {
    incident_ = step_->add_connection_incidents();
  } else if (rel == "step-details/outbound-flow-counters") {
    // One per target connector: <outbound-flow-counters ma="…" ma-id="{GUID}">.
    outbound_ = step_->add_outbound_flow_counters();
    for (size_t i = 0; attrs[i] != nullptr; i += 2) {
      const absl::string_view attr = attrs[i];
      if (attr == "ma") outbound_->set_connector(attrs[i + 1]);
      if (attr == "ma-id") outbound_->set_connector_id(NormalizeGuid(attrs[i + 1]));
    }
  } else if (rel == "step-details/synchronization-errors/export-error" ||
             rel == "step-details/synchronization-errors/import-error") {
    std::string cs_guid;
    std::string dn;
    for (size_t i = 0; attrs[i] != nullptr; i += 2) {
      const absl::string_view attr = attrs[i];
      if (attr == "cs-guid") cs_guid = NormalizeGuid(attrs[i + 1]);
      if (attr == "dn") dn = attrs[i + 1];
    }
    if (absl::EndsWith(rel, "export-error")) {
      export_error_ = step_->add_export_errors();
      export_error_->set_cs_guid(std::move(cs_guid));
      export_error_->set_dn(std::move(dn));
    } else {
      import_error_ = step_->add_import_errors();
      import_error_->set_cs_guid(std::move(cs_guid));
      import_error_->set_dn(std::move(dn));
    }
  }
}

void XmlRunHistoryParser::EndInRun(absl::string_view rel, absl::string_view value) {
  if (rel == "ma-id") {
    run_.set_connector_id(NormalizeGuid(value));
  } else if (rel == "ma-name") {
    run_.set_connector_name(std::string(value));
  } else if (rel == "run-number") {
    int64_t number = 0;
    if (SetCount("run-number", value, &number)) run_.set_run_number(number);
  } else if (rel == "run-profile-name") {
    run_.set_run_profile_name(std::string(value));
  } else if (rel == "security-id") {
    run_.set_username(std::string(value));
  } else if (rel == "step-details") {
    step_ = nullptr;
    outbound_ = nullptr;
  } else if (step_ != nullptr && absl::ConsumePrefix(&rel, "step-details/")) {
    EndInStep(rel, value);
  }
}

void XmlRunHistoryParser::EndInStep(absl::string_view rel, absl::string_view value) {
  // Dates and counters first, then the error and incident sub-objects.
  if (rel == "start-date") {
    SetTime("start-date", value, step_->mutable_start_time());
  } else if (rel == "end-date") {
    // A running step has no end-date; treat an empty one the same way.
    if (!value.empty()) SetTime("end-date", value, step_->mutable_end_time());
  } else if (rel == "step-result") {
    step_->set_result(std::string(value));
  } else if (rel == "step-description/step-type/import-subtype" ||
             rel == "step-description/step-type/export-subtype" ||
             rel == "step-description/step-type/apply-rules-subtype") {
    step_->add_step_subtypes(std::string(value));
  } else if (rel == "step-description/partition") {
    step_->set_partition(std::string(value));
  } else if (rel == "ma-connection/connection-result") {
    step_->set_connection_result(std::string(value));
  } else if (rel == "ma-connection/server") {
    step_->set_connection_server(std::string(value));
  } else if (rel == "ma-discovery-counters/filtered-objects") {
    int64_t n = 0;
    if (SetCount("filtered-objects", value, &n)) step_->set_filtered_objects(n);
  } else if (rel == "ma-discovery-counters/filtered-deletions") {
    int64_t n = 0;
    if (SetCount("filtered-deletions", value, &n)) step_->set_filtered_deletions(n);
  } else if (absl::ConsumePrefix(&rel, "staging-counters/")) {
    SetCounter(rel, value, step_->mutable_staging_counters());
  } else if (absl::ConsumePrefix(&rel, "inbound-flow-counters/")) {
    SetCounter(rel, value, step_->mutable_inbound_flow_counters());
  } else if (absl::ConsumePrefix(&rel, "export-counters/")) {
    SetCounter(rel, value, step_->mutable_export_counters());
  } else if (rel == "outbound-flow-counters") {
    outbound_ = nullptr;
  } else if (absl::ConsumePrefix(&rel, "outbound-flow-counters/")) {
    if (outbound_ != nullptr) SetCounter(rel, value, outbound_);
  } else if (absl::ConsumePrefix(&rel, "ma-connection/connection-log/incident")) {
    if (incident_ == nullptr) return;
    if (rel.empty()) {
      incident_ = nullptr;
    } else if (rel == "/connection-result") {
      incident_->set_connection_result(std::string(value));
    } else if (rel == "/date") {
      if (!value.empty()) SetTime("date", value, incident_->mutable_date());
    } else if (rel == "/server") {
      incident_->set_server(std::string(value));
    } else if (rel == "/cd-error/error-code") {
      incident_->mutable_cd_error()->set_error_code(std::string(value));
    } else if (rel == "/cd-error/error-literal") {
      incident_->mutable_cd_error()->set_error_literal(std::string(value));
    } else if (rel == "/cd-error/server-error-detail") {
      incident_->mutable_cd_error()->set_server_error_detail(std::string(value));
    }
  } else if (absl::ConsumePrefix(&rel, "synchronization-errors/export-error")) {
    v1::ExportError* e = export_error_;
    if (e == nullptr) return;
    if (rel.empty()) {
      if (std::optional<Conflict> c = ParseConflictFromLiteral(e->cd_error().error_literal())) {
        e->set_conflict_attribute(std::move(c->attribute));
        e->set_conflict_value(std::move(c->value));
      }
      export_error_ = nullptr;
    } else if (rel == "/date-occurred") {
      if (!value.empty()) SetTime("date-occurred", value, e->mutable_date_occurred());
    } else if (rel == "/first-occurred") {
      if (!value.empty()) SetTime("first-occurred", value, e->mutable_first_occurred());
    } else if (rel == "/retry-count") {
      int64_t n = 0;
      if (SetCount("retry-count", value, &n)) e->set_retry_count(n);
    } else if (rel == "/error-type") {
      e->set_error_type(std::string(value));
    } else if (rel == "/cd-error/error-code") {
      e->mutable_cd_error()->set_error_code(std::string(value));
    } else if (rel == "/cd-error/error-literal") {
      e->mutable_cd_error()->set_error_literal(std::string(value));
    } else if (rel == "/cd-error/server-error-detail") {
      e->mutable_cd_error()->set_server_error_detail(std::string(value));
    }
  } else if (absl::ConsumePrefix(&rel, "synchronization-errors/import-error")) {
    v1::ImportError* e = import_error_;
    if (e == nullptr) return;
    if (rel.empty()) {
      import_error_ = nullptr;
    } else if (rel == "/error-type") {
      e->set_error_type(std::string(value));
    } else if (rel == "/algorithm-step") {
      e->set_algorithm_step(std::string(value));
    } else if (rel == "/first-occurred") {
      if (!value.empty()) SetTime("first-occurred", value, e->mutable_first_occurred());
    } else if (rel == "/date-occurred") {
      if (!value.empty()) SetTime("date-occurred", value, e->mutable_date_occurred());
    } else if (rel == "/retry-count") {
      int64_t n = 0;
      if (SetCount("retry-count", value, &n)) e->set_retry_count(n);
    }
  }
}

bool XmlRunHistoryParser::SetCount(absl::string_view element, absl::string_view value,
                                   int64_t* out) {
  if (ParseCount(value, out)) return true;
  Fail(text_line_, absl::StrCat("<", element, "> is not a number: ", Quote(value)));
  return false;
}

bool XmlRunHistoryParser::SetTime(absl::string_view element, absl::string_view value,
                                  google::protobuf::Timestamp* out) {
  std::optional<google::protobuf::Timestamp> t = internal::ParseEngineTimestamp(value);
  if (!t) {
    Fail(text_line_, absl::StrCat("<", element, "> is not a time: ", Quote(value)));
    return false;
  }
  *out = *t;
  return true;
}

void XmlRunHistoryParser::SetCounter(absl::string_view element, absl::string_view value,
                                     google::protobuf::Message* counters) {
  // The counter elements are named exactly like the proto fields with '-'
  // for '_', so reflection maps all of them (and any added to the proto later).
  std::string field_name(element);
  std::replace(field_name.begin(), field_name.end(), '-', '_');
  const google::protobuf::FieldDescriptor* field =
      counters->GetDescriptor()->FindFieldByName(field_name);
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT64) {
    return;  // a counter this version does not know
  }
  int64_t n = 0;
  if (SetCount(element, value, &n)) counters->GetReflection()->SetInt64(counters, field, n);
}

void XmlRunHistoryParser::FinishRun() {
  in_run_ = false;
  step_ = nullptr;
  incident_ = nullptr;
  export_error_ = nullptr;
  import_error_ = nullptr;
  outbound_ = nullptr;
  if (run_.connector_name().empty()) {
    Fail(run_line_, "<run-details> has no <ma-name>");
    return;
  }
  // Files may list step 2 before step 1 (DOMAIN.md §1.5).
  auto* steps = run_.mutable_steps();
  std::stable_sort(steps->pointer_begin(), steps->pointer_end(),
                   [](const v1::RunStep* a, const v1::RunStep* b) {
                     return a->step_number() < b->step_number();
                   });
  run_.set_total_steps(steps->size());
  bool all_ended = !steps->empty();
  bool running = false;
  for (v1::RunStep& step : *steps) {
    if (step.has_start_time() &&
        (!run_.has_start_time() || TimestampLess(step.start_time(), run_.start_time()))) {
      *run_.mutable_start_time() = step.start_time();
    }
    if (!step.has_end_time()) all_ended = false;
    if (step.result() == "in-progress" || absl::StartsWith(step.result(), "completing-")) {
      running = true;
    }
    for (v1::ExportError& e : *step.mutable_export_errors()) {
      e.set_connector_name(run_.connector_name());
      e.set_connector_id(run_.connector_id());
    }
  }
  if (!steps->empty()) {
    // XML has no run-level status: the run stands where its last step stands.
    const v1::RunStep& last = steps->at(steps->size() - 1);
    run_.set_result(last.result());
    run_.set_current_step_number(last.step_number());
  }
  if (all_ended) {
    for (const v1::RunStep& step : *steps) {
      if (!run_.has_end_time() || TimestampLess(run_.end_time(), step.end_time())) {
        *run_.mutable_end_time() = step.end_time();
      }
    }
  }
  run_.set_is_run_complete(all_ended && !running);

  absl::Status s = sink_(std::move(run_));
  run_.Clear();
  if (!s.ok()) {
    FailWith(std::move(s));
    return;
  }
  ++runs_;
}

}  // namespace

absl::Status ParseRunHistoryXml(ByteReader& in, absl::string_view name, const RunSink& sink) {
  XmlRunHistoryParser parser(name, sink, kChunkSize);
  return parser.Parse(in);
}

namespace internal {

absl::Status ParseRunHistoryXmlChunked(ByteReader& in, absl::string_view name, const RunSink& sink,
                                       size_t chunk_size) {
  XmlRunHistoryParser parser(name, sink, chunk_size);
  return parser.Parse(in);
}

}  // namespace internal

}  // namespace syncwatch::agent
