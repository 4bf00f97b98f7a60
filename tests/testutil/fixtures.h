// Generated sync-engine data for tests, written from DOMAIN.md §1.5.
#ifndef SYNCWATCH_TESTS_TESTUTIL_FIXTURES_H_
#define SYNCWATCH_TESTS_TESTUTIL_FIXTURES_H_

#include <string>

namespace syncwatch::testing {

// A run-history XML document (as RunDetails() writes it, with the utf-16
// declaration on UTF-8 bytes) holding `count` runs of connector `connector`
// numbered first_run_number.., each a one-step Delta Import starting one
// minute after the previous one.
std::string RunHistoryXml(const std::string& connector, int first_run_number, int count);

// A csexport /f:x document (DOMAIN.md §2.1) of connector `connector` with
// `deletes` pending deletes (attributes in the synchronized hologram: UPN
// user<i>@contoso.com, sourceAnchor, displayName) and `adds` pending adds
// (UPN new<i>@contoso.com in the delta).
std::string CsExportPendingXml(const std::string& connector, int deletes, int adds);

// Creates a throw-away PKI in `dir` with the openssl command: ca.pem/ca.key,
// server.pem/server.key for the name "collector.test" (and 127.0.0.1), and
// client.pem/client.key for "sync01". Returns false (after printing openssl's
// output) on failure.
bool MakeTestPki(const std::string& dir);

// Creates another CA in `dir`: <ca>.pem and <ca>.key, subject CN <ca>.
bool MakeTestCa(const std::string& dir, const std::string& ca);

// Issues <file>.pem and <file>.key in `dir` for subject CN `cn` with the
// subjectAltName `san` (e.g. "DNS:collector.test,IP:127.0.0.1"), signed by
// the CA <ca>.pem/<ca>.key in `dir` (MakeTestPki's is "ca").
bool MakeTestCert(const std::string& dir, const std::string& ca, const std::string& file,
                  const std::string& cn, const std::string& san);

// The repository's bundled samples (deploy/samples/aadconnect).
std::string SamplesDir();

}  // namespace syncwatch::testing

#endif  // SYNCWATCH_TESTS_TESTUTIL_FIXTURES_H_
