#include "agent/file_source.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/csexport.h"
#include "agent/parsers/run_history.h"
#include "agent/parsers/server_configuration.h"
#include "agent/parsers/settings_json.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/text_util.h"
#include "common/time_util.h"

namespace syncwatch::agent {

namespace fs = std::filesystem;

bool WildcardMatch(absl::string_view pattern, absl::string_view name, bool ignore_case) {
  const auto same = [ignore_case](char a, char b) {
    return a == b || (ignore_case && absl::ascii_tolower(static_cast<unsigned char>(a)) ==
                                         absl::ascii_tolower(static_cast<unsigned char>(b)));
  };
  // Iterative matcher with single-star backtracking: linear in practice.
  size_t p = 0, n = 0, star = absl::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], name[n]))) {
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

std::string PathInGlobDirectory(absl::string_view glob, absl::string_view file_name) {
#ifdef _WIN32
  constexpr absl::string_view kSeparators = "/\\:";  // "C:*.xml" too
#else
  constexpr absl::string_view kSeparators = "/";
#endif
  const size_t last = glob.find_last_of(kSeparators);
  if (last == absl::string_view::npos) return absl::StrCat(".", "/", file_name);
  return absl::StrCat(glob.substr(0, last + 1), file_name);
}

namespace {

// file_time_type has no portable conversion in C++17: measure its age.
absl::Time ToAbslTime(fs::file_time_type mtime) {
  return absl::Now() - absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           fs::file_time_type::clock::now() - mtime));
}

// The entries of the glob's directory whose names match its last component
// and that `accept` turns into a FoundFile, sorted by path.
absl::StatusOr<std::vector<FoundFile>> FindMatching(
    const std::string& glob,
    const std::function<bool(const fs::directory_entry&, FoundFile*)>& accept) {
  const fs::path pattern_path = Utf8Path(glob);
  const fs::path dir = pattern_path.has_parent_path() ? pattern_path.parent_path() : fs::path(".");
  const std::string pattern = pattern_path.filename().u8string();
  std::vector<FoundFile> out;
  // With the OS's own reason (an unreachable share, a folder that is gone).
  SYNCWATCH_RETURN_IF_ERROR(CheckFolder(dir.u8string()));
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("cannot list ", dir.u8string(), ": ", ec.message()));
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().u8string();
    if (!WildcardMatch(pattern, name)) continue;
    FoundFile found{PathInGlobDirectory(glob, name), "", absl::InfinitePast()};
    if (accept(entry, &found)) out.push_back(std::move(found));
  }
  std::sort(out.begin(), out.end(),
            [](const FoundFile& a, const FoundFile& b) { return a.path < b.path; });
  return out;
}

// "20260105T031500123Z" (the exporter's stamp) -> that time.
std::optional<absl::Time> TimeFromStamp(absl::string_view name) {
  if (name.size() != 19 || name[8] != 'T' || name[18] != 'Z') return std::nullopt;
  int64_t f[7];  // year, month, day, hour, minute, second, millisecond
  const size_t at[7][2] = {{0, 4}, {4, 2}, {6, 2}, {9, 2}, {11, 2}, {13, 2}, {15, 3}};
  for (int i = 0; i < 7; ++i) {
    const absl::string_view digits = name.substr(at[i][0], at[i][1]);
    if (!std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(digits, &f[i])) {
      return std::nullopt;
    }
  }
  const absl::CivilSecond civil(f[0], f[1], f[2], f[3], f[4], f[5]);
  if (civil.month() != f[1] || civil.day() != f[2] || civil.hour() != f[3]) return std::nullopt;
  return absl::FromCivil(civil, absl::UTCTimeZone()) + absl::Milliseconds(f[6]);
}

}  // namespace

absl::StatusOr<std::vector<FoundFile>> FindFiles(const std::string& glob) {
  return FindMatching(glob, [](const fs::directory_entry& entry, FoundFile* found) {
    std::error_code fec;
    if (!entry.is_regular_file(fec)) return false;
    const auto size = entry.file_size(fec);
    if (fec) return false;  // vanished meanwhile: next scan
    const auto mtime = entry.last_write_time(fec);
    if (fec) return false;
    found->fingerprint = absl::StrCat(size, ":", mtime.time_since_epoch().count());
    found->modified = ToAbslTime(mtime);
    return true;
  });
}

