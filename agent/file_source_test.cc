#include "agent/file_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <tuple>

#include "absl/time/clock.h"
#include "agent/agent.h"
#include "common/clock.h"
#include "common/event_validation.h"
#include "common/file_util.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/config_fixtures.h"
#include "tests/testutil/fixtures.h"
#include "tests/testutil/test_util.h"

#ifdef _WIN32
#include "common/win_util.h"
#endif

namespace syncwatch::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// One run-profile result, as Get-ADSyncRunProfileResult | ConvertTo-Json writes it.
constexpr char kRunJson[] = R"({"RunHistoryId":"81d206e6-392a-4485-9834-4c241723332d",
    "ConnectorName":"contoso.com","RunProfileName":"Export","RunNumber":3,"Result":"success",
    "StartDate":"\/Date(1649391053843)\/","EndDate":"\/Date(1649391074963)\/","IsRunComplete":true})";

// Malformed on line 3 (an end tag that does not match) and line 2 (no value).
constexpr char kBadXml[] = "<run-history>\n<run-details>\n</run-history>\n";
constexpr char kBadJson[] = "[\n{\"RunHistoryId\": }\n]\n";

// "Zürich-東京" in UTF-8.
constexpr char kNonAscii[] = "Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac";

// The lines logged while it exists.
class LogCapture {
 public:
  LogCapture() {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.clear();
    SetLogSink(&Sink);
  }
  ~LogCapture() { SetLogSink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The lines containing `text`.
  std::vector<std::string> With(const std::string& text) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const std::string& line : lines_) {
      if (line.find(text) != std::string::npos) out.push_back(line);
    }
    return out;
  }

 private:
  static void Sink(LogLevel, absl::string_view line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(line);
  }
  static std::mutex mu_;
  static std::vector<std::string> lines_;
};
std::mutex LogCapture::mu_;
std::vector<std::string> LogCapture::lines_;

// An agent with one run-history JSON source reading `glob` (no collector
// listens: only what is spooled is looked at).
class FileSourceAgentTest : public ::testing::Test {
 protected:
  ~FileSourceAgentTest() override {
#ifdef _WIN32
    // Under Wine, stopping a collector link while its first connection
    // attempt (to the closed port 127.0.0.1:1) is under way can hang in
    // gRPC's Windows transport: about once in 100-400 agents stopped within
    // 250 ms of their start, never in 400 stopped after a second. The agent
    // itself does not stop that soon after starting; let the attempt end.
    if (agent_ != nullptr) absl::SleepFor(absl::Seconds(1));
#endif
  }

  void StartAgent(const std::string& glob, const std::string& data_dir = "") {
    AgentOptions options;
    options.server = "sync01";
    options.agent_id = "sync01";
    options.data_dir = data_dir.empty() ? dir_.Sub("agent") : data_dir;
    options.collectors = {"127.0.0.1:1"};
    SourceOptions s;
    s.name = "runs";
    s.kind = SourceKind::kRunHistory;
    s.format = SourceFormat::kJson;
    s.path = glob;
    options.sources.push_back(s);
    auto agent = Agent::Create(options, RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    agent_ = *std::move(agent);
  }

  testing::TempDir dir_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(FileSourceAgentTest, ReadsFoldersAndFilesWithNonAsciiNames) {
  const std::string folder = dir_.Sub(kNonAscii);
  testing::WriteFile(folder + "/" + kNonAscii + ".json", kRunJson);
  // The spool too lives in a folder with such a name.
  StartAgent(folder + "/*.json", folder + "/agent");
  const ScanReport r = agent_->ScanOnce();
  EXPECT_THAT(r.failures, IsEmpty());
  EXPECT_EQ(r.files_read, 1);
  EXPECT_EQ(r.events_spooled, 1);
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::exists(Utf8Path(folder + "/agent/spool/CURRENT"), ec));
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 0);  // read once
}

