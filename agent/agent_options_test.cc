#include "agent/agent_options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::testing::StatusIs;
using ::testing::HasSubstr;

class AgentConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<AgentOptions> Load(const std::string& yaml) {
    testing::WriteFile(path_, yaml);
    return LoadAgentConfig(path_);
  }
  testing::TempDir dir_;
  std::string path_ = dir_.Sub("agent.yaml");
};

TEST_F(AgentConfigTest, ReadsTheDocumentedKeys) {
  auto o = Load(R"(server: sync01
tenant: fabrikam.onmicrosoft.com
role: staging
collectors: ["127.0.0.1:7443", "127.0.0.1:7444"]
data_dir: /var/lib/syncwatch
sources:
  - name: runs
    kind: run_history
    format: xml
    path: /in/runs/*.xml
    interval: 5m
  - name: runs-json
    kind: run_history
    format: json
    path: /in/json/*.json
)");
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->server, "sync01");
  EXPECT_EQ(o->agent_id, "sync01");
  EXPECT_EQ(o->tenant, "fabrikam.onmicrosoft.com");
  EXPECT_EQ(o->role, v1::SERVER_ROLE_STAGING);
  EXPECT_EQ(o->collectors.size(), 2u);
  EXPECT_EQ(o->data_dir, "/var/lib/syncwatch");
  ASSERT_EQ(o->sources.size(), 2u);
  EXPECT_EQ(o->sources[0].format, SourceFormat::kXml);
  EXPECT_EQ(o->sources[0].interval, absl::Minutes(5));
  EXPECT_EQ(o->sources[1].format, SourceFormat::kJson);
  EXPECT_EQ(o->sources[1].interval, absl::Seconds(30));
}

TEST_F(AgentConfigTest, ServerDefaultsToTheHostName) {
  auto o = Load("tenant: t\n");
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_FALSE(o->server.empty());
  EXPECT_EQ(o->agent_id, o->server);
}

TEST_F(AgentConfigTest, UnknownKeyNamesFileAndLine) {
  EXPECT_THAT(Load("server: s\ncolector: [\"a:1\"]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path_ + ":2: unknown key 'colector'")));
  EXPECT_THAT(Load("sources:\n  - name: r\n    kind: run_history\n    format: xml\n    pth: /x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":5: unknown key 'pth'")));
}

TEST_F(AgentConfigTest, BadValuesNameTheLine) {
  EXPECT_THAT(Load("server: s\nrole: primary\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":2: role 'primary'")));
  EXPECT_THAT(Load("collectors: [\"nohostport\"]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not host:port")));
  EXPECT_THAT(Load("sources:\n  - name: r\n    kind: run_history\n    format: csv\n    path: /x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":4: source 'r': format 'csv' does not fit kind run_history")));
  EXPECT_THAT(
      Load("sources:\n  - name: r\n    kind: runs\n    format: xml\n    path: /x\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":3: source 'r': unknown kind")));
  EXPECT_THAT(
      Load(
          "sources:\n  - name: r\n    kind: run_history\n    format: xml\n    path: /in/*/x.xml\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("wildcards are allowed in the file name only")));
  EXPECT_THAT(Load("sources:\n  - name: r\n    kind: run_history\n    format: xml\n    path: /x\n  "
                   "  interval: soon\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":6: source 'r': interval")));
}

TEST_F(AgentConfigTest, DuplicateSourceNamesAndMissingFieldsAreErrors) {
  EXPECT_THAT(Load("sources:\n  - {name: r, kind: run_history, format: xml, path: /a}\n"
                   "  - {name: r, kind: run_history, format: xml, path: /b}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("two sources are named 'r'")));
  EXPECT_THAT(Load("sources:\n  - {name: r, kind: run_history, path: /a}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'format' is required")));
}

TEST_F(AgentConfigTest, CommandSourcesTakeAnArgvAndTimeout) {
  auto o = Load(
      "sources:\n  - name: ps\n    kind: run_history\n    format: json\n"
      "    command: [powershell, -NoProfile, -File, C:/syncwatch/Export-Runs.ps1]\n"
      "    timeout: 30s\n");
  SYNCWATCH_ASSERT_OK(o);
  ASSERT_EQ(o->sources[0].command.size(), 4u);
  EXPECT_EQ(o->sources[0].command[3], "C:/syncwatch/Export-Runs.ps1");
  EXPECT_EQ(o->sources[0].interval, absl::Minutes(5));
  EXPECT_EQ(o->sources[0].timeout, absl::Seconds(30));
  EXPECT_THAT(
      Load("sources:\n  - {name: ps, kind: run_history, format: json, command: [x], path: /y}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not both")));
  EXPECT_THAT(
      Load("sources:\n  - {name: ps, kind: run_history, format: json}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'path' or 'command' is required")));
}

TEST_F(AgentConfigTest, EveryKindTakesItsOwnFormats) {
  auto o = Load(
      "sources:\n"
      "  - {name: d, kind: pending_exports, format: csexport, path: /in/pending/*.xml}\n"
      "  - {name: e, kind: export_errors, format: csexport, path: /in/errors/*.xml,"
      " connector: contoso.com}\n"
      "  - {name: s, kind: settings, format: json, path: /in/settings/*.json}\n");
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->sources[0].kind, SourceKind::kPendingExports);
  EXPECT_EQ(o->sources[1].kind, SourceKind::kExportErrors);
  EXPECT_EQ(o->sources[1].connector, "contoso.com");
  EXPECT_EQ(o->sources[2].kind, SourceKind::kSettings);
  EXPECT_THAT(Load("sources:\n  - {name: d, kind: pending_exports, format: xml, path: /a}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("format 'xml' does not fit kind pending_exports (csexport)")));
  EXPECT_THAT(Load("sources:\n  - {name: s, kind: settings, format: csexport, path: /a}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(json)")));
}

