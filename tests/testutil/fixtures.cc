#include "tests/testutil/fixtures.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace syncwatch::testing {

std::string RunHistoryXml(const std::string& connector, int first_run_number, int count) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<run-history>\n";
  for (int i = 0; i < count; ++i) {
    const int n = first_run_number + i;
    const absl::Time start = absl::FromUnixSeconds(1700000000) + absl::Minutes(n);
    const std::string s = absl::FormatTime("%Y-%m-%d %H:%M:%S.000", start, absl::UTCTimeZone());
    const std::string e =
        absl::FormatTime("%Y-%m-%d %H:%M:%S.500", start + absl::Seconds(20), absl::UTCTimeZone());
    absl::StrAppend(
        &xml, " <run-details>\n  <ma-id>{85098734-66BC-4938-8122-C5F585F463D0}</ma-id>\n",
        "  <ma-name>", connector, "</ma-name>\n  <run-number>", n,
        "</run-number>\n  <run-profile-name>Delta Import</run-profile-name>\n",
        "  <security-id>NT SERVICE\\ADSync</security-id>\n",
        "  <step-details step-number=\"1\" step-id=\"{874BEB73-FFF1-4C43-9836-26D8AACE454E}\">\n",
        "   <start-date>", s, "</start-date>\n   <end-date>", e, "</end-date>\n",
        "   <step-result>success</step-result>\n",
        "   <step-description><step-type type=\"delta-import\"><import-subtype>to-cs"
        "</import-subtype></step-type><partition>DC=contoso,DC=com</partition>"
        "</step-description>\n",
        "   <synchronization-errors/>\n   <staging-counters><stage-add detail=\"true\">", n % 7,
        "</stage-add></staging-counters>\n  </step-details>\n </run-details>\n");
  }
  xml += "</run-history>\n";
  return xml;
}

std::string CsExportPendingXml(const std::string& connector, int deletes, int adds) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<cs-objects>\n";
  auto tail = [&](const char* op) {
    return absl::StrCat("  <export-delta-operation>", op, "</export-delta-operation>\n",
                        "  <ma-id>{B891884F-051E-4A83-95AF-2544101C9083}</ma-id>\n  <ma-name>",
                        connector, "</ma-name>\n </cs-object>\n");
  };
  for (int i = 0; i < deletes; ++i) {
    const std::string dn = absl::StrFormat("CN={%032X}", i);
    absl::StrAppend(
        &xml, " <cs-object cs-dn=\"", dn, "\" id=\"",
        absl::StrFormat("{%08X-0000-4000-8000-000000000001}", i),
        "\" object-type=\"user\">\n  <unapplied-export><delta operation=\"delete\" dn=\"", dn,
        "\"/></unapplied-export>\n  <synchronized-hologram><entry dn=\"", dn, "\">",
        "<attr name=\"userPrincipalName\" type=\"string\" multivalued=\"false\"><value>user", i,
        "@contoso.com</value></attr>",
        "<attr name=\"sourceAnchor\" type=\"string\" multivalued=\"false\"><value>anchor", i,
        "</value></attr>",
        "<attr name=\"displayName\" type=\"string\" multivalued=\"false\"><value>User ", i,
        "</value></attr></entry></synchronized-hologram>\n", tail("delete"));
  }
  for (int i = 0; i < adds; ++i) {
    const std::string dn = absl::StrFormat("CN={%032X}", 1000000 + i);
    absl::StrAppend(
        &xml, " <cs-object cs-dn=\"", dn, "\" id=\"",
        absl::StrFormat("{%08X-0000-4000-8000-000000000002}", i),
        "\" object-type=\"user\">\n  <unapplied-export><delta operation=\"add\" dn=\"", dn, "\">",
        "<attr name=\"userPrincipalName\" type=\"string\" multivalued=\"false\"><value>new", i,
        "@contoso.com</value></attr></delta></unapplied-export>\n", tail("add"));
  }
  xml += "</cs-objects>\n";
  return xml;
}

namespace {

// Runs the shell `script` in `dir` with its output in pki.log; prints the log
// on failure.
bool RunPkiScript(const std::string& dir, const std::string& script) {
  const std::string path = dir + "/pki.sh";
  {
    std::ofstream out(path);
    out << absl::StrCat("set -e; cd '", dir, "'; exec >pki.log 2>&1\n", script);
  }
  if (std::system(absl::StrCat("sh '", path, "'").c_str()) == 0) return true;
  std::ifstream log(dir + "/pki.log");
  std::cerr << "openssl failed:\n" << log.rdbuf();
  return false;
}

// <ca>.pem and <ca>.key: a self-signed CA with subject CN `cn`.
bool MakeSelfSignedCa(const std::string& dir, const std::string& ca, const std::string& cn) {
  return RunPkiScript(dir, absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
                                        "/CN=",
                                        cn, " -keyout ", ca, ".key -out ", ca, ".pem\n"));
}

}  // namespace

bool MakeTestPki(const std::string& dir) {
  return MakeSelfSignedCa(dir, "ca", "syncwatch-test-ca") &&
         MakeTestCert(dir, "ca", "server", "collector.test", "DNS:collector.test,IP:127.0.0.1") &&
         MakeTestCert(dir, "ca", "client", "sync01", "DNS:sync01");
}

bool MakeTestCa(const std::string& dir, const std::string& ca) {
  return MakeSelfSignedCa(dir, ca, ca);
}

bool MakeTestCert(const std::string& dir, const std::string& ca, const std::string& file,
                  const std::string& cn, const std::string& san) {
  return RunPkiScript(
      dir, absl::StrCat("openssl req -newkey rsa:2048 -nodes -subj /CN=", cn, " -keyout ", file,
                        ".key -out ", file, ".csr\n", "printf '%s\\n' 'subjectAltName=", san,
                        "' > ", file, ".ext\n", "openssl x509 -req -in ", file, ".csr -CA ", ca,
                        ".pem -CAkey ", ca, ".key -CAcreateserial -days 2 -extfile ", file,
                        ".ext -out ", file, ".pem\n"));
}

std::string SamplesDir() { return SYNCWATCH_SOURCE_DIR "/deploy/samples/aadconnect"; }

}  // namespace syncwatch::testing
