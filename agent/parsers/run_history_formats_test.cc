// The same run as run-history XML and as Get-ADSyncRunProfileResult
// -RunStepDetails JSON (whose step details are XML fragments in strings)
// gives the same RunStep messages.
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/parsers/parser_test_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace syncwatch::agent {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using testing::Parsed;
using testing::ParseJson;
using testing::ParseXml;

// One step: its properties for JSON, and the fragments both formats share.
struct Step {
  int number;
  std::string id;
  std::string result;
  std::string start_xml, end_xml;  // "2024-03-01 10:00:00.000"
  int64_t start_ms, end_ms;
  std::string step_xml;        // inside <step-description>
  std::string connection_xml;  // inside <ma-connection>
  std::string sync_errors_xml;
  std::string flow_counters_xml;
  int64_t stage_add, connector_flow, export_update;
};

const Step kSteps[] = {
    {1, "874beb73-fff1-4c43-9836-26d8aace454e", "completed-sync-errors", "2024-03-01 10:00:00.000",
     "2024-03-01 10:00:30.500", 1709287200000, 1709287230500,
     "<step-type type=\"apply-rules\">\n  "
     "<apply-rules-subtype>apply-pending</apply-rules-subtype>\n"
     "</step-type>\n<partition>DC=contoso,DC=com</partition>\n<custom-data><adma-step-data>"
     "<batch-size>100</batch-size></adma-step-data></custom-data>",
     "<connection-result>success</connection-result><server>DC01.contoso.com:389</server>"
     "<connection-log><incident><connection-result>failed-search</connection-result>"
     "<date>2024-03-01 10:00:05.000</date><server>DC02.contoso.com:389</server><cd-error>"
     "<error-code>8453</error-code><error-literal>Replication access was denied.</error-literal>"
     "<server-error-detail>00002105: LdapErr: DSID-0C090A0F</server-error-detail></cd-error>"
     "</incident></connection-log>",
     "<synchronization-errors><import-error cs-guid=\"{1D4D6F2A-8C59-4A3D-9E0C-2B5A7B1F3C11}\" "
     "dn=\"CN=Ann,OU=CORP,DC=contoso,DC=com\"><first-occurred>2024-02-28 09:00:00.000"
     "</first-occurred><retry-count>2</retry-count><date-occurred>2024-03-01 10:00:10.000"
     "</date-occurred><error-type>sync-rule-error-function-triggered</error-type>"
     "<algorithm-step>import-flow</algorithm-step></import-error></synchronization-errors>",
     "<outbound-flow-counters ma=\"contoso.onmicrosoft.com - AAD\" "
     "ma-id=\"{B891884F-051E-4A83-95AF-2544101C9083}\">"
     "<provisioned-add-flow detail=\"true\">5</provisioned-add-flow>"
     "<provisioned-add-no-flow detail=\"true\">1</provisioned-add-no-flow>"
     "<provisioned-rename-flow detail=\"true\">2</provisioned-rename-flow>"
     "<provisioned-rename-no-flow detail=\"true\">3</provisioned-rename-no-flow>"
     "<provisioned-disconnect detail=\"true\">40</provisioned-disconnect>"
     "<provisioned-delete-add-flow detail=\"true\">6</provisioned-delete-add-flow>"
     "<provisioned-delete-add-no-flow detail=\"true\">7</provisioned-delete-add-no-flow>"
     "<connector-flow detail=\"true\">12</connector-flow>"
     "<connector-no-flow detail=\"true\">9</connector-no-flow></outbound-flow-counters>\n"
     "<outbound-flow-counters ma=\"fabrikam.com\" ma-id=\"{85098734-66BC-4938-8122-C5F585F463D0}\">"
     "<connector-flow detail=\"true\">4</connector-flow></outbound-flow-counters>",
     3, 8, 0},
    {2, "2a0f7c55-3b1e-4a57-8d55-0c6f1c0b9f21", "completed-export-errors",
     "2024-03-01 10:01:00.000", "2024-03-01 10:01:20.250", 1709287260000, 1709287280250,
     "<step-type type=\"export\"></step-type><partition>default</partition>",
     "<connection-result>success</connection-result><server>adminwebservice.microsoftonline.com"
     "</server><connection-log/>",
     "<synchronization-errors><export-error cs-guid=\"{6B1F0E0A-2C4D-4E8F-9A1B-3C5D7E9F1A2B}\" "
     "dn=\"CN={4A6F686E}\"><date-occurred>2024-03-01 10:01:10.000</date-occurred>"
     "<first-occurred>2024-02-27 08:00:00.000</first-occurred><retry-count>5</retry-count>"
     "<error-type>AttributeValueMustBeUnique</error-type><cd-error><error-code>0x80230703"
     "</error-code><error-literal>Unable to update this object because the following attributes "
     "associated with this object have values that may already be associated with another object "
     "in your local directory services: [ProxyAddresses SMTP:john@contoso.com;]. Correct or remove "
     "the duplicate values in your local directory.</error-literal></cd-error></export-error>"
     "</synchronization-errors>",
     "", 0, 0, 17},
};

std::string RunXml() {
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<run-history><run-details>\n"
      "<ma-id>{B891884F-051E-4A83-95AF-2544101C9083}</ma-id><ma-name>contoso.onmicrosoft.com - AAD"
      "</ma-name><run-number>12</run-number><run-profile-name>Delta Sync</run-profile-name>"
      "<security-id>NT SERVICE\\ADSync</security-id>\n";
  for (const Step& s : kSteps) {
    absl::StrAppend(&xml, "<step-details step-number=\"", s.number, "\" step-id=\"{", s.id,
                    "}\">\n<start-date>", s.start_xml, "</start-date><end-date>", s.end_xml,
                    "</end-date><step-result>", s.result, "</step-result>\n<step-description>",
                    s.step_xml, "</step-description>\n<ma-connection>", s.connection_xml,
                    "</ma-connection>\n", s.sync_errors_xml, "\n", s.flow_counters_xml, "\n");
    absl::StrAppend(&xml, "<staging-counters><stage-no-change detail=\"false\">0</stage-no-change>",
                    "<stage-add detail=\"true\">", s.stage_add, "</stage-add></staging-counters>",
                    "<inbound-flow-counters><connector-flow detail=\"true\">", s.connector_flow,
                    "</connector-flow></inbound-flow-counters><export-counters>",
                    "<export-update detail=\"true\">", s.export_update,
                    "</export-update></export-counters>\n</step-details>\n");
  }
  return xml + "</run-details></run-history>\n";
}

std::string RunJson() {
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& s : kSteps) {
    nlohmann::json j = {
        {"RunHistoryId", "5f1a0e1c-7d2b-4c3a-9e8f-1a2b3c4d5e6f"},
        {"StepHistoryId", s.id},
        {"StepNumber", s.number},
        {"StepResult", s.result},
        {"StartDate", absl::StrCat("/Date(", s.start_ms, ")/")},
        {"EndDate", absl::StrCat("/Date(", s.end_ms, ")/")},
        {"StageNoChange", 0},
        {"StageAdd", s.stage_add},
        {"ConnectorFlow", s.connector_flow},
        {"ExportUpdate", s.export_update},
        {"StepFileName", ""},
        {"StepXml", s.step_xml},
        {"ConnectorConnectionInformationXml", s.connection_xml},
        {"ConnectorCountersXml", nullptr},
        // As ConvertTo-Json -Depth 6 writes the cmdlet's SyncErrors object.
        {"SyncErrors",
         {{"SyncErrorsCompressed", nullptr},
          {"SyncErrorsXml", s.sync_errors_xml},
          {"SyncErrorsList", nlohmann::json::array()},
          {"SyncErrorsSummaryXml", nullptr}}},
        {"MvRetryErrors", nullptr},
        {"ConnectorDiscoveryErrors", nullptr},
        {"FlowCountersXml", s.flow_counters_xml},
    };
    steps.push_back(j);
  }
  nlohmann::json run = {
      {"RunHistoryId", "5f1a0e1c-7d2b-4c3a-9e8f-1a2b3c4d5e6f"},
      {"ConnectorId", "b891884f-051e-4a83-95af-2544101c9083"},
      {"ConnectorName", "contoso.onmicrosoft.com - AAD"},
      {"RunProfileName", "Delta Sync"},
      {"RunNumber", 12},
      {"Result", "completed-export-errors"},
      {"StartDate", "/Date(1709287200000)/"},
      {"EndDate", "/Date(1709287280250)/"},
      {"RunStepResults", steps},
  };
  return nlohmann::json::array({run}).dump(2);
}

