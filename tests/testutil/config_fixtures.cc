#include "tests/testutil/config_fixtures.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace syncwatch::testing {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

std::string Describe(const ConfigEdit& e) {
  return absl::StrCat(e.subdir, " file with \"", e.file_contains, "\": \"", e.from, "\" -> \"",
                      e.to, "\"");
}

absl::Status Apply(const fs::path& dir, const ConfigEdit& edit) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir / edit.subdir, ec)) {
    std::string text = Slurp(entry.path());
    if (!absl::StrContains(text, edit.file_contains)) continue;
    const size_t at = text.find(edit.from);
    if (at == std::string::npos) {
      return absl::FailedPreconditionError(absl::StrCat("edit ", Describe(edit), ": '", edit.from,
                                                        "' not in ", entry.path().string()));
    }
    text.replace(at, edit.from.size(), edit.to);
    std::ofstream out(entry.path(), std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", entry.path().string()));
    return absl::OkStatus();
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", (dir / edit.subdir).string()));
  return absl::FailedPreconditionError(absl::StrCat("edit ", Describe(edit), ": no such file"));
}

}  // namespace

std::string SampleConfigurationDir() {
  return SYNCWATCH_SOURCE_DIR "/deploy/samples/aadconnect/get-adsyncserverconfiguration";
}

ConfigEdit RemoveInclusion(const std::string& dn) {
  const std::string element = absl::StrCat("<inclusion>", dn, "</inclusion>");
  return ConfigEdit{"Connectors", element, element, ""};
}

ConfigEdit DisableRule(const std::string& rule) {
  return EditRule(rule, "<disabled>False</disabled>", "<disabled>True</disabled>");
}

ConfigEdit SetLinkType(const std::string& rule, const std::string& from, const std::string& to) {
  return EditRule(rule, absl::StrCat("<linkType>", from, "</linkType>"),
                  absl::StrCat("<linkType>", to, "</linkType>"));
}

ConfigEdit EditRule(const std::string& rule, const std::string& from, const std::string& to) {
  return ConfigEdit{"SynchronizationRules", absl::StrCat("<name>", rule, "</name>"), from, to};
}

absl::Status CopyConfiguration(const std::string& source, const std::string& dest,
                               const std::vector<ConfigEdit>& edits) {
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(dest, " exists already"));
  }
  fs::create_directories(fs::path(dest).parent_path(), ec);
  fs::copy(source, dest, fs::copy_options::recursive, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot copy ", source, " to ", dest, ": ", ec.message()));
  }
  // The sample is read-only in some checkouts; the copy must be writable.
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dest, ec)) {
    fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add, ec);
  }
  for (const ConfigEdit& edit : edits) {
    absl::Status st = Apply(dest, edit);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace syncwatch::testing
