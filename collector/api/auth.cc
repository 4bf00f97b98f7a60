#include "collector/api/auth.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace syncwatch::collector {
namespace {

constexpr size_t kMinTokenLength = 16;

// Equal strings, in a time that depends only on their lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

// The principal of the Query call running on this thread, set by
// AuthenticatedQueryService for the duration of the call (the Query service
// answers each call on one thread from start to end: synchronous calls, and
// FleetSummary, which finishes before its handler returns).
struct CallPrincipal {
  const grpc::ServerContextBase* context = nullptr;
  const Principal* principal = nullptr;
};
thread_local CallPrincipal current_call;

class ScopedCallPrincipal {
 public:
  ScopedCallPrincipal(const grpc::ServerContextBase* context, const Principal* principal)
      : saved_(current_call) {
    current_call = {context, principal};
  }
  ~ScopedCallPrincipal() { current_call = saved_; }
  ScopedCallPrincipal(const ScopedCallPrincipal&) = delete;
  ScopedCallPrincipal& operator=(const ScopedCallPrincipal&) = delete;

 private:
  const CallPrincipal saved_;
};

}  // namespace

absl::string_view RoleName(Role role) { return role == Role::kAdmin ? "admin" : "read"; }

absl::StatusOr<TokenSet> TokenSet::Parse(absl::string_view text, absl::string_view path) {
  TokenSet set;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", why));
    };
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3) {
      return error(absl::StrCat("want \"TOKEN ROLE NAME\" (3 fields), found ", fields.size()));
    }
    Entry entry;
    entry.token = std::string(fields[0]);
    if (entry.token.size() < kMinTokenLength) {
      return error(absl::StrCat("the token is shorter than ", kMinTokenLength,
                                " characters (use e.g. `openssl rand -hex 32`)"));
    }
    if (fields[1] == "read") {
      entry.principal.role = Role::kRead;
    } else if (fields[1] == "admin") {
      entry.principal.role = Role::kAdmin;
    } else {
      return error(absl::StrCat("unknown role \"", fields[1], "\"; want read or admin"));
    }
    entry.principal.name = std::string(fields[2]);
    for (const Entry& other : set.entries_) {
      if (other.principal.name == entry.principal.name) {
        return error(absl::StrCat("the name \"", entry.principal.name, "\" is used twice"));
      }
      if (other.token == entry.token) {
        return error(absl::StrCat("the token of \"", entry.principal.name,
                                  "\" is also the token of \"", other.principal.name, "\""));
      }
    }
    set.entries_.push_back(std::move(entry));
  }
  if (set.entries_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no tokens"));
  }
  return set;
}

absl::StatusOr<TokenSet> TokenSet::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the tokens file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

const Principal* TokenSet::Find(absl::string_view token) const {
  const Principal* found = nullptr;
  // No early exit: the time taken does not tell which entry matched.
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(e.token, token) && found == nullptr) found = &e.principal;
  }
  return found;
}

std::vector<std::string> TokenSet::Names() const {
  std::vector<std::string> names;
  for (const Entry& e : entries_) {
    names.push_back(absl::StrCat(e.principal.name, " (", RoleName(e.principal.role), ")"));
  }
  return names;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(std::string tokens_file) {
  std::unique_ptr<Authenticator> auth(new Authenticator(std::move(tokens_file)));
  struct stat st;
  if (stat(auth->path_.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read the tokens file ", auth->path_));
  }
  auto tokens = TokenSet::Load(auth->path_);
  if (!tokens.ok()) return tokens.status();
  if ((st.st_mode & S_IROTH) != 0) {
    SYNCWATCH_LOG(kWarning, "the tokens file ", auth->path_,
                  " is readable by every user; chmod 600 it");
  }
  SYNCWATCH_LOG(kInfo, "access control on: ", tokens->size(), " tokens from ", auth->path_, ": ",
                absl::StrJoin(tokens->Names(), ", "));
  MutexLock lock(&auth->mu_);
  auth->tokens_ = std::make_shared<const TokenSet>(*std::move(tokens));
  auth->last_check_ = absl::Now();
  auth->mtime_ns_ = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  auth->size_ = st.st_size;
  return auth;
}

void Authenticator::MaybeReload() {
  MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - last_check_ < absl::Seconds(1)) return;
  last_check_ = now;
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return;  // gone for now: keep what we have
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime_ns == mtime_ns_ && st.st_size == size_) return;
  mtime_ns_ = mtime_ns;
  size_ = st.st_size;
  auto tokens = TokenSet::Load(path_);
  if (!tokens.ok()) {
    SYNCWATCH_LOG(kWarning, "the tokens file changed but cannot be used (",
                  tokens.status().message(), "); the tokens read before stay in force");
    return;
  }
  SYNCWATCH_LOG(kInfo, "re-read ", tokens->size(), " tokens from ", path_, ": ",
                absl::StrJoin(tokens->Names(), ", "));
  tokens_ = std::make_shared<const TokenSet>(*std::move(tokens));
}

