// Helpers shared by the parser tests (test-only; not part of the library).
#ifndef SYNCWATCH_AGENT_PARSERS_PARSER_TEST_UTIL_H_
#define SYNCWATCH_AGENT_PARSERS_PARSER_TEST_UTIL_H_

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/run_history.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::agent::testing {

// Directory of the real samples, same layout as shared/samples/aadconnect.
inline std::string SamplePath(absl::string_view relative) {
  return absl::StrCat(SYNCWATCH_SAMPLES_DIR, "/", relative);
}

inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

// What a parser produced: its status and every run handed to the sink.
struct Parsed {
  absl::Status status;
  std::vector<v1::RunProfileResult> runs;
};

using ParseFn = absl::Status (*)(ByteReader&, absl::string_view, const RunSink&);

inline Parsed ParseWith(ParseFn parse, ByteReader& in, absl::string_view name) {
  Parsed out;
  out.status = parse(in, name, [&out](v1::RunProfileResult run) {
    out.runs.push_back(std::move(run));
    return absl::OkStatus();
  });
  return out;
}

inline Parsed ParseXml(absl::string_view text, absl::string_view name = "t.xml") {
  StringByteReader in(text);
  return ParseWith(&ParseRunHistoryXml, in, name);
}

inline Parsed ParseJson(absl::string_view text, absl::string_view name = "t.json") {
  StringByteReader in(text);
  return ParseWith(&ParseRunHistoryJson, in, name);
}

inline std::string Iso(const google::protobuf::Timestamp& ts) {
  return FormatIso8601(FromProtoTimestamp(ts));
}

// UTF-16 of UTF-8 text (BMP only, enough for fixtures), with a BOM.
inline std::string ToUtf16(absl::string_view utf8, bool little_endian) {
  std::string out = little_endian ? std::string("\xFF\xFE") : std::string("\xFE\xFF");
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    unsigned cp = c;
    size_t len = 1;
    if (c >= 0xE0) {
      cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(utf8[i + 2]) & 0x3Fu);
      len = 3;
    } else if (c >= 0xC0) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu);
      len = 2;
    }
    const char lo = static_cast<char>(cp & 0xFFu);
    const char hi = static_cast<char>(cp >> 8);
    if (little_endian) {
      out.push_back(lo);
      out.push_back(hi);
    } else {
      out.push_back(hi);
      out.push_back(lo);
    }
    i += len;
  }
  return out;
}

// Hands out at most `max_read` bytes per Read, as a pipe would.
class TricklingByteReader final : public ByteReader {
 public:
  TricklingByteReader(absl::string_view data, size_t max_read) : data_(data), max_(max_read) {}
  absl::StatusOr<size_t> Read(char* buf, size_t capacity) override {
    const size_t n = std::min({capacity, max_, data_.size()});
    std::copy(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(n), buf);
    data_.remove_prefix(n);
    return n;
  }

 private:
  absl::string_view data_;
  size_t max_;
};

// Fails every read.
class FailingByteReader final : public ByteReader {
 public:
  absl::StatusOr<size_t> Read(char* /*buf*/, size_t /*capacity*/) override {
    return absl::UnavailableError("disk on fire");
  }
};

MATCHER_P2(StatusIs, code, substring, "") {
  if (arg.code() == code &&
      absl::string_view(arg.message()).find(substring) != absl::string_view::npos) {
    return true;
  }
  *result_listener << "status is " << arg;
  return false;
}

}  // namespace syncwatch::agent::testing

#endif  // SYNCWATCH_AGENT_PARSERS_PARSER_TEST_UTIL_H_
