// The collector's /metrics body in the Prometheus text exposition format
// (0.0.4): a small writer that gets the format right once (HELP/TYPE per
// family, escaped label values, integers printed exactly), and the collector's
// families, from ingest counters to one gauge per sync server.
#ifndef SYNCWATCH_COLLECTOR_WEB_METRICS_H_
#define SYNCWATCH_COLLECTOR_WEB_METRICS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace syncwatch::collector {

class MetricsWriter {
 public:
  using Labels = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

  // Starts a family: its HELP and TYPE lines. `type` is "counter" or "gauge".
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  // One sample of the family started last.
  void Sample(absl::string_view name, Labels labels, int64_t value);
  void Sample(absl::string_view name, Labels labels, double value);
  // A family of one unlabelled sample.
  void Single(absl::string_view name, absl::string_view type, absl::string_view help,
              int64_t value);

  std::string Take() { return std::move(out_); }

 private:
  void Labelled(absl::string_view name, Labels labels);
  std::string out_;
};

// A label value escaped as the format wants: \\, \" and \n.
std::string EscapeLabelValue(absl::string_view value);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_WEB_METRICS_H_