TEST_F(AgentConfigTest, ServerConfigurationReadsFolders) {
  auto o = Load(
      "sources:\n  - {name: config, kind: server_configuration, format: folder, path: "
      "/in/config/*}\n");
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->sources[0].kind, SourceKind::kServerConfiguration);
  EXPECT_EQ(o->sources[0].format, SourceFormat::kFolder);
  EXPECT_STREQ(SourceKindName(o->sources[0].kind), "server_configuration");
  EXPECT_THAT(
      Load("sources:\n  - {name: c, kind: server_configuration, format: xml, path: /in/c/*}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("format 'xml' does not fit kind server_configuration (folder)")));
  EXPECT_THAT(
      Load("sources:\n  - {name: c, kind: server_configuration, format: folder, command: [x]}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reads folders: give 'path'")));
  EXPECT_THAT(Load("sources:\n  - {name: c, kind: folders, format: folder, path: /a}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("server_configuration)")));
}

TEST_F(AgentConfigTest, TlsTrustsACaFileOrTheSystemRoots) {
  auto plain = Load("server: s\n");
  SYNCWATCH_ASSERT_OK(plain);
  EXPECT_FALSE(plain->tls.enabled());

  auto ca = Load("server: s\ntls: {ca: /etc/syncwatch/ca.pem, server_name: collector.test}\n");
  SYNCWATCH_ASSERT_OK(ca);
  EXPECT_TRUE(ca->tls.enabled());
  EXPECT_EQ(ca->tls.ca, "/etc/syncwatch/ca.pem");
  EXPECT_FALSE(ca->tls.system_roots);

  auto system = Load(
      "server: s\ntls:\n  system_roots: true\n  cert: /c.pem\n  key: /c.key\n"
      "  server_name: collector.test\n");
  SYNCWATCH_ASSERT_OK(system);
  EXPECT_TRUE(system->tls.enabled());
  EXPECT_TRUE(system->tls.system_roots);
  EXPECT_EQ(system->tls.ca, "");
  EXPECT_EQ(system->tls.cert, "/c.pem");
  EXPECT_EQ(system->tls.key, "/c.key");
  EXPECT_EQ(system->tls.server_name, "collector.test");
}

TEST_F(AgentConfigTest, TlsErrorsNameTheLine) {
  const std::string neither =
      ":2: tls: set 'ca' (the CA of the collectors' certificate) or 'system_roots: true'";
  EXPECT_THAT(Load("server: s\ntls: {server_name: collector.test}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path_ + neither)));
  EXPECT_THAT(Load("server: s\ntls: {system_roots: false}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path_ + neither)));
  EXPECT_THAT(Load("server: s\ntls: {ca: /ca.pem, system_roots: true}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":2: tls: 'ca' and 'system_roots: true' exclude each other")));
  EXPECT_THAT(Load("server: s\ntls:\n  system_roots: always\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":3: 'system_roots' must be true or false")));
  EXPECT_THAT(Load("server: s\ntls: {system_roots: true, cert: /c.pem}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(":2: tls: 'cert' and 'key' go together")));
  EXPECT_THAT(
      Load("server: s\ntls:\n  system_root: true\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":3: unknown key 'system_root'")));
}

TEST(ShippedAgentConfigs, WindowsTrustsTheSystemRoots) {
  auto o = LoadAgentConfig(std::string(SYNCWATCH_SOURCE_DIR) + "/deploy/windows/agent.yaml");
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_TRUE(o->tls.system_roots);
  EXPECT_EQ(o->tls.ca, "");
  // A collector off loopback requires a client certificate.
  EXPECT_NE(o->tls.cert, "");
  EXPECT_NE(o->tls.key, "");
}

TEST(ShippedAgentConfigs, Load) {
  for (const char* rel : {"/deploy/linux/agent.yaml", "/deploy/examples/agent-samples.yaml"}) {
    auto o = LoadAgentConfig(std::string(SYNCWATCH_SOURCE_DIR) + rel);
    EXPECT_TRUE(o.ok()) << rel << ": " << o.status();
  }
}

TEST_F(AgentConfigTest, LoadsFromANonAsciiPathAndNamesItInErrors) {
  // "Zürich-東京/agent.yaml" in UTF-8 (on Windows opened through UTF-16).
  path_ = dir_.Sub("Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac/agent.yaml");
  auto o = Load("server: sync01\ndata_dir: d\n");
  SYNCWATCH_ASSERT_OK(o);
  EXPECT_EQ(o->server, "sync01");
  EXPECT_THAT(Load("server: s\nrole: primary\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::StartsWith(path_ + ":2: ")));
}

TEST_F(AgentConfigTest, MissingFileIsNotFound) {
  // The path and the OS's reason, not a bare "cannot read".
  const std::string path = dir_.Sub("nope.yaml");
  EXPECT_THAT(LoadAgentConfig(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot open " + path + ": ")));
}

}  // namespace
}  // namespace syncwatch::agent
