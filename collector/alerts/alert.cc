#include "collector/alerts/alert.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/names.h"

namespace syncwatch::collector::alerts {
namespace {

// Lower-cased attribute names whose values Entra ID compares without case.
constexpr absl::string_view kCaseInsensitive[] = {"userprincipalname", "proxyaddresses", "mail",
                                                  "signinname", "sipproxyaddress"};

constexpr struct {
  absl::string_view lower;
  absl::string_view canonical;
} kCanonicalNames[] = {
    {"userprincipalname", "userPrincipalName"},
    {"proxyaddresses", "proxyAddresses"},
    {"proxyaddress", "proxyAddresses"},
    {"mail", "mail"},
    {"signinname", "signInName"},
    {"sipproxyaddress", "sipProxyAddress"},
    {"onpremisesecurityidentifier", "onPremiseSecurityIdentifier"},
    {"onpremisessecurityidentifier", "onPremisesSecurityIdentifier"},
};

}  // namespace

bool IsEntraConnector(absl::string_view connector_name, absl::string_view connector_id) {
  absl::string_view id = absl::StripAsciiWhitespace(connector_id);
  absl::ConsumePrefix(&id, "{");
  absl::ConsumeSuffix(&id, "}");
  if (absl::EqualsIgnoreCase(id, kEntraConnectorId)) return true;
  return absl::EndsWithIgnoreCase(absl::StripTrailingAsciiWhitespace(connector_name), " - AAD");
}

std::string CanonicalAttribute(absl::string_view attribute) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(attribute));
  for (const auto& name : kCanonicalNames) {
    if (name.lower == lower) return std::string(name.canonical);
  }
  return std::string(absl::StripAsciiWhitespace(attribute));
}

std::string FoldValue(absl::string_view attribute, absl::string_view value) {
  const std::string lower_attr = absl::AsciiStrToLower(CanonicalAttribute(attribute));
  std::string v(absl::StripAsciiWhitespace(value));
  for (absl::string_view name : kCaseInsensitive) {
    if (name == lower_attr) return absl::AsciiStrToLower(v);
  }
  return v;
}

std::string Fingerprint(const std::map<std::string, std::string>& labels) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](absl::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    // A separator byte that UTF-8 text never contains keeps ("ab","c") and
    // ("a","bc") apart.
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& [name, value] : labels) {  // std::map: sorted by name
    mix(name);
    mix(value);
  }
  return absl::StrFormat("%016x", h);
}

AlertBuilder::AlertBuilder(absl::string_view name, absl::string_view severity) {
  alert_.set_name(std::string(name));
  alert_.set_severity(std::string(severity));
  Label("alertname", name);
  Label("severity", severity);
}

AlertBuilder& AlertBuilder::Server(absl::string_view server) {
  alert_.set_server(std::string(server));
  return Label("server", server);
}

AlertBuilder& AlertBuilder::Tenant(absl::string_view tenant) {
  alert_.set_tenant(std::string(tenant));
  return Label("tenant", tenant);
}

AlertBuilder& AlertBuilder::Connector(absl::string_view connector) {
  alert_.set_connector(std::string(connector));
  return Label("connector", connector);
}

AlertBuilder& AlertBuilder::Role(v1::ServerRole role) {
  return Label("role", ServerRoleName(role));
}

AlertBuilder& AlertBuilder::Label(absl::string_view name, absl::string_view value) {
  if (value.empty()) {
    alert_.mutable_labels()->erase(std::string(name));
  } else {
    (*alert_.mutable_labels())[std::string(name)] = std::string(value);
  }
  return *this;
}

AlertBuilder& AlertBuilder::Summary(absl::string_view summary) {
  alert_.set_summary(std::string(summary));
  return Annotation("summary", summary);
}

AlertBuilder& AlertBuilder::Description(absl::string_view description) {
  return Annotation("description", description);
}

AlertBuilder& AlertBuilder::Annotation(absl::string_view name, absl::string_view value) {
  (*alert_.mutable_annotations())[std::string(name)] = std::string(value);
  return *this;
}

v1::Alert AlertBuilder::Build() const {
  v1::Alert alert = alert_;
  const std::map<std::string, std::string> sorted(alert.labels().begin(), alert.labels().end());
  alert.set_fingerprint(Fingerprint(sorted));
  return alert;
}

}  // namespace syncwatch::collector::alerts
