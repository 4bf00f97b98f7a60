#include "collector/api/query_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/state/server_state.h"
#include "collector/storage/config_records.h"
#include "collector/storage/record_keys.h"
#include "common/grpc_status.h"
#include "common/key_codec.h"
#include "common/status_macros.h"
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

constexpr int64_t kEngineDefaultThreshold = 500;
constexpr absl::Duration kDefaultRunsWindow = absl::Hours(24 * 7);
constexpr int kDefaultMaxRuns = 200;
constexpr int kDefaultMaxErrors = 1000;

int Limit(int requested, int fallback) {
  if (requested <= 0) return fallback;
  return std::min(requested, kMaxPageSize);
}

// Parses a raw call's request.
bool ParseByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  grpc::ByteBuffer shared(buffer);  // shares the slices; the reader consumes its buffer
  grpc::ProtoBufferReader reader(&shared);
  return message->ParseFromZeroCopyStream(&reader);
}

// A raw call's answer, owning `bytes` without copying them.
grpc::ByteBuffer ByteBufferOf(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

bool AlertMatches(const FiringAlert& a, const v1::Filter& f) {
  if (!f.server().empty() && a.server != f.server()) return false;
  if (!f.tenant().empty() && a.tenant != f.tenant()) return false;
  return true;
}

}  // namespace

