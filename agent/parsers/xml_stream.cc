#include "agent/parsers/xml_stream.h"

#include <expat.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/parsers/text_input.h"
#include "common/status_macros.h"

namespace syncwatch::agent::internal {
namespace {

// XML_Parse takes an int length; bigger chunks buy nothing anyway.
constexpr size_t kMaxChunkSize = size_t{1} << 30;

}  // namespace

// The expat callbacks; `user` is the XmlStream. Callbacks check error_ first
// because expat may still deliver a few events after XML_StopParser.
struct XmlStreamCallbacks {
  static void XMLCALL OnStart(void* user, const XML_Char* name, const XML_Char** attrs) {
    auto* self = static_cast<XmlStream*>(user);
    if (self->failed()) return;
    self->NoteEvent();
    ++self->depth_;
    self->element_lines_.push_back(self->CurrentLine());
    self->root_seen_ = true;
    if (self->depth_ > self->options_.max_depth) {
      self->Fail(self->element_lines_.back(),
                 absl::StrCat("elements nested deeper than ", self->options_.max_depth));
      return;
    }
    self->start_name_ = name;
    self->handler_.OnStartElement(*self, name, attrs);
    self->start_name_ = nullptr;
  }

  static void XMLCALL OnEnd(void* user, const XML_Char* name) {
    auto* self = static_cast<XmlStream*>(user);
    if (self->failed()) return;
    self->NoteEvent();
    absl::string_view text;
    const bool collected = self->collect_depth_ != 0 && self->collect_depth_ == self->depth_;
    if (collected) text = absl::StripAsciiWhitespace(self->text_);
    self->handler_.OnEndElement(*self, name, text);
    if (collected) {
      self->collect_depth_ = 0;
      self->text_.clear();
    }
    --self->depth_;
    self->element_lines_.pop_back();
  }

  static void XMLCALL OnText(void* user, const XML_Char* s, int len) {
    auto* self = static_cast<XmlStream*>(user);
    if (self->failed()) return;
    self->NoteEvent();
    // Only the collected element's own text is kept; everything else (most
    // of a csexport file: values nobody asked for) passes through unbuffered.
    if (self->collect_depth_ == 0 || self->collect_depth_ != self->depth_) return;
    if (self->text_.size() + static_cast<size_t>(len) > self->options_.max_text_bytes) {
      self->Fail(self->element_lines_.back(),
                 absl::StrCat("text of <", self->collect_name_, "> larger than ",
                              self->options_.max_text_bytes, " bytes"));
      return;
    }
    self->text_.append(s, static_cast<size_t>(len));
  }

  static void XMLCALL OnOther(void* user, const XML_Char* /*s*/, int /*len*/) {
    auto* self = static_cast<XmlStream*>(user);
    if (self->failed()) return;
    self->NoteEvent();
  }

  static void XMLCALL OnDoctype(void* user, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
                                const XML_Char* /*pubid*/, int /*has_internal_subset*/) {
    auto* self = static_cast<XmlStream*>(user);
    self->Fail(self->CurrentLine(), "DOCTYPE/entities not allowed");
  }

  static void XMLCALL OnEntityDecl(void* user, const XML_Char* /*name*/,
                                   int /*is_parameter_entity*/, const XML_Char* /*value*/,
                                   int /*value_length*/, const XML_Char* /*base*/,
                                   const XML_Char* /*system_id*/, const XML_Char* /*public_id*/,
                                   const XML_Char* /*notation_name*/) {
    // Unreachable while OnDoctype refuses every DTD; kept as a second lock.
    auto* self = static_cast<XmlStream*>(user);
    self->Fail(self->CurrentLine(), "DOCTYPE/entities not allowed");
  }
};

void XmlStream::ParserDeleter::operator()(XML_ParserStruct* p) const { XML_ParserFree(p); }

XmlStream::XmlStream(absl::string_view name, XmlStreamHandler& handler, XmlStreamOptions options)
    : name_(name), handler_(handler), options_(options) {}

XmlStream::~XmlStream() = default;

void XmlStream::CollectText() {
  collect_depth_ = depth_;
  collect_name_ = start_name_ != nullptr ? start_name_ : "";
  text_.clear();
}

int64_t XmlStream::element_line() const {
  return element_lines_.empty() ? CurrentLine() : element_lines_.back();
}

void XmlStream::Fail(int64_t line, absl::string_view problem) {
  FailWith(absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": ", problem)));
}

void XmlStream::FailWith(absl::Status status) {
  if (!error_.ok()) return;
  error_ = std::move(status);
  if (parser_ != nullptr) XML_StopParser(parser_.get(), XML_FALSE);
}

