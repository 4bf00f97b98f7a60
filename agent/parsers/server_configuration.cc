// `Get-ADSyncServerConfiguration` folders (docs/domain/server-configuration.md)
// read through XmlStream. The handlers keep only what goes into the message;
// the connectors' schema (most of a connector file) passes by unkept.
#include "agent/parsers/server_configuration.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/quote.h"
#include "agent/parsers/xml_stream.h"
#include "common/status_macros.h"
#include "common/text_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace syncwatch::agent {
namespace {

namespace fs = std::filesystem;
using internal::QuoteForMessage;
using internal::XmlStream;
using internal::XmlStreamHandler;

// What one file may make us keep (partition filters, scoping and join
// criteria, attribute flows). Real files keep a few KiB; the schema, which is
// not kept, does not count.
constexpr size_t kMaxKeptBytes = size_t{16} << 20;
// Files one folder may hold (a real server has a few connectors and 60-200 rules).
constexpr size_t kMaxFiles = 20000;

// The element path ("/ma-data/ma-partition-data/partition") of the element
// being reported, and a cap on what the handler keeps.
class PathTracker {
 public:
  void Push(absl::string_view name) {
    lens_.push_back(path_.size());
    absl::StrAppend(&path_, "/", name);
  }
  void Pop() {
    path_.resize(lens_.back());
    lens_.pop_back();
  }
  const std::string& path() const { return path_; }

  // Counts `bytes` against kMaxKeptBytes; fails the parse beyond it.
  bool Keep(XmlStream& xml, size_t bytes) {
    kept_ += bytes;
    if (kept_ <= kMaxKeptBytes) return true;
    xml.Fail(xml.element_line(), "more than 16 MiB of filters, criteria or flows");
    return false;
  }

 private:
  std::string path_;
  std::vector<size_t> lens_;
  size_t kept_ = 0;
};

bool ParseFlag(absl::string_view text, bool* out) {
  if (text == "1" || absl::EqualsIgnoreCase(text, "true")) {
    *out = true;
    return true;
  }
  if (text == "0" || absl::EqualsIgnoreCase(text, "false")) {
    *out = false;
    return true;
  }
  return false;
}

void SortStrings(google::protobuf::RepeatedPtrField<std::string>* values) {
  std::sort(values->begin(), values->end());
}

// ---- connectors -------------------------------------------------------------

class ConnectorHandler final : public XmlStreamHandler {
 public:
  explicit ConnectorHandler(v1::ConnectorConfiguration* out) : out_(out) {}

  void OnStartElement(XmlStream& xml, absl::string_view name, const char** /*attrs*/) override {
    path_.Push(name);
    const std::string& p = path_.path();
    if (xml.depth() == 1) {
      if (name != "ma-data") {
        xml.Fail(xml.element_line(), absl::StrCat("root element is <", name, ">, want <ma-data>"));
      }
      return;
    }
    if (p == "/ma-data/id" || p == "/ma-data/name" || p == "/ma-data/category") {
      xml.CollectText();
    } else if (p == "/ma-data/ma-partition-data/partition") {
      partition_ = out_->add_partitions();
    } else if (partition_ != nullptr && absl::StartsWith(p, kPartition)) {
      const absl::string_view rel = absl::string_view(p).substr(kPartition.size());
      if (rel == "/name" || rel == "/selected" || rel == "/filter/object-classes/object-class" ||
          rel == "/filter/containers/inclusions/inclusion" ||
          rel == "/filter/containers/exclusions/exclusion") {
        xml.CollectText();
      }
    }
  }

  void OnEndElement(XmlStream& xml, absl::string_view /*name*/, absl::string_view text) override {
    const std::string& p = path_.path();
    if (p == "/ma-data/id") {
      out_->set_id(NormalizeGuid(text));
      has_id_ = !text.empty();
    } else if (p == "/ma-data/name") {
      out_->set_name(std::string(text));
    } else if (p == "/ma-data/category") {
      out_->set_type(std::string(text));
    } else if (p == "/ma-data/ma-partition-data/partition") {
      if (partition_->name().empty()) {
        xml.Fail(xml.element_line(), "<partition> has no <name>");
      }
      SortStrings(partition_->mutable_object_classes());
      SortStrings(partition_->mutable_inclusions());
      SortStrings(partition_->mutable_exclusions());
      partition_ = nullptr;
    } else if (partition_ != nullptr && absl::StartsWith(p, kPartition)) {
      EndInPartition(xml, absl::string_view(p).substr(kPartition.size()), text);
    } else if (p == "/ma-data") {
      if (!has_id_) xml.Fail(xml.element_line(), "<ma-data> has no <id>");
      if (out_->name().empty()) xml.Fail(xml.element_line(), "<ma-data> has no <name>");
    }
    path_.Pop();
  }

