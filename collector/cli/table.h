// Plain tables and their two renderings: aligned text for people and RFC 4180
// CSV for scripts.
#ifndef SYNCWATCH_COLLECTOR_CLI_TABLE_H_
#define SYNCWATCH_COLLECTOR_CLI_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace syncwatch::cli {

// A header and rows of cells (UTF-8). A row shorter than `columns` is padded
// with empty cells; extra cells are ignored.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

// Lines of a rendered table fit this many terminal columns.
inline constexpr size_t kDefaultTableWidth = 160;

// Renders `table` as left-aligned columns separated by two spaces, one line per
// row, each line ending in '\n' without trailing blanks. Control characters in
// cells (line breaks of error literals, tabs) become spaces. When the natural
// width exceeds `max_width`, the widest columns are narrowed (never below their
// header or a few characters) and cells that no longer fit end in "…". A table
// without rows renders as its header and "(none)".
std::string RenderTable(const Table& table, size_t max_width = kDefaultTableWidth);

// Renders `table` as RFC 4180 CSV: a header row, then one record per row, each
// ending in CRLF; see CsvField for quoting.
std::string RenderCsv(const Table& table);

// One CSV field: quoted when it contains a comma, a double quote, CR or LF,
// with embedded quotes doubled; otherwise unchanged.
std::string CsvField(absl::string_view value);

// The number of terminal columns `text` takes, counted as Unicode code points
// (wide East Asian characters count as one; good enough for DNs and names).
size_t DisplayWidth(absl::string_view text);

// `text` if it fits `width` columns, else its first width-1 code points and
// "…". Never splits a UTF-8 sequence.
std::string TruncateToWidth(absl::string_view text, size_t width);

}  // namespace syncwatch::cli

#endif  // SYNCWATCH_COLLECTOR_CLI_TABLE_H_
