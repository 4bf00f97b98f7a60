#include "collector/query_service.h"

#include <functional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/record_keys.h"
#include "common/grpc_status.h"
#include "common/key_codec.h"
#include "common/time_util.h"

namespace syncwatch::collector {
namespace {

constexpr int kDefaultPageSize = 500;
constexpr int kMaxPageSize = 5000;
// Clients (the CLI) accept responses up to 64 MiB; one record may be 16 MiB.
constexpr size_t kMaxPageBytes = 32 * 1024 * 1024;

int PageSize(int requested) {
  if (requested <= 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

// Scans one family in key order, starting after the page token, calling
// `take(value)` for each record under `prefix`; `take` parses, filters and
// appends, returning whether it appended. Stops after `page_size` appended
// records and sets *next_token when more may follow.
absl::Status ScanPage(const Store& store, Family family, const std::string& prefix,
                      const std::string& page_token, int page_size,
                      const std::function<absl::StatusOr<bool>(absl::string_view)>& take,
                      std::string* next_token) {
  std::string start = prefix;
  bool skip_equal = false;
  if (!page_token.empty()) {
    std::string last;
    if (!absl::WebSafeBase64Unescape(page_token, &last) || !absl::StartsWith(last, prefix)) {
      return absl::InvalidArgumentError("page_token is not valid for this query");
    }
    start = std::move(last);
    skip_equal = true;
  }
  const std::string bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice(bound);
  auto it = store.NewIterator(family, bound.empty() ? nullptr : &bound_slice);
  int taken = 0;
  size_t bytes = 0;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (skip_equal && key == start) continue;
    // A page also ends at kMaxPageBytes: snapshots listing thousands of objects
    // are megabytes each, and a response must stay within what clients accept.
    if (taken == page_size || bytes >= kMaxPageBytes) {
      // There is at least one more record; the token resumes after the last one taken.
      return absl::OkStatus();
    }
    auto appended = take(absl::string_view(it->value().data(), it->value().size()));
    if (!appended.ok()) return appended.status();
    if (*appended) {
      ++taken;
      bytes += it->value().size();
      *next_token = absl::WebSafeBase64Escape(key);
    }
  }
  next_token->clear();
  return FromRocksStatus(it->status(), "scan");
}

std::string PrefixFor(const v1::Filter& f) {
  if (f.server().empty()) return "";
  if (f.connector().empty()) return ServerPrefix(f.server());
  return ServerConnectorPrefix(f.server(), f.connector());
}

bool MatchesCommon(const v1::Filter& f, const std::string& tenant, const std::string& connector) {
  if (!f.tenant().empty() && f.tenant() != tenant) return false;
  if (!f.connector().empty() && f.connector() != connector) return false;
  return true;
}

bool AtOrAfter(const google::protobuf::Timestamp& t, const v1::Filter& f) {
  if (!f.has_since()) return true;
  return ToUnixMicrosOrZero(t) >= ToUnixMicrosOrZero(f.since());
}

template <typename Record>
absl::StatusOr<Record> Parse(absl::string_view bytes) {
  Record r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("a stored ", Record::descriptor()->name(), " does not parse"));
  }
  return r;
}

}  // namespace

grpc::Status QueryService::ListServers(grpc::ServerContext*, const v1::ListServersRequest* request,
                                       v1::ListServersResponse* response) {
  const v1::Filter& f = request->filter();
  std::string prefix = f.server().empty() ? "" : ServerKey(f.server());
  absl::Status st = ScanPage(
      store_, Family::kServers, prefix, request->page_token(), PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto info = Parse<v1::ServerInfo>(bytes);
        if (!info.ok()) return info.status();
        if (!f.tenant().empty() && f.tenant() != info->tenant()) return false;
        *response->add_servers() = *std::move(info);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

grpc::Status QueryService::ListRuns(grpc::ServerContext*, const v1::ListRunsRequest* request,
                                    v1::ListRunsResponse* response) {
  const v1::Filter& f = request->filter();
  absl::Status st = ScanPage(
      store_, Family::kRuns, PrefixFor(f), request->page_token(), PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto run = Parse<v1::StoredRun>(bytes);
        if (!run.ok()) return run.status();
        if (!MatchesCommon(f, run->tenant(), run->run().connector_name())) return false;
        if (!AtOrAfter(run->run().start_time(), f)) return false;
        if (!f.result().empty() && !absl::StartsWith(run->run().result(), f.result())) return false;
        *response->add_runs() = *std::move(run);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

grpc::Status QueryService::ListPendingExports(grpc::ServerContext*,
                                              const v1::ListPendingExportsRequest* request,
                                              v1::ListPendingExportsResponse* response) {
  const v1::Filter& f = request->filter();
  absl::Status st = ScanPage(
      store_, Family::kSnapshots, PrefixFor(f), request->page_token(),
      PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto s = Parse<v1::StoredPendingExports>(bytes);
        if (!s.ok()) return s.status();
        if (!MatchesCommon(f, s->tenant(), s->snapshot().connector_name())) return false;
        if (!AtOrAfter(s->snapshot().taken_at(), f)) return false;
        *response->add_snapshots() = *std::move(s);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

grpc::Status QueryService::ListExportErrors(grpc::ServerContext*,
                                            const v1::ListExportErrorsRequest* request,
                                            v1::ListExportErrorsResponse* response) {
  const v1::Filter& f = request->filter();
  absl::Status st = ScanPage(
      store_, Family::kExportErrors, PrefixFor(f), request->page_token(),
      PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto e = Parse<v1::StoredExportError>(bytes);
        if (!e.ok()) return e.status();
        if (!MatchesCommon(f, e->tenant(), e->error().connector_name())) return false;
        if (!AtOrAfter(e->error().date_occurred(), f)) return false;
        if (!f.error_type().empty() && f.error_type() != e->error().error_type()) return false;
        *response->add_errors() = *std::move(e);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

grpc::Status QueryService::ListAlerts(grpc::ServerContext*, const v1::ListAlertsRequest* request,
                                      v1::ListAlertsResponse* response) {
  const v1::Filter& f = request->filter();
  if (!f.result().empty() || !f.error_type().empty()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("ListAlerts: filter.result and filter.error_type do not apply"));
  }
  // Alerts are few (one per condition, resolved ones expire): a scan of the
  // family with the filter applied is cheap, and keeps tenant-wide alerts
  // (no server) in the same listing.
  absl::Status st = ScanPage(
      store_, Family::kAlerts, "", request->page_token(), PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto a = Parse<v1::Alert>(bytes);
        if (!a.ok()) return a.status();
        if (request->state() != v1::ALERT_STATE_UNSPECIFIED && a->state() != request->state()) {
          return false;
        }
        if (!f.server().empty() && f.server() != a->server()) return false;
        if (!MatchesCommon(f, a->tenant(), a->connector())) return false;
        if (!AtOrAfter(a->last_change(), f)) return false;
        *response->add_alerts() = *std::move(a);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

}  // namespace syncwatch::collector
