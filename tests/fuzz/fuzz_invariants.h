// Checks shared by the parser fuzzers (test-only).
#ifndef SYNCWATCH_TESTS_FUZZ_FUZZ_INVARIANTS_H_
#define SYNCWATCH_TESTS_FUZZ_FUZZ_INVARIANTS_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/parsers/text_input.h"
#include "common/text_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace syncwatch::fuzz {

// A broken promise of a parser: report it and crash, so libFuzzer keeps the input.
[[noreturn]] inline void Violated(const char* what, absl::string_view detail) {
  std::fprintf(stderr, "invariant violated: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Proto3 string fields must hold UTF-8, or the message fails to parse at the
// collector; every parser must only ever produce valid UTF-8. Returns the
// first offending field's name, or "" when all are fine.
inline std::string FirstInvalidUtf8Field(const google::protobuf::Message& m) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING &&
        f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) {
          if (!IsValidUtf8(r->GetRepeatedString(m, f, k))) return f->full_name();
        }
      } else if (!IsValidUtf8(r->GetString(m, f))) {
        return f->full_name();
      }
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) {
          std::string bad = FirstInvalidUtf8Field(r->GetRepeatedMessage(m, f, k));
          if (!bad.empty()) return bad;
        }
      } else if (r->HasField(m, f)) {
        std::string bad = FirstInvalidUtf8Field(r->GetMessage(m, f));
        if (!bad.empty()) return bad;
      }
    }
  }
  return "";
}

inline void CheckUtf8(const google::protobuf::Message& m) {
  const std::string bad = FirstInvalidUtf8Field(m);
  if (!bad.empty()) Violated("invalid UTF-8 in a string field", bad);
}

// A parser that accepted `input` read all of it as text that is valid in the
// encoding its bytes show (`utf16_lead` as for DetectTextEncoding: '<' for
// XML, '\0' for JSON). syncwatch checks that itself, so that no release of
// expat or nlohmann-json can let a lone surrogate or bad UTF-8 through.
inline void CheckAcceptedEncoding(absl::string_view input, char utf16_lead) {
  agent::TextValidator validator(agent::DetectTextEncoding(input, utf16_lead));
  if (std::optional<agent::TextValidator::Error> e = validator.Check(input, /*final=*/true)) {
    Violated("accepted input that is not valid text", e->problem);
  }
}

}  // namespace syncwatch::fuzz

#endif  // SYNCWATCH_TESTS_FUZZ_FUZZ_INVARIANTS_H_
