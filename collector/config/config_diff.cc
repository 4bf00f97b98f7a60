#include "collector/config/config_diff.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace syncwatch::collector::config {
namespace {

const v1::ConnectorPartition& EmptyPartition() {
  static const v1::ConnectorPartition* const empty = new v1::ConnectorPartition();
  return *empty;
}

// The key a rule is matched by across configurations and servers.
std::string RuleKey(const v1::SyncRuleConfiguration& r) {
  return r.immutable_tag().empty() ? absl::StrCat("name:", r.name())
                                   : absl::StrCat("tag:", r.immutable_tag());
}

std::string RuleLabel(const v1::SyncRuleConfiguration& r) {
  return absl::StrCat("sync rule '", r.name(), "' (", r.connector(), ", ", r.direction(), ")");
}

std::string Flows(const v1::SyncRuleConfiguration& r) {
  return absl::StrCat(r.attribute_flow_count(), " flows, digest ",
                      r.attribute_flows_digest().substr(0, 12));
}

// One side's value, shown as "(none)" when empty.
std::string Shown(const std::string& v) { return v.empty() ? "(none)" : v; }

class Differ {
 public:
  std::vector<Difference> Run(const v1::ServerConfiguration& before,
                              const v1::ServerConfiguration& after) {
    Connectors(before, after);
    Rules(before, after);
    return std::move(out_);
  }

 private:
  Difference& Add(std::string kind, const std::string& connector) {
    Difference& d = out_.emplace_back();
    d.kind = std::move(kind);
    d.connector = connector;
    return d;
  }

  void Connectors(const v1::ServerConfiguration& before, const v1::ServerConfiguration& after) {
    std::map<std::string, const v1::ConnectorConfiguration*> b;
    std::map<std::string, const v1::ConnectorConfiguration*> a;
    for (const auto& c : before.connectors()) b[c.name()] = &c;
    for (const auto& c : after.connectors()) a[c.name()] = &c;
    for (const auto& [name, c] : b) {
      if (a.count(name) != 0) continue;
      Difference& d = Add("connector-removed", name);
      d.before = name;
      d.summary = absl::StrCat("connector ", name, " (", c->type(), ") removed");
    }
    for (const auto& [name, c] : a) {
      auto old = b.find(name);
      if (old == b.end()) {
        Difference& d = Add("connector-added", name);
        d.after = name;
        d.summary = absl::StrCat("connector ", name, " (", c->type(), ") added");
        continue;
      }
      Partitions(name, *old->second, *c);
    }
  }

  void Partitions(const std::string& connector, const v1::ConnectorConfiguration& before,
                  const v1::ConnectorConfiguration& after) {
    std::map<std::string, std::pair<const v1::ConnectorPartition*, const v1::ConnectorPartition*>>
        both;
    for (const auto& p : before.partitions()) both[p.name()].first = &p;
    for (const auto& p : after.partitions()) both[p.name()].second = &p;
    for (const auto& [name, pair] : both) {
      const v1::ConnectorPartition& b = pair.first ? *pair.first : EmptyPartition();
      const v1::ConnectorPartition& a = pair.second ? *pair.second : EmptyPartition();
      if (b.selected() != a.selected()) {
        Difference& d =
            Add(a.selected() ? "partition-selected" : "partition-unselected", connector);
        d.partition = name;
        d.before = b.selected() ? "selected" : "not selected";
        d.after = a.selected() ? "selected" : "not selected";
        d.summary = absl::StrCat(name, a.selected() ? " selected in " : " unselected in ",
                                 connector, "'s partitions");
      }
      Sets(connector, name, b.inclusions(), a.inclusions(), "container-no-longer-included",
           "container-included", " no longer included in ", " included in ", "'s OU filtering");
      Sets(connector, name, b.exclusions(), a.exclusions(), "container-no-longer-excluded",
           "container-excluded", " no longer excluded from ", " excluded from ", "'s OU filtering");
      Sets(connector, name, b.object_classes(), a.object_classes(), "object-class-removed",
           "object-class-added", " removed from ", " added to ", "'s object types");
    }
  }

  // Members of `before` missing from `after` (gone_kind) and the reverse.
  void Sets(const std::string& connector, const std::string& partition,
            const google::protobuf::RepeatedPtrField<std::string>& before,
            const google::protobuf::RepeatedPtrField<std::string>& after, const char* gone_kind,
            const char* new_kind, const char* gone_words, const char* new_words,
            const char* where) {
    const std::set<std::string> b(before.begin(), before.end());
    const std::set<std::string> a(after.begin(), after.end());
    for (const std::string& v : b) {
      if (a.count(v) != 0) continue;
      Difference& d = Add(gone_kind, connector);
      d.partition = partition;
      d.before = v;
      d.summary = absl::StrCat(v, gone_words, connector, where);
    }
    for (const std::string& v : a) {
      if (b.count(v) != 0) continue;
      Difference& d = Add(new_kind, connector);
      d.partition = partition;
      d.after = v;
      d.summary = absl::StrCat(v, new_words, connector, where);
    }
  }

