// A streaming XML reader over expat for the parsers of what the sync engine
// writes (csexport XML): it owns the parts every such parser needs and gets
// wrong when each writes its own —
//  - the encoding comes from the bytes, not from the declaration (the engine
//    declares utf-16 on UTF-8 text): a UTF-16LE/BE BOM (or '<' next to a
//    zero byte) means UTF-16, anything else must be valid UTF-8; either is
//    validated by TextValidator (text_input.h) before expat sees it, so
//    that no expat release decides what is valid;
//  - any DOCTYPE is refused before expat looks at it (no entity bombs, no
//    external entities);
//  - bounded memory: nesting depth, the text collected for one element, and
//    the input expat holds back unreported (one huge tag or attribute value,
//    or CVE-2023-52425's deferred re-parse) are all capped;
//  - errors are InvalidArgument("<name>:<line>: <problem>").
// Internal to agent/parsers; the handlers hold the format knowledge.
#ifndef SYNCWATCH_AGENT_PARSERS_XML_STREAM_H_
#define SYNCWATCH_AGENT_PARSERS_XML_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"

struct XML_ParserStruct;

namespace syncwatch::agent::internal {

class XmlStream;

// Receives the elements of the document, in order. Callbacks run inside
// XmlStream::Parse. To stop with an error, call XmlStream::Fail.
class XmlStreamHandler {
 public:
  virtual ~XmlStreamHandler() = default;
  // A start tag. `attrs` is expat's array: name, value, name, value, ...,
  // nullptr. Call xml.CollectText() here to receive the element's text.
  virtual void OnStartElement(XmlStream& xml, absl::string_view name, const char** attrs) = 0;
  // The matching end tag. `text` is the element's own text (not that of its
  // children), trimmed of ASCII white space at both ends, when CollectText()
  // was called for it; empty otherwise.
  virtual void OnEndElement(XmlStream& xml, absl::string_view name, absl::string_view text) = 0;
};

struct XmlStreamOptions {
  // Bytes read from the ByteReader (and fed to expat) at a time; at least 1.
  // Tests use tiny chunks to put chunk boundaries everywhere.
  size_t chunk_size = 64 * 1024;
  // Deepest element nesting accepted.
  size_t max_depth = 64;
  // Largest collected text of one element; also bounds one tag (with its
  // attributes), comment or processing instruction.
  size_t max_text_bytes = 1 << 20;
};

// Reads one XML document from a ByteReader. Not thread-safe; one Parse per
// object.
class XmlStream {
 public:
  // `handler` must outlive this object.
  XmlStream(absl::string_view name, XmlStreamHandler& handler, XmlStreamOptions options = {});
  ~XmlStream();
  XmlStream(const XmlStream&) = delete;
  XmlStream& operator=(const XmlStream&) = delete;

  // Reads `in` to its end. OK when the document is well-formed and the
  // handler did not fail; InvalidArgument("<name>:<line>: <problem>") for bad
  // input (including a truncated document and junk after the root); errors
  // of `in`, and statuses given to FailWith, are returned unchanged.
  absl::Status Parse(ByteReader& in);

  // ---- for the handler, from inside its callbacks -------------------------

  // Collects the text of the element whose start tag is being reported.
  void CollectText();
  // Open elements, the current one included (1 for the root).
  size_t depth() const { return depth_; }
  // Line of the start tag of the element being reported (start or end).
  int64_t element_line() const;
  // Stops parsing; Parse returns InvalidArgument("<name>:<line>: <problem>").
  // Only the first failure counts.
  void Fail(int64_t line, absl::string_view problem);
  // Stops parsing; Parse returns `status` unchanged (e.g. a sink's error).
  void FailWith(absl::Status status);
  bool failed() const { return !error_.ok(); }
  const std::string& name() const { return name_; }

 private:
  struct ParserDeleter {
    void operator()(XML_ParserStruct* p) const;
  };

  // The expat callbacks (defined in the .cc, where XMLCALL is known).
  friend struct XmlStreamCallbacks;

  absl::Status Feed(absl::string_view data, bool final);
  absl::Status ExpatError(bool final);
  int64_t CurrentLine() const;
  // Remembers where the current event ends: expat has used the input up to there.
  void NoteEvent();

  const std::string name_;
  XmlStreamHandler& handler_;
  const XmlStreamOptions options_;
  std::unique_ptr<XML_ParserStruct, ParserDeleter> parser_;
  absl::Status error_;

  size_t depth_ = 0;
  bool root_seen_ = false;
  // Lines of the open elements' start tags (depth_ entries).
  std::vector<int64_t> element_lines_;
  // Name of the element whose start tag is being reported (else nullptr).
  const char* start_name_ = nullptr;
  // Text collection: the depth whose text is collected (0: none).
  size_t collect_depth_ = 0;
  std::string collect_name_;
  std::string text_;

  int64_t fed_bytes_ = 0;        // input given to expat so far
  int64_t processed_bytes_ = 0;  // input expat has reported events for
};

}  // namespace syncwatch::agent::internal

#endif  // SYNCWATCH_AGENT_PARSERS_XML_STREAM_H_