 private:
  static constexpr absl::string_view kPartition = "/ma-data/ma-partition-data/partition";

  void EndInPartition(XmlStream& xml, absl::string_view rel, absl::string_view text) {
    if (!path_.Keep(xml, text.size())) return;
    if (rel == "/name") {
      partition_->set_name(std::string(text));
    } else if (rel == "/selected") {
      bool selected = false;
      if (!ParseFlag(text, &selected)) {
        xml.Fail(xml.element_line(),
                 absl::StrCat("<selected> is not 0 or 1: ", QuoteForMessage(text)));
        return;
      }
      partition_->set_selected(selected);
    } else if (text.empty()) {
      // `<inclusions><inclusion /></inclusions>` (the Entra connector): nothing.
    } else if (rel == "/filter/object-classes/object-class") {
      partition_->add_object_classes(std::string(text));
    } else if (rel == "/filter/containers/inclusions/inclusion") {
      partition_->add_inclusions(std::string(text));
    } else if (rel == "/filter/containers/exclusions/exclusion") {
      partition_->add_exclusions(std::string(text));
    }
  }

  v1::ConnectorConfiguration* const out_;
  PathTracker path_;
  v1::ConnectorPartition* partition_ = nullptr;
  bool has_id_ = false;
};

// ---- synchronization rules --------------------------------------------------

// "'it''s'": values are quoted so that an empty value and spaces show.
std::string QuoteValue(absl::string_view v) {
  return absl::StrCat("'", absl::StrReplaceAll(v, {{"'", "''"}}), "'");
}

class SyncRuleHandler final : public XmlStreamHandler {
 public:
  explicit SyncRuleHandler(v1::SyncRuleConfiguration* out) : out_(out) {}

  void OnStartElement(XmlStream& xml, absl::string_view name, const char** /*attrs*/) override {
    path_.Push(name);
    const std::string& p = path_.path();
    if (xml.depth() == 1) {
      if (name != "synchronizationRule") {
        xml.Fail(xml.element_line(),
                 absl::StrCat("root element is <", name, ">, want <synchronizationRule>"));
      }
      return;
    }
    if (xml.depth() == 2) {
      if (name == "attribute-mappings" || name == "synchronizationCriteria" ||
          name == "relationshipCriteria") {
        return;
      }
      xml.CollectText();  // the rule's own fields
      return;
    }
    if (p == kScopeGroup || p == kJoinGroup) {
      group_.clear();
    } else if (p == kScope || p == kJoinCondition) {
      item_ = Item();
    } else if (absl::StartsWith(p, kScope) || absl::StartsWith(p, kJoinCondition)) {
      xml.CollectText();
    } else if (p == kMapping) {
      flow_.clear();
    } else if (absl::StartsWith(p, kMapping)) {
      xml.CollectText();  // every part of a flow counts towards its digest
    }
  }

  void OnEndElement(XmlStream& xml, absl::string_view name, absl::string_view text) override {
    const std::string& p = path_.path();
    if (xml.depth() == 2) {
      EndField(xml, name, text);
    } else if (xml.depth() == 1) {
      EndRule(xml);
    } else if (p == kScope) {
      std::string s = absl::StrCat(item_.attribute, " ", item_.op);
      if (!item_.value.empty() || !absl::StrContains(item_.op, "NULL")) {
        absl::StrAppend(&s, " ", QuoteValue(item_.value));
      }
      group_.push_back(std::move(s));
    } else if (p == kJoinCondition) {
      group_.push_back(absl::StrCat(item_.attribute, " = ", item_.mv_attribute,
                                    item_.case_sensitive ? " (case-sensitive)" : ""));
    } else if (p == kScopeGroup) {
      // Within a group every scope must hold, and any group may: order means
      // nothing, so both are sorted.
      std::sort(group_.begin(), group_.end());
      scope_groups_.push_back(absl::StrCat("(", absl::StrJoin(group_, " AND "), ")"));
    } else if (p == kJoinGroup) {
      // Join groups are tried in order: keep it.
      join_groups_.push_back(absl::StrCat("(", absl::StrJoin(group_, " AND "), ")"));
    } else if (absl::StartsWith(p, kScope) || absl::StartsWith(p, kJoinCondition)) {
      if (!path_.Keep(xml, text.size())) return;
      if (name == "csAttribute") item_.attribute = std::string(text);
      if (name == "csOperator") item_.op = std::string(text);
      if (name == "csValue") item_.value = std::string(text);
      if (name == "ilmAttribute") item_.mv_attribute = std::string(text);
      if (name == "caseSensitive") {
        bool flag = false;
        item_.case_sensitive = ParseFlag(text, &flag) && flag;
      }
    } else if (p == kMapping) {
      if (path_.Keep(xml, flow_.size())) flows_.push_back(std::move(flow_));
    } else if (absl::StartsWith(p, kMapping) && !text.empty()) {
      // "dest=x;src/attr=a;src/attr=b;expression=...;": the parts in order.
      absl::StrAppend(&flow_, absl::string_view(p).substr(kMapping.size() + 1), "=",
                      absl::CEscape(text), ";");
      if (flow_.size() > kMaxKeptBytes) path_.Keep(xml, flow_.size());
    }
    path_.Pop();
  }