TEST_F(FileSourceAgentTest, AFolderThatIsGoneIsReportedOnceAndReadWhenItIsBack) {
  LogCapture log;
  testing::WriteFile(dir_.Sub("in/a.json"), kRunJson);
  StartAgent(dir_.Sub("in/*.json"));
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 1);

  std::filesystem::remove_all(Utf8Path(dir_.Sub("in")));
  for (int i = 0; i < 3; ++i) {
    const ScanReport r = agent_->ScanOnce();
    EXPECT_EQ(r.events_spooled, 0);
    EXPECT_THAT(r.failures, IsEmpty());  // the exporter may not have made it yet
  }
  std::vector<std::string> warnings = log.With("cannot list");
  ASSERT_EQ(warnings.size(), 1u);  // not once per scan
  EXPECT_THAT(warnings[0], HasSubstr("WARN"));
  EXPECT_THAT(warnings[0], HasSubstr("source 'runs': cannot list " + dir_.Sub("in") + ": "));
#ifdef _WIN32
  EXPECT_THAT(warnings[0], HasSubstr(" (3)"));  // ERROR_PATH_NOT_FOUND
#else
  EXPECT_THAT(warnings[0], HasSubstr("No such file or directory"));
#endif

  testing::WriteFile(dir_.Sub("in/b.json"), kRunJson);
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 1);
  EXPECT_EQ(log.With("can be read again").size(), 1u);
  // Gone again: news again.
  std::filesystem::remove_all(Utf8Path(dir_.Sub("in")));
  agent_->ScanOnce();
  EXPECT_EQ(log.With("cannot list").size(), 2u);
}

// Malformed run-history XML and JSON: the error starts with the file's path,
// then the line (as FILE:LINE: what is wrong).
TEST(ReadSourceFile, ErrorsStartWithThePathAndLine) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("bad.xml"), kBadXml);
  testing::WriteFile(dir.Sub("bad.json"), kBadJson);
  SourceOptions source;
  source.name = "runs";
  source.format = SourceFormat::kXml;
  auto events =
      ReadSourceFile(source, FoundFile{dir.Sub("bad.xml"), "1", absl::Now()}, absl::Now());
  EXPECT_THAT(std::string(events.status().message()), StartsWith(dir.Sub("bad.xml") + ":3: "));
  source.format = SourceFormat::kJson;
  events = ReadSourceFile(source, FoundFile{dir.Sub("bad.json"), "1", absl::Now()}, absl::Now());
  EXPECT_THAT(std::string(events.status().message()), StartsWith(dir.Sub("bad.json") + ":2: "));
}

#ifdef _WIN32
// `path` with Windows separators.
std::string Backslashed(std::string path) {
  std::replace(path.begin(), path.end(), '/', '\\');
  return path;
}

TEST_F(FileSourceAgentTest, AnUnreachableShareIsReportedOnceAndTriedAgain) {
  LogCapture log;
  const std::string share = "\\\\nonexistent.invalid\\share\\runs";
  StartAgent(share + "\\*.json");
  const absl::Time start = absl::Now();
  std::vector<std::string> failures;
  for (int i = 0; i < 3; ++i) {
    const ScanReport r = agent_->ScanOnce();
    EXPECT_EQ(r.events_spooled, 0);
    failures.insert(failures.end(), r.failures.begin(), r.failures.end());
  }
  // Wine answers at once (ERROR_PATH_NOT_FOUND); Windows may take a network timeout.
  std::cerr << "three scans of " << share << " took " << (absl::Now() - start) << "\n";
  const std::vector<std::string> warnings = log.With("cannot list");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("source 'runs': cannot list " + share + ": "));
  EXPECT_THAT(warnings[0], ::testing::ContainsRegex("\\(\\d+\\)"));  // the Windows error code
  // Windows proper: ERROR_BAD_NETPATH, a failure (not "not there yet").
  for (const std::string& f : failures) EXPECT_THAT(f, HasSubstr(share));
}