QueryService::QueryService(const Store& store, const Clock& clock, Options options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

absl::StatusOr<ServerRecords> QueryService::Servers() const {
  if (options_.cache != nullptr) return options_.cache->All();
  return ReadServerRecords(store_);
}

std::vector<FiringAlert> QueryService::FiringAlerts() const {
  if (options_.alerts == nullptr) return {};
  return options_.alerts->Firing();
}

absl::Status QueryService::JudgeEach(
    const ServerRecords& all, const v1::Filter& filter, const std::vector<FiringAlert>& firing,
    const std::function<void(const ServerEntry&, const v1::ServerInfo&)>& take) const {
  // Every record, also those the filter leaves out: a tenant peer may be the
  // one that reported the deletion threshold.
  TenantThresholds thresholds;
  for (const auto& entry : all) thresholds.Add(*entry);
  // The alerts by the entry of their server (found by name in `all`, which is
  // in name order): looking an entry up by its address reads no record.
  absl::flat_hash_map<const ServerEntry*, std::vector<const FiringAlert*>> firing_by_server;
  for (const FiringAlert& a : firing) {
    if (a.server.empty()) continue;
    auto it = std::lower_bound(all.begin(), all.end(), a.server,
                               [](const std::shared_ptr<const ServerEntry>& e,
                                  const std::string& name) { return e->record.server() < name; });
    if (it != all.end() && (*it)->record.server() == a.server) {
      firing_by_server[it->get()].push_back(&a);
    }
  }
  static const std::vector<const FiringAlert*> kNone;

  v1::ServerInfo judged;  // reused: its strings keep their capacity
  for (const auto& entry : all) {
    const v1::ServerInfo& record = entry->record;
    if (!filter.server().empty() && record.server() != filter.server()) continue;
    if (!filter.tenant().empty() && record.tenant() != filter.tenant()) continue;
    auto alerts = firing_by_server.find(entry.get());
    const ThresholdSource& threshold = thresholds.For(*entry);
    // The default is looked up only where it applies.
    const int64_t default_threshold = threshold.HasValue() ? 0
                                      : options_.default_threshold
                                          ? options_.default_threshold(record)
                                          : kEngineDefaultThreshold;
    judged.Clear();
    JudgeHealth(threshold, default_threshold,
                alerts == firing_by_server.end() ? kNone : alerts->second, record, entry->health,
                &judged);
    take(*entry, judged);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::ServerInfo>> QueryService::JudgedServers(
    const v1::Filter& filter, const std::vector<FiringAlert>& firing) const {
  SYNCWATCH_ASSIGN_OR_RETURN(const ServerRecords all, Servers());
  std::vector<v1::ServerInfo> out;
  SYNCWATCH_RETURN_IF_ERROR(
      JudgeEach(all, filter, firing, [&](const ServerEntry& entry, const v1::ServerInfo& judged) {
        out.push_back(entry.record);
        out.back().MergeFrom(judged);  // the stored record has none of these fields
      }));
  return out;
}

grpc::Status QueryService::ListServers(grpc::ServerContext*, const v1::ListServersRequest* request,
                                       v1::ListServersResponse* response) {
  std::string after;
  if (!request->page_token().empty() &&
      !absl::WebSafeBase64Unescape(request->page_token(), &after)) {
    return ToGrpcStatus(absl::InvalidArgumentError("page_token is not valid for this query"));
  }
  auto servers = JudgedServers(request->filter(), FiringAlerts());
  if (!servers.ok()) return ToGrpcStatus(servers.status());
  const int page_size = PageSize(request->page_size());
  for (v1::ServerInfo& info : *servers) {  // by name: the store's key order
    if (!request->page_token().empty() && info.server() <= after) continue;
    if (response->servers_size() == page_size) {
      response->set_next_page_token(
          absl::WebSafeBase64Escape(response->servers(page_size - 1).server()));
      break;
    }
    *response->add_servers() = std::move(info);
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::string> QueryService::FleetSummaryBytes(
    const v1::FleetSummaryRequest& request) const {
  const v1::Filter& f = request.filter();
  if (!f.connector().empty() || !f.result().empty() || !f.error_type().empty() || f.has_since()) {
    return absl::InvalidArgumentError("FleetSummary: only filter.server and filter.tenant apply");
  }
  SYNCWATCH_ASSIGN_OR_RETURN(const ServerRecords all, Servers());
  const std::vector<FiringAlert> firing = FiringAlerts();

  // The answer without its server list, whose entries are each the entry's
  // summary bytes followed by its query-time fields: a message's fields may
  // come in any order, so the two serializations concatenated are the
  // judged summary's.
  v1::FleetSummaryResponse head;
  *head.mutable_generated_at() = ToProtoTimestamp(clock_.Now());
  struct Listed {
    int rank;
    const ServerEntry* entry;
    size_t judged_begin;
    size_t judged_end;
  };
  std::vector<Listed> listed;
  listed.reserve(all.size());
  std::string judged_bytes;  // every listed server's query-time fields, one after the other
  absl::flat_hash_set<absl::string_view> tenants;  // the entries outlive the call
  SYNCWATCH_RETURN_IF_ERROR(
      JudgeEach(all, f, firing, [&](const ServerEntry& entry, const v1::ServerInfo& judged) {
        const size_t begin = judged_bytes.size();
        judged.AppendToString(&judged_bytes);
        listed.push_back({HealthRank(judged.health()), &entry, begin, judged_bytes.size()});
        tenants.insert(entry.tenant_group);
        if (entry.record.role() == v1::SERVER_ROLE_STAGING) {
          head.set_staging_servers(head.staging_servers() + 1);
        } else {
          head.set_active_servers(head.active_servers() + 1);
        }
        switch (judged.health()) {
          case v1::HEALTH_OK:
            head.set_ok(head.ok() + 1);
            break;
          case v1::HEALTH_WARNING:
            head.set_warning(head.warning() + 1);
            break;
          case v1::HEALTH_CRITICAL:
            head.set_critical(head.critical() + 1);
            break;
          default:
            head.set_unknown(head.unknown() + 1);
            break;
        }
        head.set_pending_deletes(head.pending_deletes() + entry.record.pending_deletes());
      }));
  head.set_servers(static_cast<int32_t>(listed.size()));
  head.set_tenants(static_cast<int32_t>(tenants.size()));
  for (const FiringAlert& a : firing) {
    if (!AlertMatches(a, f)) continue;
    head.set_open_alerts(head.open_alerts() + 1);
    if (a.severity == "critical") head.set_open_critical_alerts(head.open_critical_alerts() + 1);
  }
  // Worst first, by name within a health (the records' order).
  std::stable_sort(listed.begin(), listed.end(),
                   [](const Listed& a, const Listed& b) { return a.rank < b.rank; });

  std::string out;
  size_t size = head.ByteSizeLong();
  for (const Listed& l : listed) {
    size += l.entry->summary_bytes.size() + (l.judged_end - l.judged_begin) + 8;
  }
  out.reserve(size);
  head.AppendToString(&out);
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    const absl::string_view all_judged(judged_bytes);
    for (const Listed& l : listed) {
      const std::string& summary = l.entry->summary_bytes;
      const absl::string_view judged =
          all_judged.substr(l.judged_begin, l.judged_end - l.judged_begin);
      coded.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
          v1::FleetSummaryResponse::kServerListFieldNumber,
          google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
      coded.WriteVarint32(static_cast<uint32_t>(summary.size() + judged.size()));
      coded.WriteRaw(summary.data(), static_cast<int>(summary.size()));
      coded.WriteRaw(judged.data(), static_cast<int>(judged.size()));
    }
  }  // the stream trims `out` to what was written
  return out;
}

absl::StatusOr<v1::FleetSummaryResponse> QueryService::FleetSummary(
    const v1::FleetSummaryRequest& request) const {
  SYNCWATCH_ASSIGN_OR_RETURN(const std::string bytes, FleetSummaryBytes(request));
  v1::FleetSummaryResponse out;
  if (!out.ParseFromString(bytes)) {
    return absl::InternalError("FleetSummary: the assembled answer does not parse");
  }
  return out;
}

absl::StatusOr<v1::GetServerResponse> QueryService::GetServer(
    const v1::GetServerRequest& request) const {
  if (request.server().empty()) return absl::InvalidArgumentError("GetServer: server is empty");
  v1::Filter only;
  only.set_server(request.server());
  SYNCWATCH_ASSIGN_OR_RETURN(std::vector<v1::ServerInfo> found,
                             JudgedServers(only, FiringAlerts()));
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no server named \"", request.server(), "\" has reported to this collector"));
  }
  v1::GetServerResponse out;
  *out.mutable_server() = std::move(found.front());
  const v1::ServerInfo& info = out.server();

  // Runs: from `since` on, per connector (keys are server, connector, start).
  const int64_t since = ToUnixMicrosOrZero(
      request.has_runs_since() ? request.runs_since()
                               : ToProtoTimestamp(clock_.Now() - kDefaultRunsWindow));
  // The newest max_runs runs of all connectors: each connector's keys walked
  // backwards (newest first), merged by start time, so that no more runs are
  // parsed than the page shows (plus one per connector).
  const size_t max_runs = static_cast<size_t>(Limit(request.max_runs(), kDefaultMaxRuns));
  struct Cursor {
    std::string lower;
    std::string bound;
    rocksdb::Slice bound_slice;
    std::unique_ptr<rocksdb::Iterator> it;
    std::optional<v1::StoredRun> head;
  };
  std::vector<Cursor> cursors(static_cast<size_t>(info.connectors_size()));
  // Parses the run under the cursor into head, or leaves head empty at its end.
  auto advance = [](Cursor& c) -> absl::Status {
    c.head.reset();
    if (!c.it->Valid() || c.it->key().compare(rocksdb::Slice(c.lower)) < 0) {
      return FromRocksStatus(c.it->status(), "read runs");
    }
    SYNCWATCH_ASSIGN_OR_RETURN(c.head, ParseRecord<v1::StoredRun>(c.it->value()));
    c.it->Prev();
    return absl::OkStatus();
  };
  for (int i = 0; i < info.connectors_size(); ++i) {
    const std::string& connector = info.connectors(i).connector();
    Cursor& c = cursors[static_cast<size_t>(i)];
    c.lower = KeyBuilder().String(info.server()).String(connector).Int64(since).Take();
    c.bound = PrefixUpperBound(ServerConnectorPrefix(info.server(), connector));
    c.bound_slice = rocksdb::Slice(c.bound);
    c.it = store_.NewIterator(Family::kRuns, &c.bound_slice);
    c.it->SeekForPrev(c.bound_slice);
    SYNCWATCH_RETURN_IF_ERROR(advance(c));
  }
  while (static_cast<size_t>(out.runs_size()) < max_runs) {
    Cursor* newest = nullptr;
    for (Cursor& c : cursors) {
      if (!c.head) continue;
      if (newest == nullptr || ToUnixMicrosOrZero(c.head->run().start_time()) >
                                   ToUnixMicrosOrZero(newest->head->run().start_time())) {
        newest = &c;
      }
    }
    if (newest == nullptr) break;
    *out.add_runs() = std::move(*newest->head);
    SYNCWATCH_RETURN_IF_ERROR(advance(*newest));
  }

  const std::string prefix = ServerPrefix(info.server());
  const std::string bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice(bound);
  {
    auto it = store_.NewIterator(Family::kSnapshots, &bound_slice);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      SYNCWATCH_ASSIGN_OR_RETURN(*out.add_pending_exports(),
                                 ParseRecord<v1::StoredPendingExports>(it->value()));
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read pending exports"));
  }
  {
    const int max_errors = Limit(request.max_errors(), kDefaultMaxErrors);
    auto it = store_.NewIterator(Family::kExportErrors, &bound_slice);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (out.export_errors_size() == max_errors) {
        out.set_export_errors_truncated(true);
        break;
      }
      SYNCWATCH_ASSIGN_OR_RETURN(*out.add_export_errors(),
                                 ParseRecord<v1::StoredExportError>(it->value()));
    }
    SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read export errors"));
  }
  {
    std::vector<v1::Alert> alerts;
    if (options_.alerts != nullptr) {
      // The server's own scope (alerts::ServerScope): a prefix of the keys.
      SYNCWATCH_ASSIGN_OR_RETURN(
          alerts, options_.alerts->List(absl::StrCat("server/", info.server()), std::nullopt));
    } else {
      auto it = store_.NewIterator(Family::kAlerts, nullptr);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        SYNCWATCH_ASSIGN_OR_RETURN(v1::Alert a, ParseRecord<v1::Alert>(it->value()));
        if (a.server() == info.server()) alerts.push_back(std::move(a));
      }
      SYNCWATCH_RETURN_IF_ERROR(FromRocksStatus(it->status(), "read alerts"));
    }
    std::sort(alerts.begin(), alerts.end(), [](const v1::Alert& a, const v1::Alert& b) {
      const bool af = a.state() == v1::ALERT_STATE_FIRING;
      const bool bf = b.state() == v1::ALERT_STATE_FIRING;
      if (af != bf) return af;
      return ToUnixMicrosOrZero(a.last_change()) > ToUnixMicrosOrZero(b.last_change());
    });
    for (v1::Alert& a : alerts) {
      if (options_.alerts != nullptr) options_.alerts->MarkSilenced(&a, clock_.Now());
      *out.add_alerts() = std::move(a);
    }
  }
  {
    constexpr size_t kMaxChanges = 200;
    SYNCWATCH_ASSIGN_OR_RETURN(
        std::vector<v1::ConfigurationChange> changes,
        ReadConfigurationChanges(store_, info.server(), absl::InfinitePast()));
    for (size_t i = 0; i < changes.size() && i < kMaxChanges; ++i) {
      *out.add_configuration_changes() = std::move(changes[changes.size() - 1 - i]);
    }
  }
  return out;
}

