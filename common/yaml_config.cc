#include "common/yaml_config.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace syncwatch {

absl::StatusOr<YamlFile> YamlFile::Load(const std::string& path) {
  // The error names the path and the OS's reason (missing, no access, in use).
  SYNCWATCH_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {  // yaml-cpp reports errors only by throwing
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ": ", e.msg.empty() ? e.what() : e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":1: the config must be a YAML mapping"));
  }
  return YamlFile(path, std::move(root));
}

absl::Status YamlFile::Error(const YAML::Node& node, absl::string_view message) const {
  const int line = node.Mark().is_null() ? 1 : node.Mark().line + 1;
  return absl::InvalidArgumentError(absl::StrCat(path_, ":", line, ": ", message));
}

absl::Status YamlFile::CheckKeys(const YAML::Node& node,
                                 std::initializer_list<absl::string_view> known,
                                 absl::string_view where) const {
  if (!node.IsMap()) return Error(node, absl::StrCat(where, " must be a mapping"));
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    bool found = false;
    for (absl::string_view k : known) found = found || k == key;
    if (!found) {
      return Error(kv.first, absl::StrCat("unknown key '", key, "' in ", where,
                                          " (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> YamlFile::String(const YAML::Node& node, absl::string_view key) const {
  if (!node.IsScalar()) return Error(node, absl::StrCat("'", key, "' must be a string"));
  return node.Scalar();
}

absl::StatusOr<bool> YamlFile::Bool(const YAML::Node& node, absl::string_view key) const {
  if (node.IsScalar()) {
    const std::string v = absl::AsciiStrToLower(node.Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  return Error(node, absl::StrCat("'", key, "' must be true or false"));
}

absl::StatusOr<int64_t> YamlFile::Int(const YAML::Node& node, absl::string_view key, int64_t min,
                                      int64_t max) const {
  int64_t v = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &v)) {
    return Error(node, absl::StrCat("'", key, "' must be a whole number"));
  }
  if (v < min || v > max) {
    return Error(node,
                 absl::StrCat("'", key, "' must be between ", min, " and ", max, " (got ", v, ")"));
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> YamlFile::StringList(const YAML::Node& node,
                                                              absl::string_view key) const {
  if (!node.IsSequence()) return Error(node, absl::StrCat("'", key, "' must be a list"));
  std::vector<std::string> out;
  for (const auto& item : node) {
    if (!item.IsScalar()) return Error(item, absl::StrCat("items of '", key, "' must be strings"));
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace syncwatch