TEST_F(FileSourceAgentTest, AFileLockedByItsWriterIsReadOnceReleased) {
  const std::string path = Backslashed(dir_.Sub("in/r.json"));
  testing::WriteFile(path, kRunJson);
  // The writer holds it without sharing it (share mode 0).
  win::Handle writer(::CreateFileW(win::Widen(path).value().c_str(), GENERIC_READ | GENERIC_WRITE,
                                   0, nullptr, OPEN_EXISTING, 0, nullptr));
  ASSERT_TRUE(writer.valid()) << win::ErrorText(::GetLastError());
  LogCapture log;
  StartAgent(Backslashed(dir_.Sub("in/*.json")));
  for (int i = 0; i < 3; ++i) {
    const ScanReport r = agent_->ScanOnce();
    EXPECT_EQ(r.events_spooled, 0);
    EXPECT_THAT(r.failures, IsEmpty());
    EXPECT_THAT(r.in_use, ::testing::ElementsAre(path));
  }
  const std::vector<std::string> lines = log.With("in use by its writer");
  ASSERT_EQ(lines.size(), 1u);  // once, not per scan
  EXPECT_THAT(lines[0], HasSubstr("INFO"));
  EXPECT_THAT(lines[0], HasSubstr(path));

  writer.Reset();
  ScanReport r = agent_->ScanOnce();
  EXPECT_THAT(r.failures, IsEmpty());
  EXPECT_THAT(r.in_use, IsEmpty());
  EXPECT_EQ(r.events_spooled, 1);
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 0);  // delivered once
}

// Malformed inputs at C:\... and \\?\C:\... paths: the error starts with
// the path as given, then the line.
TEST(ReadSourceFile, ErrorsStartWithTheWindowsPathAndLine) {
  testing::TempDir dir;
  const std::string base = Backslashed(dir.path());
  ASSERT_TRUE(base.size() > 3 && base[1] == ':' && base[2] == '\\') << base;
  testing::WriteFile(dir.Sub("bad.xml"), kBadXml);
  testing::WriteFile(dir.Sub("bad.json"), kBadJson);
  SourceOptions xml;
  xml.name = "runs";
  xml.format = SourceFormat::kXml;
  SourceOptions json = xml;
  json.format = SourceFormat::kJson;
  for (const std::string& prefix : {base, "\\\\?\\" + base}) {
    for (const auto& [source, name, line] :
         {std::tuple{xml, "bad.xml", ":3: "}, std::tuple{json, "bad.json", ":2: "}}) {
      const std::string path = prefix + "\\" + name;
      auto events = ReadSourceFile(source, FoundFile{path, "1", absl::Now()}, absl::Now());
      EXPECT_THAT(std::string(events.status().message()), StartsWith(path + line));
    }
  }
  // Found by a backslashed glob, the file is named as the glob spells it.
  auto files = FindFiles(base + "\\*.xml");
  SYNCWATCH_ASSERT_OK(files);
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].path, base + "\\bad.xml");
  auto events = ReadSourceFile(xml, (*files)[0], absl::Now());
  EXPECT_THAT(std::string(events.status().message()), StartsWith(base + "\\bad.xml:3: "));
}
#endif  // _WIN32

TEST(WildcardMatch, MatchesStarsAndQuestionMarks) {
  EXPECT_TRUE(WildcardMatch("*.xml", "runs-1.xml"));
  EXPECT_FALSE(WildcardMatch("*.xml", "runs-1.xml.tmp"));
  EXPECT_TRUE(WildcardMatch("run?.json", "run1.json"));
  EXPECT_FALSE(WildcardMatch("run?.json", "run12.json"));
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_TRUE(WildcardMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "aXXbYY"));
}