 private:
  static constexpr absl::string_view kScopeGroup =
      "/synchronizationRule/synchronizationCriteria/"
      "conditions";
  static constexpr absl::string_view kScope =
      "/synchronizationRule/synchronizationCriteria/"
      "conditions/scope";
  static constexpr absl::string_view kJoinGroup =
      "/synchronizationRule/relationshipCriteria/"
      "conditions";
  static constexpr absl::string_view kJoinCondition =
      "/synchronizationRule/relationshipCriteria/"
      "conditions/condition";
  static constexpr absl::string_view kMapping = "/synchronizationRule/attribute-mappings/mapping";

  struct Item {
    std::string attribute;
    std::string op;
    std::string value;
    std::string mv_attribute;
    bool case_sensitive = false;
  };

  void EndField(XmlStream& xml, absl::string_view name, absl::string_view text) {
    if (name == "id") {
      out_->set_id(NormalizeGuid(text));
    } else if (name == "name") {
      out_->set_name(std::string(text));
    } else if (name == "immutable-tag") {
      out_->set_immutable_tag(std::string(text));
    } else if (name == "direction") {
      if (absl::EqualsIgnoreCase(text, "inbound") || absl::EqualsIgnoreCase(text, "outbound")) {
        out_->set_direction(absl::AsciiStrToLower(text));
      } else {
        xml.Fail(xml.element_line(),
                 absl::StrCat("<direction> is not Inbound or Outbound: ", QuoteForMessage(text)));
      }
    } else if (name == "disabled") {
      bool disabled = false;
      if (!ParseFlag(text, &disabled)) {
        xml.Fail(xml.element_line(),
                 absl::StrCat("<disabled> is not True or False: ", QuoteForMessage(text)));
      }
      out_->set_disabled(disabled);
    } else if (name == "connector") {
      out_->set_connector_id(NormalizeGuid(text));
    } else if (name == "sourceObjectType") {
      out_->set_source_object_type(std::string(text));
    } else if (name == "targetObjectType") {
      out_->set_target_object_type(std::string(text));
    } else if (name == "linkType") {
      out_->set_link_type(std::string(text));
    } else if (name == "precedence") {
      int64_t n = 0;
      if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(text, &n)) {
        xml.Fail(xml.element_line(),
                 absl::StrCat("<precedence> is not a number: ", QuoteForMessage(text)));
      }
      out_->set_precedence(n);
      has_precedence_ = true;
    }
  }

  void EndRule(XmlStream& xml) {
    const int64_t line = xml.element_line();
    if (out_->name().empty()) {
      xml.Fail(line, "<synchronizationRule> has no <name>");
    } else if (out_->direction().empty()) {
      xml.Fail(line, "<synchronizationRule> has no <direction>");
    } else if (out_->connector_id().empty()) {
      xml.Fail(line, "<synchronizationRule> has no <connector>");
    } else if (!has_precedence_) {
      xml.Fail(line, "<synchronizationRule> has no <precedence>");
    }
    out_->set_scoping_filter(absl::StrJoin(scope_groups_, " OR "));
    out_->set_join_criteria(absl::StrJoin(join_groups_, " OR "));
    // The order of the flows means nothing to the engine.
    std::sort(flows_.begin(), flows_.end());
    out_->set_attribute_flow_count(static_cast<int32_t>(flows_.size()));
    out_->set_attribute_flows_digest(Sha256Hex(absl::StrJoin(flows_, "\n")));
  }

