// A small Azure AD Connect configuration for the tests: an AD connector
// (contoso.com) with OU filtering, the Entra ID connector, and three rules.
#ifndef SYNCWATCH_COLLECTOR_CONFIG_TEST_CONFIGURATION_H_
#define SYNCWATCH_COLLECTOR_CONFIG_TEST_CONFIGURATION_H_

#include <string>

#include "syncwatch/v1/event.pb.h"

namespace syncwatch::collector::config::testing {

inline constexpr char kAd[] = "contoso.com";
inline constexpr char kAad[] = "contoso.onmicrosoft.com - AAD";
inline constexpr char kCorp[] = "OU=CORP,DC=contoso,DC=com";
inline constexpr char kUserJoin[] = "In from AD - User Join";
inline constexpr char kOutUserJoin[] = "Out to AAD - User Join";
inline constexpr char kCustom[] = "In from AD - Contractors";

// `guid_seed` varies every id, as on another server with the same rules.
inline v1::ServerConfiguration SampleConfiguration(const std::string& guid_seed) {
  v1::ServerConfiguration c;
  c.mutable_taken_at()->set_seconds(1714550400);  // 2024-05-01T08:00:00Z
  v1::ConnectorConfiguration* aad = c.add_connectors();
  aad->set_name(kAad);
  aad->set_id(guid_seed + "-aad");
  aad->set_type("Extensible2");
  v1::ConnectorConfiguration* ad = c.add_connectors();
  ad->set_name(kAd);
  ad->set_id(guid_seed + "-ad");
  ad->set_type("AD");
  v1::ConnectorPartition* p = ad->add_partitions();
  p->set_name("DC=contoso,DC=com");
  p->set_selected(true);
  p->add_object_classes("group");
  p->add_object_classes("user");
  p->add_inclusions(kCorp);
  p->add_inclusions("OU=Servers,DC=contoso,DC=com");
  p->add_exclusions("OU=Disabled,OU=CORP,DC=contoso,DC=com");
  auto rule = [&](const char* name, const std::string& tag, const char* direction,
                  const char* connector, const char* link, int64_t precedence) {
    v1::SyncRuleConfiguration* r = c.add_rules();
    r->set_name(name);
    r->set_id(guid_seed + "-" + name);
    r->set_immutable_tag(tag);
    r->set_direction(direction);
    r->set_connector(connector);
    r->set_connector_id(guid_seed + "-" + connector);
    r->set_link_type(link);
    r->set_precedence(precedence);
    r->set_source_object_type(direction == std::string("inbound") ? "user" : "person");
    r->set_target_object_type(direction == std::string("inbound") ? "person" : "user");
    r->set_scoping_filter("(isCriticalSystemObject NOTEQUAL 'TRUE')");
    r->set_attribute_flows_digest("aa11bb22cc33dd44ee55ff66");
    r->set_attribute_flow_count(12);
    return r;
  };
  rule(kUserJoin, "Microsoft.InfromADUserJoin.003", "inbound", kAd, "Provision", 104)
      ->set_join_criteria("(objectGUID = sourceAnchorBinary)");
  rule(kOutUserJoin, "Microsoft.OuttoAADUserJoin.003", "outbound", kAad, "Provision", 112)
      ->set_scoping_filter("(sourceObjectType EQUAL 'User' AND cloudFiltered NOTEQUAL 'true')");
  rule(kCustom, "", "inbound", kAd, "Join", 50);
  c.set_digest(guid_seed.empty() ? "d0" : "d1");
  return c;
}

inline v1::SyncRuleConfiguration* FindRule(v1::ServerConfiguration* c, const std::string& name) {
  for (auto& r : *c->mutable_rules()) {
    if (r.name() == name) return &r;
  }
  return nullptr;
}

}  // namespace syncwatch::collector::config::testing

#endif  // SYNCWATCH_COLLECTOR_CONFIG_TEST_CONFIGURATION_H_