TEST(WildcardMatch, IgnoresTheCaseOfAsciiLettersOnlyWhenAsked) {
  EXPECT_TRUE(WildcardMatch("*.XML", "Runs-1.xml", /*ignore_case=*/true));
  EXPECT_TRUE(WildcardMatch("RUN?.json", "run1.JSON", /*ignore_case=*/true));
  EXPECT_FALSE(WildcardMatch("*.XML", "runs-1.xml", /*ignore_case=*/false));
  EXPECT_FALSE(WildcardMatch("a*c", "ABD", /*ignore_case=*/true));
  // Bytes of UTF-8 names are compared as they are.
  EXPECT_FALSE(WildcardMatch("\xc3\xa9*", "\xc3\x89t\xc3\xa9.xml", /*ignore_case=*/true));
  // NTFS ignores case, POSIX file systems do not.
  EXPECT_EQ(WildcardMatch("*.XML", "a.xml"), kFileNamesIgnoreCase);
}

TEST(PathInGlobDirectory, SpellsTheDirectoryAsTheGlobDoes) {
  EXPECT_EQ(PathInGlobDirectory("in/*.xml", "a.xml"), "in/a.xml");
  EXPECT_EQ(PathInGlobDirectory("/var/lib/in/run?.json", "run1.json"), "/var/lib/in/run1.json");
  EXPECT_EQ(PathInGlobDirectory("*.xml", "a.xml"), "./a.xml");
#ifdef _WIN32
  EXPECT_EQ(PathInGlobDirectory("C:\\syncwatch\\in\\*.xml", "a.xml"), "C:\\syncwatch\\in\\a.xml");
  EXPECT_EQ(PathInGlobDirectory("\\\\fs01\\drop\\runs\\*.xml", "r.xml"),
            "\\\\fs01\\drop\\runs\\r.xml");
  EXPECT_EQ(PathInGlobDirectory("C:*.xml", "a.xml"), "C:a.xml");
#else
  // A backslash is an ordinary character of a POSIX file name.
  EXPECT_EQ(PathInGlobDirectory("in\\*.xml", "in\\a.xml"), "./in\\a.xml");
#endif
}

TEST(FindFiles, FindsNonAsciiNamesAndNamesThemAsWritten) {
  testing::TempDir dir;
  // "Exportläufe/Ünicode-1.xml" in UTF-8, as the config file gives it.
  const std::string folder = "Export\xc3\xa4ufe";
  const std::string name = "\xc3\x9cnicode-1.xml";
  std::filesystem::create_directories(std::filesystem::u8path(dir.Sub(folder)));
  {
    std::ofstream out(std::filesystem::u8path(dir.Sub(folder + "/" + name)));
    out << "<a/>";
  }
  auto files = FindFiles(dir.Sub(folder + "/*.xml"));
  SYNCWATCH_ASSERT_OK(files);
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].path, dir.Sub(folder + "/" + name));
  // Upper-case pattern: found on Windows (NTFS), not on POSIX.
  files = FindFiles(dir.Sub(folder + "/*.XML"));
  SYNCWATCH_ASSERT_OK(files);
  EXPECT_EQ(files->size(), kFileNamesIgnoreCase ? 1u : 0u);
}

TEST(FindFiles, ListsMatchingFilesSortedWithFingerprints) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("in/b.xml"), "<b/>");
  testing::WriteFile(dir.Sub("in/a.xml"), "<a/>");
  testing::WriteFile(dir.Sub("in/a.xml.tmp"), "partial");
  std::filesystem::create_directories(dir.Sub("in/sub.xml"));  // a directory is skipped
  auto files = FindFiles(dir.Sub("in/*.xml"));
  SYNCWATCH_ASSERT_OK(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, dir.Sub("in/a.xml"));
  EXPECT_EQ((*files)[1].path, dir.Sub("in/b.xml"));
  const std::string before = (*files)[0].fingerprint;
  testing::WriteFile(dir.Sub("in/a.xml"), "<a>changed</a>");
  files = FindFiles(dir.Sub("in/*.xml"));
  SYNCWATCH_ASSERT_OK(files);
  EXPECT_NE((*files)[0].fingerprint, before);
}

TEST(FindFiles, MissingDirectoryIsNotFoundNamingIt) {
  testing::TempDir dir;
  auto files = FindFiles(dir.Sub("not-there/*.xml"));
  EXPECT_THAT(files.status(), testing::StatusIs(absl::StatusCode::kNotFound,
                                                HasSubstr("cannot list " + dir.Sub("not-there"))));
}