grpc::ServerUnaryReactor* QueryService::FleetSummary(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::FleetSummaryRequest parsed;
  if (!ParseByteBuffer(*request, &parsed)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "FleetSummary: the request is not a FleetSummaryRequest"));
    return reactor;
  }
  absl::StatusOr<std::string> bytes = FleetSummaryBytes(parsed);
  if (!bytes.ok()) {
    reactor->Finish(ToGrpcStatus(bytes.status()));
    return reactor;
  }
  *response = ByteBufferOf(*std::move(bytes));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::Status QueryService::GetServer(grpc::ServerContext*, const v1::GetServerRequest* request,
                                     v1::GetServerResponse* response) {
  auto out = GetServer(*request);
  if (!out.ok()) return ToGrpcStatus(out.status());
  *response = *std::move(out);
  return grpc::Status::OK;
}

grpc::Status QueryService::ListRuns(grpc::ServerContext*, const v1::ListRunsRequest* request,
                                    v1::ListRunsResponse* response) {
  const v1::Filter& f = request->filter();
  absl::Status st = ScanPage(
      store_, Family::kRuns, PrefixFor(f), request->page_token(), PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto run = ParseRecord<v1::StoredRun>(bytes);
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
        auto s = ParseRecord<v1::StoredPendingExports>(bytes);
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
        auto e = ParseRecord<v1::StoredExportError>(bytes);
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
        auto a = ParseRecord<v1::Alert>(bytes);
        if (!a.ok()) return a.status();
        if (request->state() != v1::ALERT_STATE_UNSPECIFIED && a->state() != request->state()) {
          return false;
        }
        if (!f.server().empty() && f.server() != a->server()) return false;
        if (!MatchesCommon(f, a->tenant(), a->connector())) return false;
        if (!AtOrAfter(a->last_change(), f)) return false;
        if (options_.alerts != nullptr) options_.alerts->MarkSilenced(&*a, clock_.Now());
        *response->add_alerts() = *std::move(a);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

grpc::Status QueryService::ListConfigurationChanges(
    grpc::ServerContext*, const v1::ListConfigurationChangesRequest* request,
    v1::ListConfigurationChangesResponse* response) {
  const v1::Filter& f = request->filter();
  if (!f.result().empty() || !f.error_type().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "ListConfigurationChanges: filter.result and filter.error_type do not apply"));
  }
  absl::Status st = ScanPage(
      store_, Family::kConfigurationChanges, f.server().empty() ? "" : ServerPrefix(f.server()),
      request->page_token(), PageSize(request->page_size()),
      [&](absl::string_view bytes) -> absl::StatusOr<bool> {
        auto c = ParseRecord<v1::ConfigurationChange>(bytes);
        if (!c.ok()) return c.status();
        if (!MatchesCommon(f, c->tenant(), c->connector())) return false;
        if (!AtOrAfter(c->detected_at(), f)) return false;
        *response->add_changes() = *std::move(c);
        return true;
      },
      response->mutable_next_page_token());
  return ToGrpcStatus(st);
}