  void Rules(const v1::ServerConfiguration& before, const v1::ServerConfiguration& after) {
    std::map<std::string,
             std::pair<const v1::SyncRuleConfiguration*, const v1::SyncRuleConfiguration*>>
        both;
    for (const auto& r : before.rules()) both[RuleKey(r)].first = &r;
    for (const auto& r : after.rules()) both[RuleKey(r)].second = &r;
    for (const auto& [key, pair] : both) {
      const v1::SyncRuleConfiguration* b = pair.first;
      const v1::SyncRuleConfiguration* a = pair.second;
      if (a == nullptr || b == nullptr) {
        const v1::SyncRuleConfiguration& r = a ? *a : *b;
        Difference& d = Add(a ? "rule-added" : "rule-removed", r.connector());
        d.rule = r.name();
        d.link_type = r.link_type();
        (a ? d.after : d.before) = absl::StrCat(r.link_type(), r.disabled() ? ", disabled" : "");
        d.summary = absl::StrCat(RuleLabel(r), a ? " added" : " removed");
        continue;
      }
      RuleFields(*b, *a);
    }
  }

  void RuleFields(const v1::SyncRuleConfiguration& b, const v1::SyncRuleConfiguration& a) {
    const std::string label = RuleLabel(a);
    auto field = [&](const char* kind, const std::string& before, const std::string& after,
                     const char* what) {
      if (before == after) return;
      Difference& d = Add(kind, a.connector());
      d.rule = a.name();
      d.link_type = a.link_type();
      d.before = before;
      d.after = after;
      d.summary = absl::StrCat(label, " ", what, ": ", Shown(before), " -> ", Shown(after));
    };
    if (b.disabled() != a.disabled()) {
      Difference& d = Add(a.disabled() ? "rule-disabled" : "rule-enabled", a.connector());
      d.rule = a.name();
      d.link_type = a.link_type();
      d.before = b.disabled() ? "disabled" : "enabled";
      d.after = a.disabled() ? "disabled" : "enabled";
      d.summary = absl::StrCat(label, a.disabled() ? " disabled" : " enabled");
    }
    field("link-type-changed", b.link_type(), a.link_type(), "link type");
    if (b.link_type() != a.link_type()) out_.back().link_type = b.link_type();
    field("scoping-filter-changed", b.scoping_filter(), a.scoping_filter(), "scoping filter");
    field("join-criteria-changed", b.join_criteria(), a.join_criteria(), "join criteria");
    field("precedence-changed", absl::StrCat(b.precedence()), absl::StrCat(a.precedence()),
          "precedence");
    if (b.attribute_flows_digest() != a.attribute_flows_digest() ||
        b.attribute_flow_count() != a.attribute_flow_count()) {
      field("attribute-flows-changed", Flows(b), Flows(a), "attribute flows");
    }
  }

  std::vector<Difference> out_;
};

// The fields a change and a drift share.
template <typename Message>
void SetCommon(const std::string& server, const std::string& tenant, Difference& d, Message* m) {
  m->set_server(server);
  m->set_tenant(tenant);
  m->set_kind(std::move(d.kind));
  m->set_connector(std::move(d.connector));
  m->set_partition(std::move(d.partition));
  m->set_rule(std::move(d.rule));
}

}  // namespace

const std::vector<std::string>& DifferenceKinds() {
  static const std::vector<std::string>* const kinds = new std::vector<std::string>{
      "connector-added",
      "connector-removed",
      "partition-selected",
      "partition-unselected",
      "container-included",
      "container-no-longer-included",
      "container-excluded",
      "container-no-longer-excluded",
      "object-class-added",
      "object-class-removed",
      "rule-added",
      "rule-removed",
      "rule-enabled",
      "rule-disabled",
      "link-type-changed",
      "scoping-filter-changed",
      "join-criteria-changed",
      "precedence-changed",
      "attribute-flows-changed",
  };
  return *kinds;
}

std::vector<Difference> Diff(const v1::ServerConfiguration& before,
                             const v1::ServerConfiguration& after) {
  return Differ().Run(before, after);
}

std::vector<v1::ConfigurationChange> ChangesBetween(const std::string& server,
                                                    const std::string& tenant,
                                                    const v1::ServerConfiguration& before,
                                                    const v1::ServerConfiguration& after) {
  std::vector<v1::ConfigurationChange> out;
  for (Difference& d : Diff(before, after)) {
    v1::ConfigurationChange& c = out.emplace_back();
    SetCommon(server, tenant, d, &c);
    *c.mutable_detected_at() = after.taken_at();
    c.set_link_type(std::move(d.link_type));
    c.set_before(std::move(d.before));
    c.set_after(std::move(d.after));
    c.set_summary(std::move(d.summary));
  }
  return out;
}

std::vector<v1::ConfigurationDrift> DriftBetween(const std::string& tenant,
                                                 const std::string& reference_server,
                                                 const v1::ServerConfiguration& reference,
                                                 const std::string& server,
                                                 const v1::ServerConfiguration& config) {
  std::vector<v1::ConfigurationDrift> out;
  for (Difference& d : Diff(reference, config)) {
    v1::ConfigurationDrift& c = out.emplace_back();
    SetCommon(server, tenant, d, &c);
    c.set_reference_server(reference_server);
    c.set_reference_value(std::move(d.before));
    c.set_value(std::move(d.after));
    c.set_summary(absl::StrCat(server, " differs from ", reference_server, ": ", d.summary));
  }
  return out;
}

}  // namespace syncwatch::collector::config