absl::StatusOr<std::vector<FoundFile>> FindFolders(const std::string& glob) {
  return FindMatching(glob, [](const fs::directory_entry& entry, FoundFile* found) {
    const std::string name = entry.path().filename().u8string();
    std::error_code ec;
    if (absl::StartsWith(name, ".") || !entry.is_directory(ec)) return false;
    // Names, sizes and mtimes of what the parser reads, in a stable order.
    std::vector<std::string> parts;
    fs::file_time_type newest = fs::file_time_type::min();
    for (const char* sub : {"Connectors", "SynchronizationRules"}) {
      for (const fs::directory_entry& f : fs::directory_iterator(entry.path() / sub, ec)) {
        std::error_code fec;
        const auto size = f.file_size(fec);
        const auto mtime = f.last_write_time(fec);
        if (fec) continue;
        newest = std::max(newest, mtime);
        parts.push_back(absl::StrCat(sub, "/", f.path().filename().u8string(), ":", size, ":",
                                     mtime.time_since_epoch().count()));
      }
    }
    std::sort(parts.begin(), parts.end());
    std::string all;
    for (const std::string& p : parts) absl::StrAppend(&all, p, "\n");
    found->fingerprint = absl::StrCat(parts.size(), ":", absl::Hex(Fnv1a64(all)));
    if (std::optional<absl::Time> t = TimeFromStamp(name)) {
      found->modified = *t;
    } else if (!parts.empty()) {
      found->modified = ToAbslTime(newest);
    } else {
      found->modified = absl::Now();
    }
    return true;
  });
}

absl::StatusOr<std::vector<FoundFile>> FindSourceInputs(const SourceOptions& source) {
  if (source.kind == SourceKind::kServerConfiguration) return FindFolders(source.path);
  return FindFiles(source.path);
}

bool ConnectorFromFileName(absl::string_view path, std::string* id, std::string* name) {
  const size_t slash = path.find_last_of("/\\");
  absl::string_view base = slash == absl::string_view::npos ? path : path.substr(slash + 1);
  if (!absl::ConsumeSuffix(&base, ".xml")) return false;
  // yyyyMMddTHHmmssfffZ: 8 digits, T, 9 digits, Z.
  if (base.size() < 20 || base[8] != 'T' || base[18] != 'Z' || base[19] != '_') return false;
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(base[i]))) return false;
  }
  base.remove_prefix(20);
  const size_t sep = base.find('_');
  if (sep == absl::string_view::npos || sep + 1 >= base.size()) return false;
  const std::string guid = NormalizeGuid(base.substr(0, sep));
  if (!IsNormalizedGuid(guid)) return false;
  *id = guid;
  *name = std::string(base.substr(sep + 1));
  return true;
}

namespace {

// The collector refuses names over 4 KiB and texts over 256 KiB (whole
// batches); error literals can be long .NET stack traces, so cut them here.
constexpr size_t kMaxTextBytes = 64 * 1024;

void CapText(std::string* text) {
  if (text->size() <= kMaxTextBytes) return;
  size_t cut = kMaxTextBytes;
  // Do not split a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>((*text)[cut]) & 0xC0) == 0x80) --cut;
  text->resize(cut);
  text->append(" [truncated by syncwatch-agent]");
}

// The snapshot is held while it is spooled (once as objects, once serialized,
// once in the RocksDB write batch), so the listed objects get about 20 MiB of
// the agent's 64 MiB growth budget for a huge csexport file; the counts always
// cover every object.
CsExportLimits AgentCsExportLimits() {
  CsExportLimits limits;
  limits.max_listed_delete_bytes = size_t{8} << 20;
  limits.max_listed_change_bytes = size_t{12} << 20;
  return limits;
}

void CapExportError(v1::ExportError* e) {
  CapText(e->mutable_cd_error()->mutable_error_literal());
  CapText(e->mutable_cd_error()->mutable_server_error_detail());
  CapText(e->mutable_conflict_value());
}

}  // namespace