  v1::SyncRuleConfiguration* const out_;
  PathTracker path_;
  bool has_precedence_ = false;
  Item item_;
  std::vector<std::string> group_;
  std::vector<std::string> scope_groups_;
  std::vector<std::string> join_groups_;
  std::string flow_;
  std::vector<std::string> flows_;
};

absl::Status ParseFile(const std::string& path, XmlStreamHandler& handler) {
  SYNCWATCH_ASSIGN_OR_RETURN(std::unique_ptr<FileByteReader> reader, FileByteReader::Open(path));
  XmlStream xml(path, handler);
  return xml.Parse(*reader);
}

// The files of `dir` whose names start with `prefix` and end in ".xml", sorted.
absl::StatusOr<std::vector<std::string>> ListXml(const fs::path& dir, absl::string_view prefix) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir.u8string(), ": no such folder (not a Get-ADSyncServerConfiguration output folder)"));
  }
  std::vector<std::string> out;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot list ", dir.u8string(), ": ", ec.message()));
  }
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().u8string();
    if (!absl::StartsWith(name, prefix) || !absl::EndsWithIgnoreCase(name, ".xml")) continue;
    std::error_code fec;
    if (!entry.is_regular_file(fec)) continue;
    out.push_back(entry.path().u8string());
    if (out.size() > kMaxFiles) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir.u8string(), ": more than ", kMaxFiles, " files"));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::string& RuleKey(const v1::SyncRuleConfiguration& r) {
  return r.immutable_tag().empty() ? r.name() : r.immutable_tag();
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), static_cast<size_t>(len)));
}

absl::Status ParseConnectorXml(ByteReader& in, absl::string_view name,
                               v1::ConnectorConfiguration* out) {
  ConnectorHandler handler(out);
  XmlStream xml(name, handler);
  return xml.Parse(in);
}

absl::Status ParseSyncRuleXml(ByteReader& in, absl::string_view name,
                              v1::SyncRuleConfiguration* out) {
  SyncRuleHandler handler(out);
  XmlStream xml(name, handler);
  return xml.Parse(in);
}

std::string ServerConfigurationDigest(const v1::ServerConfiguration& config) {
  v1::ServerConfiguration content = config;
  content.clear_taken_at();
  content.clear_digest();
  content.clear_source_path();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    content.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

absl::StatusOr<v1::ServerConfiguration> ReadServerConfigurationFolder(const std::string& dir) {
  v1::ServerConfiguration config;
  config.set_source_path(dir);
  SYNCWATCH_ASSIGN_OR_RETURN(std::vector<std::string> connector_files,
                             ListXml(fs::u8path(dir) / "Connectors", "Connector_"));
  SYNCWATCH_ASSIGN_OR_RETURN(
      std::vector<std::string> rule_files,
      ListXml(fs::u8path(dir) / "SynchronizationRules", "SynchronizationRule_"));
  std::map<std::string, std::string> connector_names;  // id -> name
  for (const std::string& path : connector_files) {
    v1::ConnectorConfiguration* c = config.add_connectors();
    ConnectorHandler handler(c);
    SYNCWATCH_RETURN_IF_ERROR(ParseFile(path, handler));
    connector_names[c->id()] = c->name();
  }
  for (const std::string& path : rule_files) {
    v1::SyncRuleConfiguration* r = config.add_rules();
    SyncRuleHandler handler(r);
    SYNCWATCH_RETURN_IF_ERROR(ParseFile(path, handler));
    // A rule of a connector that is not in the folder keeps its id only.
    auto it = connector_names.find(r->connector_id());
    if (it != connector_names.end()) r->set_connector(it->second);
  }
  auto* connectors = config.mutable_connectors();
  std::sort(connectors->pointer_begin(), connectors->pointer_end(),
            [](const v1::ConnectorConfiguration* a, const v1::ConnectorConfiguration* b) {
              return std::tie(a->name(), a->id()) < std::tie(b->name(), b->id());
            });
  auto* rules = config.mutable_rules();
  std::sort(rules->pointer_begin(), rules->pointer_end(),
            [](const v1::SyncRuleConfiguration* a, const v1::SyncRuleConfiguration* b) {
              return std::tie(RuleKey(*a), a->name(), a->id()) <
                     std::tie(RuleKey(*b), b->name(), b->id());
            });
  config.set_digest(ServerConfigurationDigest(config));
  return config;
}

}  // namespace syncwatch::agent
