#include "agent/parsers/conflict.h"

#include "absl/strings/ascii.h"

namespace syncwatch::agent {
namespace {

// Attribute names are schema names: letters, digits, '-' and '_'.
bool IsAttributeNameChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

// Parses the inside of one "[...]" group; nullopt when it is not
// "<Attribute> <value>;[<value>;]*".
std::optional<Conflict> ParseGroup(absl::string_view inner) {
  size_t name_end = 0;
  while (name_end < inner.size() && IsAttributeNameChar(inner[name_end])) ++name_end;
  if (name_end == 0 || name_end >= inner.size() || inner[name_end] != ' ') return std::nullopt;
  // The engine always closes the group with ";]"; requiring it keeps us from
  // reading ordinary bracketed text ("[Int32 idx]") as a conflict.
  if (inner.back() != ';') return std::nullopt;
  absl::string_view values = inner.substr(name_end + 1);
  absl::string_view first = values.substr(0, values.find(';'));
  first = absl::StripAsciiWhitespace(first);
  if (first.empty()) return std::nullopt;
  return Conflict{std::string(inner.substr(0, name_end)), std::string(first)};
}

}  // namespace

std::optional<Conflict> ParseConflictFromLiteral(absl::string_view literal) {
  size_t pos = 0;
  while ((pos = literal.find('[', pos)) != absl::string_view::npos) {
    const size_t close = literal.find(']', pos + 1);
    if (close == absl::string_view::npos) return std::nullopt;
    absl::string_view inner = literal.substr(pos + 1, close - pos - 1);
    // A nested '[' means this bracket was not the group's opening one.
    const size_t nested = inner.rfind('[');
    if (nested != absl::string_view::npos) {
      pos += nested + 1;
      continue;
    }
    if (std::optional<Conflict> c = ParseGroup(inner)) return c;
    pos = close + 1;
  }
  return std::nullopt;
}

}  // namespace syncwatch::agent
