#include "agent/file_source.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/run_history.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace syncwatch::agent {

namespace fs = std::filesystem;

bool WildcardMatch(absl::string_view pattern, absl::string_view name) {
  // Iterative matcher with single-star backtracking: linear in practice.
  size_t p = 0, n = 0, star = absl::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

absl::StatusOr<std::vector<FoundFile>> FindFiles(const std::string& glob) {
  const fs::path pattern_path(glob);
  const fs::path dir = pattern_path.has_parent_path() ? pattern_path.parent_path() : fs::path(".");
  const std::string pattern = pattern_path.filename().string();
  std::vector<FoundFile> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  fs::directory_iterator it(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!WildcardMatch(pattern, name)) continue;
    std::error_code fec;
    if (!entry.is_regular_file(fec)) continue;
    const auto size = entry.file_size(fec);
    if (fec) continue;  // vanished meanwhile: next scan
    const auto mtime = entry.last_write_time(fec);
    if (fec) continue;
    out.push_back(FoundFile{entry.path().string(),
                            absl::StrCat(size, ":", mtime.time_since_epoch().count())});
  }
  std::sort(out.begin(), out.end(), [](const FoundFile& a, const FoundFile& b) { return a.path < b.path; });
  return out;
}

absl::StatusOr<std::vector<v1::Event>> ParseSourceInput(const SourceOptions& source,
                                                        ByteReader& in, const std::string& name,
                                                        absl::Time now) {
  std::vector<v1::Event> events;
  const google::protobuf::Timestamp observed = ToProtoTimestamp(now);
  auto add = [&]() -> v1::Event& {
    v1::Event& e = events.emplace_back();
    e.set_source(source.name);
    *e.mutable_observed_at() = observed;
    return e;
  };
  switch (source.kind) {
    case SourceKind::kRunHistory: {
      RunSink sink = [&](v1::RunProfileResult run) {
        *add().mutable_run() = std::move(run);
        return absl::OkStatus();
      };
      if (source.format == SourceFormat::kJson) {
        SYNCWATCH_RETURN_IF_ERROR(ParseRunHistoryJson(in, name, sink));
      } else {
        SYNCWATCH_RETURN_IF_ERROR(ParseRunHistoryXml(in, name, sink));
      }
      return events;
    }
    case SourceKind::kPendingExports:
    case SourceKind::kExportErrors:
    case SourceKind::kSettings:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("source '", source.name, "': kind ", SourceKindName(source.kind), " cannot be read yet"));
}

absl::StatusOr<std::vector<v1::Event>> ReadSourceFile(const SourceOptions& source,
                                                      const std::string& path, absl::Time now) {
  SYNCWATCH_ASSIGN_OR_RETURN(std::unique_ptr<FileByteReader> reader, FileByteReader::Open(path));
  return ParseSourceInput(source, *reader, path, now);
}

}  // namespace syncwatch::agent
