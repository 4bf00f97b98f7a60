#include "collector/cli/table.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace syncwatch::cli {
namespace {

constexpr absl::string_view kEllipsis = "…";
constexpr absl::string_view kColumnGap = "  ";
// A narrowed column keeps at least this many columns (or its header, if
// wider), so that a truncated cell still says something.
constexpr size_t kMinColumnWidth = 8;

bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// A cell must stay on one line or the columns fall apart.
std::string SanitizeCell(absl::string_view cell) {
  std::string out(cell);
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  return out;
}

void AppendPadded(absl::string_view cell, size_t width, std::string* line) {
  line->append(cell.data(), cell.size());
  const size_t used = DisplayWidth(cell);
  if (used < width) line->append(width - used, ' ');
}

}  // namespace

size_t DisplayWidth(absl::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !IsUtf8Continuation(c); }));
}

std::string TruncateToWidth(absl::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width == 0) return "";
  // Keep width-1 code points: stop at the start of code point number width-1.
  size_t kept = 0;
  size_t end = 0;
  for (; end < text.size(); ++end) {
    if (!IsUtf8Continuation(text[end])) {
      if (kept == width - 1) break;
      ++kept;
    }
  }
  return absl::StrCat(text.substr(0, end), kEllipsis);
}

std::string RenderTable(const Table& table, size_t max_width) {
  const size_t n = table.columns.size();
  if (n == 0) return "";

  std::vector<std::vector<std::string>> cells;
  cells.reserve(table.rows.size());
  for (const auto& row : table.rows) {
    std::vector<std::string> sanitized(n);
    for (size_t i = 0; i < n && i < row.size(); ++i) sanitized[i] = SanitizeCell(row[i]);
    cells.push_back(std::move(sanitized));
  }

  std::vector<size_t> widths(n);
  std::vector<size_t> min_widths(n);
  for (size_t i = 0; i < n; ++i) {
    widths[i] = DisplayWidth(table.columns[i]);
    for (const auto& row : cells) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    min_widths[i] = std::min(widths[i], std::max(DisplayWidth(table.columns[i]), kMinColumnWidth));
  }

  // Narrow the widest column one step at a time: long DNs and error texts give
  // up space first, short columns such as RUN or RESULT stay intact.
  size_t total = kColumnGap.size() * (n - 1);
  for (size_t w : widths) total += w;
  while (total > max_width) {
    size_t widest = n;
    for (size_t i = 0; i < n; ++i) {
      if (widths[i] > min_widths[i] && (widest == n || widths[i] > widths[widest])) widest = i;
    }
    if (widest == n) break;  // everything is at its minimum; let the line run long
    --widths[widest];
    --total;
  }

  auto render_line = [&](const std::vector<std::string>& row, std::string* out) {
    std::string line;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) line.append(kColumnGap.data(), kColumnGap.size());
      AppendPadded(TruncateToWidth(row[i], widths[i]), widths[i], &line);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(out, line, "\n");
  };

  std::string out;
  std::vector<std::string> header(table.columns.begin(), table.columns.end());
  render_line(header, &out);
  if (cells.empty()) {
    out += "(none)\n";
    return out;
  }
  for (const auto& row : cells) render_line(row, &out);
  return out;
}

std::string CsvField(absl::string_view value) {
  if (value.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string RenderCsv(const Table& table) {
  const size_t n = table.columns.size();
  auto field_formatter = [](std::string* out, const std::string& field) {
    out->append(CsvField(field));
  };
  std::string out = absl::StrCat(absl::StrJoin(table.columns, ",", field_formatter), "\r\n");
  for (const auto& row : table.rows) {
    std::vector<std::string> padded(n);
    for (size_t i = 0; i < n && i < row.size(); ++i) padded[i] = row[i];
    absl::StrAppend(&out, absl::StrJoin(padded, ",", field_formatter), "\r\n");
  }
  return out;
}

}  // namespace syncwatch::cli