absl::StatusOr<Principal> Authenticator::Authenticate(absl::string_view authorization) {
  MaybeReload();
  std::shared_ptr<const TokenSet> tokens;
  {
    MutexLock lock(&mu_);
    tokens = tokens_;
  }
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "this collector requires a token: send \"authorization: Bearer TOKEN\"");
  }
  absl::string_view token = absl::StripAsciiWhitespace(authorization);
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError("the authorization is not \"Bearer TOKEN\"");
  }
  const Principal* principal = tokens->Find(absl::StripAsciiWhitespace(token));
  if (principal == nullptr) return absl::UnauthenticatedError("unknown token");
  return *principal;
}

absl::Status RequireRole(const Principal& principal, Role role) {
  if (principal.role >= role) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("\"", principal.name, "\" has role ",
                                                  RoleName(principal.role), "; this needs ",
                                                  RoleName(role)));
}

absl::Status RequireRole(const grpc::ServerContextBase& context, Role role) {
  if (current_call.context != &context) return absl::OkStatus();  // no access control
  if (current_call.principal == nullptr) return absl::UnauthenticatedError("no token");
  return RequireRole(*current_call.principal, role);
}

std::string CallerName(const grpc::ServerContextBase& context) {
  if (current_call.context == &context && current_call.principal != nullptr) {
    return current_call.principal->name;
  }
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& name : auth->GetPeerIdentity()) {
      if (name.size() > 0) return std::string(name.data(), name.size());
    }
  }
  return "anonymous";
}

namespace {

// Authenticates the call against `auth`, and checks that its principal has
// `role`; the principal for RequireRole, or the error to answer with.
absl::StatusOr<Principal> Admit(Authenticator& auth, grpc::ServerContextBase* context,
                                absl::string_view rpc, Role role) {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  const absl::string_view header = it == metadata.end()
                                       ? absl::string_view()
                                       : absl::string_view(it->second.data(), it->second.size());
  absl::StatusOr<Principal> principal = auth.Authenticate(header);
  if (!principal.ok()) {
    SYNCWATCH_LOG(kWarning, "refused ", rpc, " from ", context->peer(), ": ",
                  principal.status().message());
    return principal.status();
  }
  const absl::Status allowed = RequireRole(*principal, role);
  if (!allowed.ok()) {
    SYNCWATCH_LOG(kWarning, "refused ", rpc, " from ", context->peer(), ": ", allowed.message());
    return allowed;
  }
  return principal;
}

}  // namespace

// Each call: admit it with `role`, then run the inner service with its
// principal in reach of RequireRole.
#define SYNCWATCH_AUTHENTICATED_RPC(Service, Rpc, Response, role)                          \
  grpc::Status Service::Rpc(grpc::ServerContext* context, const v1::Rpc##Request* request, \
                            v1::Response* response) {                                      \
    const absl::StatusOr<Principal> principal = Admit(auth_, context, #Rpc, role);         \
    if (!principal.ok()) return ToGrpcStatus(principal.status());                          \
    const ScopedCallPrincipal scope(context, &*principal);                                 \
    return inner_.Rpc(context, request, response);                                         \
  }
#define SYNCWATCH_QUERY_RPC(Rpc) \
  SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedQueryService, Rpc, Rpc##Response, Role::kRead)
SYNCWATCH_QUERY_RPC(GetServer)
SYNCWATCH_QUERY_RPC(ListServers)
SYNCWATCH_QUERY_RPC(ListRuns)
SYNCWATCH_QUERY_RPC(ListPendingExports)
SYNCWATCH_QUERY_RPC(ListExportErrors)
SYNCWATCH_QUERY_RPC(ListAlerts)
SYNCWATCH_QUERY_RPC(ListConfigurationChanges)
SYNCWATCH_QUERY_RPC(ListConfigurationDrift)
SYNCWATCH_QUERY_RPC(ExplainDeletes)
#undef SYNCWATCH_QUERY_RPC
SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedAdminService, AckAlert, AckAlertResponse, Role::kAdmin)
SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedAdminService, CreateSilence, CreateSilenceResponse,
                            Role::kAdmin)
SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedAdminService, ListSilences, ListSilencesResponse,
                            Role::kRead)
SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedAdminService, DeleteSilence, DeleteSilenceResponse,
                            Role::kAdmin)
SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedAdminService, GetRetention, GetRetentionResponse,
                            Role::kRead)
SYNCWATCH_AUTHENTICATED_RPC(AuthenticatedAdminService, SetRetention, GetRetentionResponse,
                            Role::kAdmin)
#undef SYNCWATCH_AUTHENTICATED_RPC

grpc::ServerUnaryReactor* AuthenticatedQueryService::FleetSummary(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  const absl::StatusOr<Principal> principal = Admit(auth_, context, "FleetSummary", Role::kRead);
  if (!principal.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(principal.status()));
    return reactor;
  }
  const ScopedCallPrincipal scope(context, &*principal);
  return inner_.FleetSummary(context, request, response);
}

}  // namespace syncwatch::collector
