#include "agent/parsers/server_configuration.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/memory_test_util.h"
#include "agent/parsers/parser_test_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testutil/config_fixtures.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::agent {
namespace {

namespace fx = ::syncwatch::testing;
using ::google::protobuf::util::MessageDifferencer;
using ::syncwatch::testing::ConfigEdit;
using ::syncwatch::testing::CopyConfiguration;
using ::syncwatch::testing::SampleConfigurationDir;
using ::syncwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kAdConnectorFile[] =
    "Connectors/Connector_{ae4db4cc-b16b-4eb2-acf5-837ca84e4d7d}.xml";
constexpr char kUserJoinFile[] =
    "SynchronizationRules/SynchronizationRule_{0b088913-b613-4d9d-9563-9988b7719ed6}.xml";

v1::SyncRuleConfiguration* FindRule(v1::ServerConfiguration& c, const std::string& name) {
  for (auto& r : *c.mutable_rules()) {
    if (r.name() == name) return &r;
  }
  return nullptr;
}

v1::ServerConfiguration ReadOrDie(const std::string& dir) {
  absl::StatusOr<v1::ServerConfiguration> c = ReadServerConfigurationFolder(dir);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : v1::ServerConfiguration();
}

TEST(ServerConfigurationTest, SampleParsesToItsConnectorsAndRules) {
  v1::ServerConfiguration c = ReadOrDie(SampleConfigurationDir());
  ASSERT_EQ(c.connectors_size(), 2);
  EXPECT_EQ(c.rules_size(), 62);
  EXPECT_EQ(c.source_path(), SampleConfigurationDir());
  EXPECT_EQ(c.digest().size(), 64u);
  // Sorted by name.
  EXPECT_EQ(c.connectors(0).name(), "contoso.com");
  EXPECT_EQ(c.connectors(1).name(), "contoso.onmicrosoft.com - AAD");

  const v1::ConnectorConfiguration& ad = c.connectors(0);
  EXPECT_EQ(ad.id(), "ae4db4cc-b16b-4eb2-acf5-837ca84e4d7d");
  EXPECT_EQ(ad.type(), "AD");
  ASSERT_EQ(ad.partitions_size(), 1);
  const v1::ConnectorPartition& p = ad.partitions(0);
  EXPECT_EQ(p.name(), "DC=contoso,DC=com");
  EXPECT_TRUE(p.selected());
  EXPECT_THAT(p.object_classes(), ElementsAre("computer", "contact", "container", "domainDNS",
                                              "foreignSecurityPrincipal", "group", "inetOrgPerson",
                                              "msDS-Device", "organizationalUnit", "user"));
  EXPECT_THAT(p.inclusions(), ElementsAre("OU=CORP,DC=contoso,DC=com"));
  EXPECT_THAT(p.exclusions(), ElementsAre("DC=contoso,DC=com"));

  const v1::ConnectorConfiguration& aad = c.connectors(1);
  EXPECT_EQ(aad.id(), "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(aad.type(), "Extensible2");
  ASSERT_EQ(aad.partitions_size(), 1);
  EXPECT_EQ(aad.partitions(0).name(), "default");
  EXPECT_THAT(aad.partitions(0).object_classes(),
              ElementsAre("contact", "device", "group", "user"));
  EXPECT_THAT(aad.partitions(0).inclusions(), IsEmpty());  // <inclusion /> only

  std::map<std::string, int> directions, link_types, connectors;
  for (const auto& r : c.rules()) {
    ++directions[r.direction()];
    ++link_types[r.link_type()];
    ++connectors[r.connector()];
    EXPECT_FALSE(r.disabled()) << r.name();
    EXPECT_FALSE(r.immutable_tag().empty()) << r.name();
  }
  EXPECT_EQ(directions, (std::map<std::string, int>{{"inbound", 28}, {"outbound", 34}}));
  EXPECT_EQ(link_types, (std::map<std::string, int>{{"Join", 53}, {"Provision", 9}}));
  EXPECT_EQ(connectors.count(""), 0u) << "every rule's connector is one of the folder's";
  EXPECT_TRUE(std::is_sorted(c.rules().begin(), c.rules().end(), [](const auto& a, const auto& b) {
    return a.immutable_tag() < b.immutable_tag();
  }));

  const v1::SyncRuleConfiguration* join = FindRule(c, "In from AD - User Join");
  ASSERT_NE(join, nullptr);
  EXPECT_EQ(join->id(), "0b088913-b613-4d9d-9563-9988b7719ed6");
  EXPECT_EQ(join->immutable_tag(), "Microsoft.InfromADUserJoin.003");
  EXPECT_EQ(join->direction(), "inbound");
  EXPECT_EQ(join->connector(), "contoso.com");
  EXPECT_EQ(join->connector_id(), "ae4db4cc-b16b-4eb2-acf5-837ca84e4d7d");
  EXPECT_EQ(join->source_object_type(), "user");
  EXPECT_EQ(join->target_object_type(), "person");
  EXPECT_EQ(join->link_type(), "Provision");
  EXPECT_EQ(join->precedence(), 100);
  EXPECT_EQ(join->scoping_filter(),
            "(adminDescription NOTSTARTSWITH 'User_' AND isCriticalSystemObject NOTEQUAL 'TRUE')");
  EXPECT_THAT(join->join_criteria(),
              ::testing::StartsWith("(objectSid = objectSid) OR (msExchMasterAccountSid = "
                                    "objectSid) OR (objectSid = msExchMasterAccountSid)"));
  EXPECT_EQ(join->attribute_flow_count(), 1);
  EXPECT_EQ(join->attribute_flows_digest().size(), 64u);

  // Scopes without a value (ISNOTNULL) carry none; every group is bracketed.
  const v1::SyncRuleConfiguration* group = FindRule(c, "Out to AAD - Group Join");
  ASSERT_NE(group, nullptr);
  EXPECT_THAT(group->scoping_filter(),
              HasSubstr("(cloudAnchor ISNOTNULL AND cloudFiltered NOTEQUAL 'True' AND "));
  EXPECT_THAT(group->scoping_filter(), HasSubstr(") OR ("));
  EXPECT_EQ(group->join_criteria(), "(sourceAnchor = sourceAnchor)");
  EXPECT_EQ(group->attribute_flow_count(), 6);

  // The same folder reads the same.
  v1::ServerConfiguration again = ReadOrDie(SampleConfigurationDir());
  EXPECT_TRUE(MessageDifferencer::Equals(c, again));
}

// Each edit of a copy of the sample shows up in exactly the fields it touches.
class ServerConfigurationEditTest : public ::testing::Test {
 protected:
  void SetUp() override { base_ = ReadOrDie(SampleConfigurationDir()); }

  // Reads a copy with `edit` and checks that it equals base_ changed by
  // `expect`, and that its digest differs.
  template <typename Fn>
  void ExpectEdit(const ConfigEdit& edit, Fn expect) {
    const std::string dir = tmp_.Sub("config");
    ASSERT_TRUE(CopyConfiguration(SampleConfigurationDir(), dir, {edit}).ok());
    v1::ServerConfiguration got = ReadOrDie(dir);
    v1::ServerConfiguration want = base_;
    expect(want);
    EXPECT_NE(got.digest(), base_.digest());
    EXPECT_EQ(got.digest(), ServerConfigurationDigest(want));
    got.clear_digest();
    got.clear_source_path();
    want.clear_digest();
    want.clear_source_path();
    std::string diff;
    MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    EXPECT_TRUE(d.Compare(want, got)) << diff;
  }

  TempDir tmp_;
  v1::ServerConfiguration base_;
};

TEST_F(ServerConfigurationEditTest, RemovedInclusion) {
  ExpectEdit(fx::RemoveInclusion("OU=CORP,DC=contoso,DC=com"), [](v1::ServerConfiguration& c) {
    c.mutable_connectors(0)->mutable_partitions(0)->clear_inclusions();
  });
}

TEST_F(ServerConfigurationEditTest, DisabledRule) {
  ExpectEdit(fx::DisableRule("In from AD - User Join"), [](v1::ServerConfiguration& c) {
    FindRule(c, "In from AD - User Join")->set_disabled(true);
  });
}

TEST_F(ServerConfigurationEditTest, EditedScopingFilter) {
  ExpectEdit(
      fx::EditRule("In from AD - User Join", "<csValue>User_</csValue>", "<csValue>Usr_</csValue>"),
      [](v1::ServerConfiguration& c) {
        v1::SyncRuleConfiguration* r = FindRule(c, "In from AD - User Join");
        const std::string before = r->scoping_filter();
        r->set_scoping_filter(absl::StrReplaceAll(before, {{"'User_'", "'Usr_'"}}));
        EXPECT_NE(r->scoping_filter(), before);
      });
}

TEST_F(ServerConfigurationEditTest, LinkTypeProvisionToJoin) {
  ExpectEdit(fx::SetLinkType("Out to AAD - Group Join", "Provision", "Join"),
             [](v1::ServerConfiguration& c) {
               FindRule(c, "Out to AAD - Group Join")->set_link_type("Join");
             });
}

TEST_F(ServerConfigurationEditTest, ChangedFlowChangesOnlyTheFlowDigest) {
  const std::string dir = tmp_.Sub("config");
  ASSERT_TRUE(CopyConfiguration(SampleConfigurationDir(), dir,
                                {fx::EditRule("Out to AAD - Group Join", "<attr>cn</attr>",
                                              "<attr>displayName</attr>")})
                  .ok());
  v1::ServerConfiguration got = ReadOrDie(dir);
  v1::SyncRuleConfiguration* was = FindRule(base_, "Out to AAD - Group Join");
  v1::SyncRuleConfiguration* now = FindRule(got, "Out to AAD - Group Join");
  ASSERT_NE(now, nullptr);
  EXPECT_NE(now->attribute_flows_digest(), was->attribute_flows_digest());
  EXPECT_EQ(now->attribute_flow_count(), was->attribute_flow_count());
  EXPECT_NE(got.digest(), base_.digest());
  now->set_attribute_flows_digest(was->attribute_flows_digest());
  got.set_digest(base_.digest());
  got.set_source_path(base_.source_path());
  EXPECT_TRUE(MessageDifferencer::Equals(base_, got));
}

// How the parser names `relative` ("SynchronizationRules/x.xml") inside
// `dir`: with the system's separator ("\\" on Windows).
std::string InFolder(const std::string& dir, const std::string& relative) {
  return (std::filesystem::u8path(dir) / std::filesystem::u8path(relative).make_preferred())
      .u8string();
}

TEST(ServerConfigurationErrorTest, BadXmlInOneRuleNamesTheFileAndLine) {
  TempDir tmp;
  const std::string dir = tmp.Sub("config");
  ASSERT_TRUE(
      CopyConfiguration(SampleConfigurationDir(), dir,
                        {fx::EditRule("In from AD - User Join", "</linkType>", "</linktype>")})
          .ok());
  absl::StatusOr<v1::ServerConfiguration> c = ReadServerConfigurationFolder(dir);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr(absl::StrCat(InFolder(dir, kUserJoinFile), ":13: malformed XML")));
}

TEST(ServerConfigurationErrorTest, MissingRequiredElementNamesTheFileAndLine) {
  TempDir tmp;
  const std::string dir = tmp.Sub("config");
  ASSERT_TRUE(CopyConfiguration(
                  SampleConfigurationDir(), dir,
                  {fx::EditRule("In from AD - User Join", "<precedence>100</precedence>", "")})
                  .ok());
  absl::StatusOr<v1::ServerConfiguration> c = ReadServerConfigurationFolder(dir);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr(absl::StrCat(InFolder(dir, kUserJoinFile),
                                     ":1: <synchronizationRule> has no <precedence>")));