int64_t XmlStream::CurrentLine() const {
  if (parser_ == nullptr) return 1;
  return static_cast<int64_t>(XML_GetCurrentLineNumber(parser_.get()));
}

void XmlStream::NoteEvent() {
  const int64_t end = static_cast<int64_t>(XML_GetCurrentByteIndex(parser_.get())) +
                      XML_GetCurrentByteCount(parser_.get());
  processed_bytes_ = std::max(processed_bytes_, end);
}

absl::Status XmlStream::Parse(ByteReader& in) {
  const size_t chunk_size = std::clamp<size_t>(options_.chunk_size, 1, kMaxChunkSize);
  // The first chunk is at least 4 bytes so that it shows any byte-order mark.
  std::string chunk(std::max<size_t>(chunk_size, 4), '\0');
  // Fills `chunk` as far as the reader allows, so that every chunk but the
  // last is full (a pipe hands out less than asked).
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
  const absl::string_view first(chunk.data(), n);
  if (first.empty()) return absl::InvalidArgumentError(absl::StrCat(name_, ":1: empty input"));

  // The engine's XML may declare encoding="utf-16" and yet be UTF-8 on disk,
  // so the declaration cannot be trusted: the bytes decide. Naming the
  // encoding makes expat ignore the declaration (and still skip a BOM).
  // UTF-16 without a BOM still starts with '<' next to a zero byte.
  const TextEncoding encoding = DetectTextEncoding(first, '<');
  parser_.reset(XML_ParserCreate(TextEncodingName(encoding)));
  if (parser_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(name_, ": cannot create an XML parser"));
  }
  XML_Parser p = parser_.get();
  XML_SetUserData(p, this);
  XML_SetElementHandler(p, &XmlStreamCallbacks::OnStart, &XmlStreamCallbacks::OnEnd);
  XML_SetCharacterDataHandler(p, &XmlStreamCallbacks::OnText);
  // Sees everything else (declaration, comments, white space outside the
  // root); only used to track how far expat has got.
  XML_SetDefaultHandlerExpand(p, &XmlStreamCallbacks::OnOther);
  // The engine's files never have a DTD; refusing any DOCTYPE rules out
  // entity expansion bombs and external entities before expat looks at them.
  XML_SetStartDoctypeDeclHandler(p, &XmlStreamCallbacks::OnDoctype);
  XML_SetEntityDeclHandler(p, &XmlStreamCallbacks::OnEntityDecl);
  XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);

  // Validated here, not by expat: expat's own checks differ between releases
  // (some merge a lone UTF-16 surrogate with the next character).
  TextValidator validator(encoding);
  while (true) {
    const absl::string_view data(chunk.data(), n);
    if (std::optional<TextValidator::Error> bad = validator.Check(data, eof)) {
      // Parse up to the bad character first, so that an earlier XML error
      // wins whatever the chunk size.
      SYNCWATCH_RETURN_IF_ERROR(Feed(data.substr(0, bad->valid_bytes), /*final=*/false));
      return absl::InvalidArgumentError(absl::StrCat(name_, ":", bad->line, ": ", bad->problem));
    }
    SYNCWATCH_RETURN_IF_ERROR(Feed(data, eof));
    if (eof) break;
    chunk.resize(chunk_size);
    SYNCWATCH_ASSIGN_OR_RETURN(n, read_chunk(&eof));
  }
  return absl::OkStatus();
}

absl::Status XmlStream::Feed(absl::string_view data, bool final) {
  fed_bytes_ += static_cast<int64_t>(data.size());
  const XML_Status st =
      XML_Parse(parser_.get(), data.data(), static_cast<int>(data.size()), final ? 1 : 0);
  if (!error_.ok()) return error_;
  if (st != XML_STATUS_OK) return ExpatError(final);
  // What expat holds without having reported it grows only with one huge
  // tag, attribute value, comment or processing instruction. expat defers
  // re-parsing a partial token until its buffer has doubled (the
  // CVE-2023-52425 fix), hence twice the text limit plus a chunk.
  const int64_t max_pending = 2 * static_cast<int64_t>(options_.max_text_bytes) +
                              static_cast<int64_t>(std::min(options_.chunk_size, kMaxChunkSize));
  if (fed_bytes_ - processed_bytes_ > max_pending) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ":", CurrentLine(), ": a tag, attribute value or comment larger than ",
                     options_.max_text_bytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status XmlStream::ExpatError(bool final) {
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

}  // namespace syncwatch::agent::internal
