#include "collector/web/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace syncwatch::collector {

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void MetricsWriter::Family(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void MetricsWriter::Labelled(absl::string_view name, Labels labels) {
  absl::StrAppend(&out_, name);
  if (labels.size() == 0) return;
  out_ += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    absl::StrAppend(&out_, first ? "" : ",", key, "=\"", EscapeLabelValue(value), "\"");
    first = false;
  }
  out_ += '}';
}

void MetricsWriter::Sample(absl::string_view name, Labels labels, int64_t value) {
  Labelled(name, labels);
  absl::StrAppend(&out_, " ", value, "\n");
}

void MetricsWriter::Sample(absl::string_view name, Labels labels, double value) {
  Labelled(name, labels);
  absl::StrAppend(&out_, " ", absl::StrFormat("%.3f", value), "\n");
}

void MetricsWriter::Single(absl::string_view name, absl::string_view type, absl::string_view help,
                           int64_t value) {
  Family(name, type, help);
  Sample(name, {}, value);
}

}  // namespace syncwatch::collector