TEST(ReadSourceFile, StampsEventsWithSourceAndTime) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "runs";
  source.format = SourceFormat::kJson;
  testing::WriteFile(dir.Sub("r.json"), R"({"RunHistoryId":"81d206e6-392a-4485-9834-4c241723332d",
    "ConnectorName":"contoso.com","RunProfileName":"Export","RunNumber":3,"Result":"success",
    "StartDate":"\/Date(1649391053843)\/","EndDate":"\/Date(1649391074963)\/","IsRunComplete":true})");
  auto files = FindFiles(dir.Sub("*.json"));
  SYNCWATCH_ASSERT_OK(files);
  ASSERT_EQ(files->size(), 1u);
  auto events = ReadSourceFile(source, (*files)[0], absl::FromUnixSeconds(1700000000));
  SYNCWATCH_ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].source(), "runs");
  EXPECT_EQ((*events)[0].observed_at().seconds(), 1700000000);
  EXPECT_EQ((*events)[0].run().connector_name(), "contoso.com");
}

TEST(ReadSourceFile, ErrorNamesTheFile) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "runs";
  testing::WriteFile(dir.Sub("bad.xml"), "<run-history><run-details>");
  auto events =
      ReadSourceFile(source, FoundFile{dir.Sub("bad.xml"), "x", absl::Now()}, absl::Now());
  EXPECT_FALSE(events.ok());
  EXPECT_THAT(std::string(events.status().message()), ::testing::HasSubstr("bad.xml"));
}

TEST(ConnectorFromFileName, ReadsTheExportersNames) {
  std::string id, name;
  ASSERT_TRUE(ConnectorFromFileName(
      "/in/pending/"
      "20240301T093012123Z_B891884F-051E-4A83-95AF-2544101C9083_contoso.onmicrosoft.com - AAD.xml",
      &id, &name));
  EXPECT_EQ(id, "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(name, "contoso.onmicrosoft.com - AAD");
  EXPECT_FALSE(ConnectorFromFileName("/in/pending/export.xml", &id, &name));
  EXPECT_FALSE(ConnectorFromFileName("/in/x/20240301T093012123Z_notaguid_c.xml", &id, &name));
}

TEST(ReadSourceFile, PendingExportsNeedAConnectorFromSomewhere) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "pending";
  source.kind = SourceKind::kPendingExports;
  source.format = SourceFormat::kCsexport;
  testing::WriteFile(dir.Sub("empty.xml"), "<cs-objects/>");
  const FoundFile file{dir.Sub("empty.xml"), "1", absl::FromUnixSeconds(1700000000)};
  auto none = ReadSourceFile(source, file, absl::Now());
  EXPECT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()),
              ::testing::HasSubstr("cannot tell which connector"));
  // An empty export for a configured connector is a snapshot with nothing pending.
  source.connector = "contoso.onmicrosoft.com - AAD";
  auto events = ReadSourceFile(source, file, absl::Now());
  SYNCWATCH_ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  const v1::PendingExportSnapshot& s = (*events)[0].pending_exports();
  EXPECT_EQ(s.connector_name(), "contoso.onmicrosoft.com - AAD");
  EXPECT_EQ(s.pending_deletes(), 0);
  EXPECT_EQ(s.taken_at().seconds(), 1700000000);
  EXPECT_FALSE(s.snapshot_id().empty());
}

