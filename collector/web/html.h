// Building blocks of the collector's web pages: escaping, times, counts, the
// page frame (inline CSS, no external assets) and the fragments that the fleet
// page and the server page share. Pure functions; thread-safe.
//
// Every string that comes from the store (server and connector names, DNs,
// attribute values, alert text) is untrusted: it goes through HtmlEscape()
// before it reaches the page, also inside attributes.
#ifndef SYNCWATCH_COLLECTOR_WEB_HTML_H_
#define SYNCWATCH_COLLECTOR_WEB_HTML_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::web {

// `text` with & < > " ' replaced by character references: safe as element
// content and as a quoted attribute value.
std::string HtmlEscape(absl::string_view text);

// Percent-encodes every byte except RFC 3986 unreserved characters, for use
// as one URL path segment ("a/b c" -> "a%2Fb%20c").
std::string UrlPathEscape(absl::string_view segment);

// "2024-01-31T10:00:00Z": ISO 8601 in UTC, to the second.
std::string FormatUtc(absl::Time t);

// "40 s", "12 min", "3 h 5 min" (under 2 days), "5 d": whole units, short.
std::string FormatDurationShort(absl::Duration d);

// How long before `now` `t` was: "just now" (under 5 s), "40 s ago",
// "12 min ago", "3 h 5 min ago" (under 2 days), "5 d ago"; "in 2 min" for a
// time after `now` (clock skew between agent and collector).
std::string FormatAgo(absl::Time t, absl::Time now);

// 1234567 -> "1,234,567".
std::string FormatCount(int64_t n);

// Health badges and rows take HealthName() (common/names.h) as their CSS
// class, which picks the colour: ok green, warning amber, critical red,
// unknown grey.
//
// A run result's class, coloured the same way: "ok" for success and
// completed-no-objects, "warning" for the other completed-* results (the run
// did its work, with object-level problems), "critical" for stopped-*,
// no-start-* and access-denied, "running" (blue) for in-progress and
// completing-*, "unknown" otherwise.
absl::string_view RunResultClass(absl::string_view result);

// A coloured pill: `<span class="badge CLASS" title="TITLE">TEXT</span>`;
// the title attribute is left out when `title` is empty. Escapes both.
std::string Badge(absl::string_view css_class, absl::string_view text,
                  absl::string_view title = {});

// The health badge with the reasons as its tooltip.
std::string HealthBadge(const v1::ServerInfo& server);

// A time with how long ago it was: "<time>2024-01-31T10:00:00Z</time>" and
// below it "12 min ago"; `never` (escaped, muted) when `has` is false.
std::string TimeWithAgo(bool has, const google::protobuf::Timestamp& ts, absl::Time now,
                        absl::string_view never = "never");

// Only "12 min ago", with the exact time as tooltip; `never` when unset.
std::string Ago(bool has, const google::protobuf::Timestamp& ts, absl::Time now,
                absl::string_view never = "never");

// The server's pending deletes against its export deletion threshold:
// "612 / 500" (class "over", red, when the threshold is enabled and exceeded),
// "612 / disabled" when the threshold is disabled.
std::string PendingDeletesHtml(const v1::ServerInfo& server);

// Open alerts, with the critical ones marked: "3 · 1 critical".
std::string OpenAlertsHtml(const v1::ServerInfo& server);

// The page frame: doctype, head with the inline style sheet and a 30 s
// refresh, and the top bar. `title` and `crumb` are plain text (escaped);
// `root` is the relative path back to "/" ("" on "/", "../" one level down);
// `json_href` (relative, may be empty) is linked in the footer.
struct Frame {
  std::string title;
  std::string crumb;
  std::string root;
  std::string json_href;
  absl::Time now;
  bool refresh = true;
};
std::string PageStart(const Frame& frame);
std::string PageEnd(const Frame& frame);

}  // namespace syncwatch::collector::web

#endif  // SYNCWATCH_COLLECTOR_WEB_HTML_H_