  const std::string dir2 = tmp.Sub("config2");
  ASSERT_TRUE(CopyConfiguration(SampleConfigurationDir(), dir2,
                                {ConfigEdit{"Connectors", "<name>contoso.com</name>",
                                            "<name>contoso.com</name>", ""}})
                  .ok());
  c = ReadServerConfigurationFolder(dir2);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(
      std::string(c.status().message()),
      HasSubstr(absl::StrCat(InFolder(dir2, kAdConnectorFile), ":1: <ma-data> has no <name>")));
}

TEST(ServerConfigurationErrorTest, BadValuesAndWrongFolders) {
  auto rule = [](const std::string& body) {
    v1::SyncRuleConfiguration r;
    const std::string text =
        absl::StrCat("<synchronizationRule>\n<name>r</name>\n", body, "\n</synchronizationRule>");
    StringByteReader in(text);
    return ParseSyncRuleXml(in, "r.xml", &r);
  };
  const std::string ok = "<direction>Inbound</direction><connector>{A}</connector>";
  EXPECT_TRUE(rule(ok + "<precedence>5</precedence>").ok());
  EXPECT_THAT(std::string(rule(ok + "<precedence>-5</precedence>").message()),
              HasSubstr("r.xml:3: <precedence> is not a number: \"-5\""));
  EXPECT_THAT(
      std::string(rule(ok + "<precedence>5</precedence><disabled>maybe</disabled>").message()),
      HasSubstr("r.xml:3: <disabled> is not True or False"));
  EXPECT_THAT(std::string(rule("<direction>Sideways</direction>").message()),
              HasSubstr("r.xml:3: <direction> is not Inbound or Outbound"));

  v1::ConnectorConfiguration k;
  StringByteReader other("<run-history/>");
  EXPECT_THAT(std::string(ParseConnectorXml(other, "k.xml", &k).message()),
              HasSubstr("k.xml:1: root element is <run-history>, want <ma-data>"));

  TempDir tmp;
  syncwatch::testing::WriteFile(tmp.Sub("x/Connectors/readme.txt"), "");
  absl::StatusOr<v1::ServerConfiguration> c = ReadServerConfigurationFolder(tmp.Sub("x"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("SynchronizationRules: no such folder"));
}

// Produces a connector file of about `target` bytes: a schema of generated
// attribute types (as in the sample's AD connector, whose 1.8 MB are mostly
// schema) followed by the partition data. Samples the process's memory.
class GeneratedConnector final : public testing::GeneratedDocument {
 public:
  explicit GeneratedConnector(int64_t target)
      : GeneratedDocument(
            target,
            "<ma-data>\n  <id>{AE4DB4CC-B16B-4EB2-ACF5-837CA84E4D7D}</id>\n  <name>big</name>\n"
            "  <category>AD</category>\n  <schema><dsml xmlns=\"http://www.dsml.org/DSML\" "
            "xmlns:m=\"http://www.microsoft.com/MMS/DSML\"><directory-schema>") {}

 private:
  void Refill(std::string* buf) override {
    for (int k = 0; k < 256; ++k, ++types_) {
      absl::StrAppend(buf, "<attribute-type id=\"A", types_,
                      "\" single-value=\"true\" m:range-upper=\"256\"><name>msExchAttribute",
                      types_,
                      "</name><syntax>1.3.6.1.4.1.1466.115.121.1.15</syntax></attribute-type>");
    }
  }
  std::string Tail() const override {
    return "</directory-schema></dsml></schema>\n<ma-partition-data><partition><name>DC=big</name>"
           "<selected>1</selected><filter><containers><inclusions><inclusion>OU=A,DC=big"
           "</inclusion></inclusions></containers></filter></partition></ma-partition-data>"
           "</ma-data>\n";
  }

  int64_t types_ = 0;
};

// Memory a connector file may make the parser grow by, whatever its size.
constexpr int64_t kConnectorBudget = 16 * testing::kMiB;

TEST(ServerConfigurationMemoryTest, HundredMegabyteConnectorStaysSmall) {
  GeneratedConnector in(100 * testing::kMiB);
  const testing::ProcMemory before = testing::ReadProcMemory();
  ASSERT_GT(before.rss, 0);
  const bool peak_reset = testing::ResetPeakRss();
  const int64_t heap_before = testing::HeapInUse();
  v1::ConnectorConfiguration k;
  const absl::Status st = ParseConnectorXml(in, "big.xml", &k);
  ASSERT_TRUE(st.ok()) << st;
  in.Sample();
  int64_t peak = in.max_rss();
  if (peak_reset) peak = std::max(peak, testing::ReadProcMemory().hwm);
  std::printf("connector memory: %.0f MiB file, RSS growth %.1f MiB\n",
              testing::InMiB(in.produced()), testing::InMiB(peak - before.rss));
  EXPECT_GE(in.produced(), 100 * testing::kMiB);
  EXPECT_EQ(k.name(), "big");
  ASSERT_EQ(k.partitions_size(), 1);
  EXPECT_THAT(k.partitions(0).inclusions(), ElementsAre("OU=A,DC=big"));
#ifdef SYNCWATCH_TEST_ASAN
  EXPECT_LT(testing::HeapInUse() - heap_before, kConnectorBudget);
#else
  (void)heap_before;
  EXPECT_LT(peak - before.rss, kConnectorBudget);
#endif
}

// The sample's 1.8 MB AD connector, read through a reader that watches memory:
// RSS, or under ASan (shadow memory, quarantine) the heap in use.
int64_t MemoryInUse() {
#ifdef SYNCWATCH_TEST_ASAN
  return testing::HeapInUse();
#else
  return testing::ReadProcMemory().rss;
#endif
}

class SamplingFileReader final : public ByteReader {
 public:
  explicit SamplingFileReader(std::unique_ptr<FileByteReader> f) : f_(std::move(f)) {}
  absl::StatusOr<size_t> Read(char* out, size_t capacity) override {
    max_in_use_ = std::max(max_in_use_, MemoryInUse());
    return f_->Read(out, std::min<size_t>(capacity, 64 * 1024));
  }
  int64_t max_in_use() const { return max_in_use_; }

 private:
  std::unique_ptr<FileByteReader> f_;
  int64_t max_in_use_ = 0;
};

TEST(ServerConfigurationMemoryTest, SampleConnectorIsStreamed) {
  auto f = FileByteReader::Open(absl::StrCat(SampleConfigurationDir(), "/", kAdConnectorFile));
  ASSERT_TRUE(f.ok()) << f.status();
  SamplingFileReader in(*std::move(f));
  const int64_t before = MemoryInUse();
  v1::ConnectorConfiguration k;
  ASSERT_TRUE(ParseConnectorXml(in, "ad.xml", &k).ok());
  EXPECT_EQ(k.name(), "contoso.com");
  // Far less than the file: the schema is not kept.
  EXPECT_LT(in.max_in_use() - before, 1 * testing::kMiB);
}

}  // namespace
}  // namespace syncwatch::agent