TEST(ReadSourceFile, CutsHugeErrorLiteralsToWhatTheCollectorTakes) {
  testing::TempDir dir;
  SourceOptions source;
  source.name = "runs";
  std::string xml = testing::RunHistoryXml("contoso.com", 1, 1);
  const std::string literal(300 * 1024, 'x');
  xml.replace(
      xml.find("<synchronization-errors/>"), 25,
      "<synchronization-errors><export-error cs-guid=\"{12345678-DF83-E611-8CE8-00505689546C}\" "
      "dn=\"CN=a\"><error-type>permission-issue</error-type><cd-error><error-code>0x1</error-code>"
      "<error-literal>" +
          literal + "</error-literal></cd-error></export-error></synchronization-errors>");
  testing::WriteFile(dir.Sub("r.xml"), xml);
  auto events = ReadSourceFile(source, FoundFile{dir.Sub("r.xml"), "1", absl::Now()}, absl::Now());
  SYNCWATCH_ASSERT_OK(events);
  const std::string& got = (*events)[0].run().steps(0).export_errors(0).cd_error().error_literal();
  EXPECT_LT(got.size(), 70u * 1024);
  EXPECT_THAT(got, ::testing::EndsWith("[truncated by syncwatch-agent]"));
}

TEST(FindFolders, ListsConfigurationFoldersWithFingerprintsAndStamps) {
  testing::TempDir dir;
  SYNCWATCH_ASSERT_OK(testing::CopyConfiguration(testing::SampleConfigurationDir(),
                                                 dir.Sub("config/20260105T031500123Z")));
  testing::WriteFile(dir.Sub("config/.partial/Connectors/Connector_{x}.xml"), "<ma-data");
  testing::WriteFile(dir.Sub("config/notes.txt"), "a file, not a folder");
  testing::WriteFile(dir.Sub("config/manual/Connectors/Connector_{x}.xml"), "<ma-data/>");
  auto folders = FindFolders(dir.Sub("config/*"));
  SYNCWATCH_ASSERT_OK(folders);
  ASSERT_EQ(folders->size(), 2u);
  EXPECT_EQ((*folders)[0].path, dir.Sub("config/20260105T031500123Z"));
  EXPECT_EQ((*folders)[1].path, dir.Sub("config/manual"));
  EXPECT_EQ((*folders)[0].modified, absl::FromUnixMillis(1767582900123));
  EXPECT_GT((*folders)[1].modified, absl::Now() - absl::Minutes(5));  // its file's mtime

  // Rewriting one rule file changes the fingerprint.
  const std::string before = (*folders)[0].fingerprint;
  SYNCWATCH_ASSERT_OK(testing::CopyConfiguration(testing::SampleConfigurationDir(),
                                                 dir.Sub("edited"),
                                                 {testing::DisableRule("In from AD - User Join")}));
  // File by file, each removed first: GCC 12's libstdc++ on Windows overwrites
  // neither a directory nor a file ("File exists").
  for (const auto& rule :
       std::filesystem::directory_iterator(dir.Sub("edited/SynchronizationRules"))) {
    const std::filesystem::path target =
        std::filesystem::path(dir.Sub("config/20260105T031500123Z/SynchronizationRules")) /
        rule.path().filename();
    std::filesystem::remove(target);
    std::filesystem::copy_file(rule.path(), target);
  }
  folders = FindFolders(dir.Sub("config/*"));
  SYNCWATCH_ASSERT_OK(folders);
  EXPECT_NE((*folders)[0].fingerprint, before);
}

TEST(ReadSourceFile, ConfigurationFolderIsOneValidEvent) {
  SourceOptions source;
  source.name = "config";
  source.kind = SourceKind::kServerConfiguration;
  source.format = SourceFormat::kFolder;
  const absl::Time taken = absl::FromUnixSeconds(1767583500);
  auto events = ReadSourceFile(source, FoundFile{testing::SampleConfigurationDir(), "x", taken},
                               absl::FromUnixSeconds(1767583600));
  SYNCWATCH_ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  const v1::Event& e = (*events)[0];
  EXPECT_EQ(e.source(), "config");
  EXPECT_EQ(e.configuration().taken_at().seconds(), 1767583500);
  EXPECT_EQ(e.configuration().rules_size(), 62);
  EXPECT_EQ(e.configuration().source_path(), testing::SampleConfigurationDir());
  // What the collector will accept.
  v1::EventBatch batch;
  batch.set_seq(1);
  *batch.add_events() = e;
  SYNCWATCH_EXPECT_OK(ValidateBatch(batch, {}));
}

