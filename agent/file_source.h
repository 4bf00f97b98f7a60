// Finds the files a path source names (a glob in the last path component) and
// turns each into events with the parser its kind and format call for.
#ifndef SYNCWATCH_AGENT_FILE_SOURCE_H_
#define SYNCWATCH_AGENT_FILE_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/agent_options.h"
#include "agent/parsers/byte_reader.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

struct FoundFile {
  std::string path;
  // Changes when the file is replaced or rewritten (size and mtime).
  std::string fingerprint;
  // When the file was last written.
  absl::Time modified;
};

// Folders matching `glob` (Get-ADSyncServerConfiguration output), sorted by
// path; names starting with '.' (the exporter's .partial) are skipped. The
// fingerprint covers the name, size and mtime of every file in the folder's
// Connectors/ and SynchronizationRules/; `modified` is the time in the
// folder's name when it is an exporter stamp (yyyyMMddTHHmmssfffZ), else the
// newest of those files' mtimes. Errors for the glob's folder as FindFiles.
absl::StatusOr<std::vector<FoundFile>> FindFolders(const std::string& glob);

// FindFolders for server_configuration sources, FindFiles for the others.
absl::StatusOr<std::vector<FoundFile>> FindSourceInputs(const SourceOptions& source);

// The connector named by a file name as the Windows exporter writes it,
// "<yyyyMMddTHHmmssfffZ>_<connector guid>_<connector name>.xml": sets *id and
// *name and returns true; false for any other name.
bool ConnectorFromFileName(absl::string_view path, std::string* id, std::string* name);

// How file names compare on this system: NTFS matches names without regard
// to case (ASCII letters here), POSIX file systems exactly.
#ifdef _WIN32
inline constexpr bool kFileNamesIgnoreCase = true;
#else
inline constexpr bool kFileNamesIgnoreCase = false;
#endif

// True when `name` matches `pattern` (* and ? wildcards; ASCII letters
// compared without regard to case when `ignore_case`).
bool WildcardMatch(absl::string_view pattern, absl::string_view name,
                   bool ignore_case = kFileNamesIgnoreCase);

// The path of `file_name` found by listing the directory of `glob`, spelled as
// the glob spells that directory ("C:\in\*.xml" -> "C:\in\a.xml",
// "in/*.xml" -> "in/a.xml", "*.xml" -> "./a.xml"), so that messages name the
// file the way the operator wrote it.
std::string PathInGlobDirectory(absl::string_view glob, absl::string_view file_name);

// Regular files matching `glob`, sorted by path. NotFound when the glob's
// folder does not exist (the exporter has not run yet, or the folder is
// gone), Unavailable when it cannot be listed (an unreachable share, no
// access); both name the folder and give the OS's reason.
absl::StatusOr<std::vector<FoundFile>> FindFiles(const std::string& glob);

// Parses one input of `source` (a file's or a command's output, `name` for
// messages and, for files, the path) into events stamped with the source name
// and `now`; `written` is when the input was produced (a pending-export
// snapshot's taken_at). Long error texts are cut to what the collector
// accepts. Errors name the input, the line and the problem.
absl::StatusOr<std::vector<v1::Event>> ParseSourceInput(const SourceOptions& source, ByteReader& in,
                                                        const std::string& name, absl::Time now,
                                                        absl::Time written);

// ParseSourceInput over a found file; for server_configuration, reads the
// found folder into one ServerConfiguration event (taken_at: file.modified).
absl::StatusOr<std::vector<v1::Event>> ReadSourceFile(const SourceOptions& source,
                                                      const FoundFile& file, absl::Time now);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_FILE_SOURCE_H_
