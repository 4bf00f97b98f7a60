// Helpers for strict YAML configs: every error names the file and line, and
// unknown keys are errors (a typo must not silently fall back to a default).
#ifndef SYNCWATCH_COMMON_YAML_CONFIG_H_
#define SYNCWATCH_COMMON_YAML_CONFIG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace syncwatch {

class YamlFile {
 public:
  // Parses `path`; InvalidArgument "PATH:LINE: …" on a syntax error, NotFound
  // when the file cannot be read. The top level must be a mapping.
  static absl::StatusOr<YamlFile> Load(const std::string& path);

  const YAML::Node& root() const { return root_; }
  const std::string& path() const { return path_; }

  // "PATH:LINE: message" for `node`.
  absl::Status Error(const YAML::Node& node, absl::string_view message) const;

  // Error for the first key of mapping `node` not in `known`.
  absl::Status CheckKeys(const YAML::Node& node, std::initializer_list<absl::string_view> known,
                         absl::string_view where) const;

  absl::StatusOr<std::string> String(const YAML::Node& node, absl::string_view key) const;
  absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view key) const;
  absl::StatusOr<int64_t> Int(const YAML::Node& node, absl::string_view key, int64_t min,
                              int64_t max) const;
  absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& node,
                                                      absl::string_view key) const;

 private:
  YamlFile(std::string path, YAML::Node root) : path_(std::move(path)), root_(std::move(root)) {}
  std::string path_;
  YAML::Node root_;
};

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_YAML_CONFIG_H_
