// The collector's web pages, rendered on the server as plain HTML5 with an
// inline style sheet (no scripts, no external assets: they work on a network
// without internet access), and the same data as JSON for scripts.
//
// Pure functions of a query response and the time to measure "n min ago"
// against; thread-safe. Every string from the store is HTML-escaped. Links are
// relative, so the pages also work behind a reverse proxy under a sub-path:
// the fleet page is served at "/", a server's page at "/servers/<name>".
#ifndef SYNCWATCH_COLLECTOR_WEB_PAGES_H_
#define SYNCWATCH_COLLECTOR_WEB_PAGES_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::web {

// At most this many objects are listed per connector's pending deletes, and
// this many errors per error category; the page says how many more there are.
inline constexpr size_t kMaxListedObjects = 500;

// The fleet overview: counts by health, pending deletes and open alerts, then
// the table `#fleet` with one row per server in the response's order (worst
// first). Each row carries data-server and data-health (ok, warning,
// critical, unknown) attributes.
std::string RenderFleetPage(const v1::FleetSummaryResponse& fleet, absl::Time now);

// One server: its state and connectors, alerts (firing first), pending
// deletes with the objects per connector, export errors by category and by
// conflicting value, and its runs (newest first, plus a timeline per
// connector).
std::string RenderServerPage(const v1::GetServerResponse& server, absl::Time now);

// The 404 page; `what` (plain text, escaped) says what was not found, e.g.
// "No server named \"sync09\" has reported to this collector."
std::string RenderNotFound(absl::string_view what, absl::Time now);

// A page for a query that failed (the collector's store could not answer).
std::string RenderErrorPage(const absl::Status& status, absl::Time now);

// `message` as JSON for the API routes: proto field names, fields with
// default values included (so scripts see a 0 rather than no key), int64 as
// strings (the proto3 JSON mapping), indented. Internal if the message cannot
// be converted.
absl::StatusOr<std::string> RenderJson(const google::protobuf::Message& message);

// {"code": "NOT_FOUND", "message": "..."} for a failed API call.
std::string RenderJsonError(const absl::Status& status);

}  // namespace syncwatch::collector::web

#endif  // SYNCWATCH_COLLECTOR_WEB_PAGES_H_