absl::StatusOr<std::vector<v1::Event>> ParseSourceInput(const SourceOptions& source, ByteReader& in,
                                                        const std::string& name, absl::Time now,
                                                        absl::Time written) {
  std::vector<v1::Event> events;
  const google::protobuf::Timestamp observed = ToProtoTimestamp(now);
  auto add = [&]() -> v1::Event& {
    v1::Event& e = events.emplace_back();
    e.set_source(source.name);
    *e.mutable_observed_at() = observed;
    return e;
  };
  // Where csexport inputs get their connector when the file does not say.
  std::string connector_id;
  std::string connector_name = source.connector;
  if (std::string id, n; ConnectorFromFileName(name, &id, &n)) {
    connector_id = id;
    if (connector_name.empty()) connector_name = n;
  }
  switch (source.kind) {
    case SourceKind::kRunHistory: {
      RunSink sink = [&](v1::RunProfileResult run) {
        for (v1::RunStep& step : *run.mutable_steps()) {
          for (v1::ExportError& e : *step.mutable_export_errors()) CapExportError(&e);
          for (v1::ConnectionIncident& i : *step.mutable_connection_incidents()) {
            CapText(i.mutable_cd_error()->mutable_error_literal());
            CapText(i.mutable_cd_error()->mutable_server_error_detail());
          }
        }
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
    case SourceKind::kPendingExports: {
      v1::PendingExportSnapshot snapshot;
      snapshot.set_connector_name(connector_name);
      snapshot.set_connector_id(connector_id);
      SYNCWATCH_RETURN_IF_ERROR(
          ParseCsExportPendingExports(in, name, AgentCsExportLimits(), &snapshot));
      if (snapshot.connector_name().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            name,
            ": cannot tell which connector this is (no <ma-name> in the file, no connector in "
            "the file name, no 'connector' in the source config)"));
      }
      *snapshot.mutable_taken_at() = ToProtoTimestamp(written);
      // Identifies this snapshot: the same file read again yields the same id.
      snapshot.set_snapshot_id(absl::StrCat(
          absl::Hex(
              Fnv1a64(absl::StrCat(snapshot.connector_name(), "@", absl::ToUnixMicros(written)))),
          "-", absl::ToUnixMicros(written)));
      *add().mutable_pending_exports() = std::move(snapshot);
      return events;
    }
    case SourceKind::kExportErrors: {
      ExportErrorSink sink = [&](v1::ExportError error) {
        if (error.connector_name().empty()) error.set_connector_name(connector_name);
        if (error.connector_id().empty()) error.set_connector_id(connector_id);
        if (error.connector_name().empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              name, ": cannot tell which connector the export error of ", error.dn(),
              " belongs to (no <ma-name>, no connector in the file name or the source config)"));
        }
        CapExportError(&error);
        *add().mutable_export_error() = std::move(error);
        return absl::OkStatus();
      };
      SYNCWATCH_RETURN_IF_ERROR(ParseCsExportErrors(in, name, sink));
      return events;
    }
    case SourceKind::kSettings: {
      v1::ServerSettings settings;
      SYNCWATCH_RETURN_IF_ERROR(ParseSettingsJson(in, name, &settings));
      *add().mutable_settings() = std::move(settings);
      return events;
    }
    case SourceKind::kServerConfiguration:
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": server_configuration sources read folders, not a stream"));
  }
  return absl::InternalError("unknown source kind");
}

absl::StatusOr<std::vector<v1::Event>> ReadSourceFile(const SourceOptions& source,
                                                      const FoundFile& file, absl::Time now) {
  if (source.kind == SourceKind::kServerConfiguration) {
    SYNCWATCH_ASSIGN_OR_RETURN(v1::ServerConfiguration config,
                               ReadServerConfigurationFolder(file.path));
    *config.mutable_taken_at() = ToProtoTimestamp(file.modified);
    std::vector<v1::Event> events(1);
    events[0].set_source(source.name);
    *events[0].mutable_observed_at() = ToProtoTimestamp(now);
    *events[0].mutable_configuration() = std::move(config);
    return events;
  }
  SYNCWATCH_ASSIGN_OR_RETURN(std::unique_ptr<FileByteReader> reader,
                             FileByteReader::Open(file.path));
  return ParseSourceInput(source, *reader, file.path, now, file.modified);
}

}  // namespace syncwatch::agent