TEST(RunHistoryFormatsTest, JsonStepsEqualXmlSteps) {
  const Parsed xml = ParseXml(RunXml());
  ASSERT_TRUE(xml.status.ok()) << xml.status;
  const Parsed json = ParseJson(RunJson());
  ASSERT_TRUE(json.status.ok()) << json.status;
  ASSERT_EQ(xml.runs.size(), 1u);
  ASSERT_EQ(json.runs.size(), 1u);
  ASSERT_EQ(xml.runs[0].steps_size(), 2);
  ASSERT_EQ(json.runs[0].steps_size(), 2);
  for (int i = 0; i < 2; ++i) {
    std::string diff;
    MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    EXPECT_TRUE(d.Compare(xml.runs[0].steps(i), json.runs[0].steps(i))) << "step " << i + 1 << ":\n"
                                                                        << diff;
  }

  // And what they agree on is all there.
  const v1::RunStep& sync = json.runs[0].steps(0);
  EXPECT_EQ(sync.step_type(), "apply-rules");
  EXPECT_THAT(sync.step_subtypes(), ::testing::ElementsAre("apply-pending"));
  EXPECT_EQ(sync.partition(), "DC=contoso,DC=com");
  EXPECT_EQ(sync.connection_result(), "success");
  EXPECT_EQ(sync.connection_server(), "DC01.contoso.com:389");
  ASSERT_EQ(sync.connection_incidents_size(), 1);
  EXPECT_EQ(sync.connection_incidents(0).connection_result(), "failed-search");
  EXPECT_EQ(sync.connection_incidents(0).server(), "DC02.contoso.com:389");
  EXPECT_EQ(sync.connection_incidents(0).date().seconds(), 1709287205);
  EXPECT_EQ(sync.connection_incidents(0).cd_error().error_code(), "8453");
  EXPECT_EQ(sync.connection_incidents(0).cd_error().server_error_detail(),
            "00002105: LdapErr: DSID-0C090A0F");
  ASSERT_EQ(sync.import_errors_size(), 1);
  EXPECT_EQ(sync.import_errors(0).algorithm_step(), "import-flow");
  EXPECT_EQ(sync.import_errors(0).retry_count(), 2);
  ASSERT_EQ(sync.outbound_flow_counters_size(), 2);
  const v1::OutboundFlowCounters& aad = sync.outbound_flow_counters(0);
  EXPECT_EQ(aad.connector(), "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(aad.connector_id(), "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(aad.provisioned_add_flow(), 5);
  EXPECT_EQ(aad.provisioned_add_no_flow(), 1);
  EXPECT_EQ(aad.provisioned_rename_flow(), 2);
  EXPECT_EQ(aad.provisioned_rename_no_flow(), 3);
  EXPECT_EQ(aad.provisioned_disconnect(), 40);
  EXPECT_EQ(aad.provisioned_delete_add_flow(), 6);
  EXPECT_EQ(aad.provisioned_delete_add_no_flow(), 7);
  EXPECT_EQ(aad.connector_flow(), 12);
  EXPECT_EQ(aad.connector_no_flow(), 9);
  EXPECT_EQ(sync.outbound_flow_counters(1).connector(), "fabrikam.com");
  EXPECT_EQ(sync.outbound_flow_counters(1).connector_flow(), 4);
  EXPECT_EQ(sync.staging_counters().stage_add(), 3);
  EXPECT_EQ(sync.inbound_flow_counters().connector_flow(), 8);

  const v1::RunStep& exp = json.runs[0].steps(1);
  EXPECT_EQ(exp.step_type(), "export");
  EXPECT_EQ(exp.partition(), "default");
  EXPECT_EQ(exp.export_counters().export_update(), 17);
  ASSERT_EQ(exp.export_errors_size(), 1);
  EXPECT_EQ(exp.export_errors(0).connector_name(), "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(exp.export_errors(0).connector_id(), "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(exp.export_errors(0).cd_error().error_code(), "0x80230703");
  EXPECT_EQ(exp.export_errors(0).conflict_attribute(), "ProxyAddresses");
  EXPECT_EQ(exp.export_errors(0).retry_count(), 5);
}

TEST(RunHistoryFormatsTest, SyncErrorsAsAPlainStringAndFragmentsWithTheirWrapper) {
  // SyncErrors given straight as a string, and ConnectorConnectionInformationXml
  // already wrapped in <ma-connection>.
  const std::string text = absl::StrCat(
      "{\"RunHistoryId\":\"5f1a0e1c-7d2b-4c3a-9e8f-1a2b3c4d5e6f\",\"ConnectorName\":\"c\","
      "\"Result\":\"success\",\"StartDate\":\"/Date(1709287200000)/\",\"RunStepResults\":[{"
      "\"StepNumber\":1,\"SyncErrors\":",
      nlohmann::json(kSteps[1].sync_errors_xml).dump(),
      ",\"ConnectorConnectionInformationXml\":\"<ma-connection><connection-result>failed-"
      "connection</connection-result></ma-connection>\"}]}");
  const Parsed p = ParseJson(text);
  ASSERT_TRUE(p.status.ok()) << p.status;
  ASSERT_EQ(p.runs[0].steps_size(), 1);
  EXPECT_EQ(p.runs[0].steps(0).export_errors_size(), 1);
  EXPECT_EQ(p.runs[0].steps(0).export_errors(0).connector_name(), "c");
  EXPECT_EQ(p.runs[0].steps(0).connection_result(), "failed-connection");
  EXPECT_EQ(p.runs[0].steps(0).step_number(), 1);
}

TEST(RunHistoryFormatsTest, BadFragmentNamesTheStepAndProperty) {
  const std::string text =
      "[{\"RunHistoryId\":\"5f1a0e1c-7d2b-4c3a-9e8f-1a2b3c4d5e6f\",\"ConnectorName\":\"c\","
      "\"Result\":\"success\",\"StartDate\":\"/Date(1709287200000)/\",\"RunStepResults\":[{"
      "\"StepNumber\":1,\"FlowCountersXml\":\"<outbound-flow-counters ma=\\\"x\\\">"
      "<connector-flow>many</connector-flow></outbound-flow-counters>\"}]}]";
  const Parsed p = ParseJson(text, "r.json");
  EXPECT_EQ(p.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status.message()),
              HasSubstr("r.json:1: item 0 (5f1a0e1c-7d2b-4c3a-9e8f-1a2b3c4d5e6f): "
                        "RunStepResults[0].FlowCountersXml: XML fragment: FlowCountersXml:1: "
                        "<connector-flow> is not a number: \"many\""));
  EXPECT_TRUE(p.runs.empty());
}

}  // namespace
}  // namespace syncwatch::agent