// The agent with a server_configuration source and its spool (no collector
// listens: only what is spooled is looked at).
class ConfigurationSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.server = "sync01";
    options_.agent_id = "sync01";
    options_.data_dir = dir_.Sub("agent");
    options_.collectors = {"127.0.0.1:1"};
    SourceOptions s;
    s.name = "config";
    s.kind = SourceKind::kServerConfiguration;
    s.format = SourceFormat::kFolder;
    s.path = dir_.Sub("in/config/*");
    options_.sources.push_back(s);
    auto agent = Agent::Create(options_, RealClock::Get());
    SYNCWATCH_ASSERT_OK(agent);
    agent_ = *std::move(agent);
  }

  // Adds a copy of the sample with `edits` as the folder `stamp`.
  void AddFolder(const std::string& stamp, const std::vector<testing::ConfigEdit>& edits = {}) {
    SYNCWATCH_ASSERT_OK(testing::CopyConfiguration(testing::SampleConfigurationDir(),
                                                   dir_.Sub("in/config/" + stamp), edits));
  }

  // Every configuration spooled so far.
  std::vector<v1::ServerConfiguration> Spooled() {
    std::vector<v1::ServerConfiguration> out;
    auto batches = agent_->spool().ReadAfter(0, 1000);
    EXPECT_TRUE(batches.ok()) << batches.status();
    if (!batches.ok()) return out;
    for (const v1::EventBatch& b : *batches) {
      for (const v1::Event& e : b.events()) {
        if (e.has_configuration()) out.push_back(e.configuration());
      }
    }
    return out;
  }

  testing::TempDir dir_;
  AgentOptions options_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(ConfigurationSourceTest, EachNewContentIsSentOnce) {
  AddFolder("20260105T031500000Z");
  ScanReport r = agent_->ScanOnce();
  EXPECT_THAT(r.failures, ::testing::IsEmpty());
  EXPECT_EQ(r.events_spooled, 1);
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 0);  // the same folder

  AddFolder("20260105T041500000Z");  // a new folder, same content
  r = agent_->ScanOnce();
  EXPECT_THAT(r.failures, ::testing::IsEmpty());
  EXPECT_EQ(r.events_spooled, 0);

  AddFolder("20260105T051500000Z", {testing::DisableRule("In from AD - User Join")});
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 1);

  // Back to the first content: it differs from the last one sent.
  AddFolder("20260105T061500000Z");
  EXPECT_EQ(agent_->ScanOnce().events_spooled, 1);

  const std::vector<v1::ServerConfiguration> sent = Spooled();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].source_path(), dir_.Sub("in/config/20260105T031500000Z"));
  EXPECT_EQ(sent[1].source_path(), dir_.Sub("in/config/20260105T051500000Z"));
  EXPECT_EQ(sent[2].digest(), sent[0].digest());
  EXPECT_NE(sent[1].digest(), sent[0].digest());
  EXPECT_EQ(sent[1].taken_at().seconds(), 1767590100);
}

TEST_F(ConfigurationSourceTest, ABrokenFolderIsReportedAndNothingOfItIsSent) {
  AddFolder("20260105T031500000Z",
            {testing::EditRule("In from AD - User Join", "<name>In from AD - User Join</name>",
                               "<name>In from AD - User Join</nam>")});
  ScanReport r = agent_->ScanOnce();
  EXPECT_EQ(r.events_spooled, 0);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0],
              ::testing::HasSubstr("SynchronizationRule_{0b088913-b613-4d9d-9563-9988b7719ed6}"
                                   ".xml:5: malformed XML"));
  EXPECT_THAT(Spooled(), ::testing::IsEmpty());
  // The partial folder the exporter builds is never looked at.
  testing::WriteFile(dir_.Sub("in/config/.partial/Connectors/Connector_{x}.xml"), "<");
  EXPECT_EQ(agent_->ScanOnce().failures.size(), 1u);  // still the broken one only
}

}  // namespace
}  // namespace syncwatch::agent