grpc::Status QueryService::ListConfigurationDrift(grpc::ServerContext*,
                                                  const v1::ListConfigurationDriftRequest* request,
                                                  v1::ListConfigurationDriftResponse* response) {
  const v1::Filter& f = request->filter();
  if (!f.connector().empty() || f.has_since() || !f.result().empty() || !f.error_type().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "ListConfigurationDrift: only filter.server and filter.tenant apply"));
  }
  // The tenant's active server is the reference even when only a staging
  // server is asked for.
  v1::Filter tenants;
  tenants.set_tenant(f.tenant());
  auto servers = JudgedServers(tenants, {});
  if (!servers.ok()) return ToGrpcStatus(servers.status());
  auto drift = ComputeDrift(store_, *servers);
  if (!drift.ok()) return ToGrpcStatus(drift.status());
  for (v1::ConfigurationDrift& d : *drift) {
    if (!f.server().empty() && d.server() != f.server()) continue;
    *response->add_drift() = std::move(d);
  }
  return grpc::Status::OK;
}

grpc::Status QueryService::ExplainDeletes(grpc::ServerContext*,
                                          const v1::ExplainDeletesRequest* request,
                                          v1::ExplainDeletesResponse* response) {
  const v1::Filter& f = request->filter();
  if (f.has_since() || !f.result().empty() || !f.error_type().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "ExplainDeletes: only filter.server, filter.tenant and filter.connector apply"));
  }
  v1::Filter servers_filter;
  servers_filter.set_server(f.server());
  servers_filter.set_tenant(f.tenant());
  auto servers = JudgedServers(servers_filter, {});
  if (!servers.ok()) return ToGrpcStatus(servers.status());
  for (const v1::ServerInfo& info : *servers) {
    v1::Filter one = f;
    one.set_server(info.server());
    v1::ListPendingExportsResponse snapshots;
    std::string token;
    do {  // pages end at kMaxPageBytes too: walk them all
      const std::string from = std::move(token);
      absl::Status st = ScanPage(
          store_, Family::kSnapshots, PrefixFor(one), from, kMaxPageSize,
          [&](absl::string_view bytes) -> absl::StatusOr<bool> {
            auto s = ParseRecord<v1::StoredPendingExports>(bytes);
            if (!s.ok()) return s.status();
            if (!MatchesCommon(one, s->tenant(), s->snapshot().connector_name())) return false;
            if (s->snapshot().pending_deletes() <= 0) return false;
            *snapshots.add_snapshots() = *std::move(s);
            return true;
          },
          &token);
      if (!st.ok()) return ToGrpcStatus(st);
    } while (!token.empty());
    for (const v1::StoredPendingExports& s : snapshots.snapshots()) {
      auto evidence = ReadDeleteEvidence(store_, info, s.snapshot());
      if (!evidence.ok()) return ToGrpcStatus(evidence.status());
      v1::DeleteExplanation* e = response->add_explanations();
      e->set_server(info.server());
      e->set_tenant(info.tenant());
      e->set_connector(s.snapshot().connector_name());
      e->set_pending_deletes(s.snapshot().pending_deletes());
      for (v1::DeleteCause& c : config::ExplainDeletes(*evidence)) {
        *e->add_causes() = std::move(c);
      }
    }
  }
  return grpc::Status::OK;
}

}  // namespace syncwatch::collector
