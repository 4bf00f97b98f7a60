#include "tests/bench/agent_bench.h"

#include <expat.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "tests/testutil/fixtures.h"

namespace syncwatch::bench {
namespace {

namespace fs = std::filesystem;

constexpr char kConnector[] = "bench.onmicrosoft.com - AAD";

std::string Attr(absl::string_view name, absl::string_view value) {
  return absl::StrCat("    <attr name=\"", name, "\" type=\"string\" multivalued=\"false\"><value>",
                      value, "</value></attr>\n");
}

// The object class and attributes the Entra ID connector holds for a synced
// user, one element a line.
std::string UserAttributes(int64_t i) {
  const std::string first = absl::StrFormat("Given%05d", i % 99991);
  const std::string last = absl::StrFormat("Family%06d", i);
  const std::string upn = absl::StrCat(first, ".", last, "@corp.example.com");
  std::string e = absl::StrCat("    <primary-objectclass>user</primary-objectclass>\n",
                               "    <attr name=\"accountEnabled\" type=\"boolean\" "
                               "multivalued=\"false\"><value>true</value></attr>\n");
  absl::StrAppend(&e, Attr("city", "Springfield"), Attr("companyName", "Example Corporation"),
                  Attr("country", "United States"),
                  Attr("department", absl::StrCat("Department ", i % 37)),
                  Attr("displayName", absl::StrCat(first, " ", last)),
                  Attr("employeeId", absl::StrCat("E", 100000 + i)));
  for (int x = 1; x <= 4; ++x) {
    absl::StrAppend(&e, Attr(absl::StrCat("extensionAttribute", x),
                             absl::StrCat("cost-centre-", (i * x) % 1009, "-region-", x)));
  }
  absl::StrAppend(
      &e, Attr("givenName", first), Attr("jobTitle", "Senior Account Manager"), Attr("mail", upn),
      Attr("mailNickname", absl::StrCat(first, ".", last)),
      Attr("manager",
           absl::StrCat("CN=Manager ", i % 500, ",OU=Managers,DC=corp,DC=example,DC=com")),
      Attr("mobile", absl::StrFormat("+1 555 %07d", i % 9999999)),
      Attr("onPremisesDistinguishedName",
           absl::StrCat("CN=", first, " ", last, ",OU=Staff,DC=corp,DC=example,DC=com")),
      Attr("onPremisesSamAccountName", absl::StrFormat("u%07d", i)),
      Attr("postalCode", absl::StrFormat("%05d", i % 99999)));
  absl::StrAppend(&e,
                  "    <attr name=\"proxyAddresses\" type=\"string\" multivalued=\"true\">\n"
                  "     <value>SMTP:",
                  upn, "</value>\n     <value>smtp:", first, ".", last,
                  "@corp.mail.onmicrosoft.com</value>\n     <value>smtp:",
                  absl::StrFormat("u%07d", i), "@legacy.example.com</value>\n    </attr>\n");
  absl::StrAppend(&e, Attr("sourceAnchor", absl::StrFormat("QmVuY2hVc2VyR3VpZA%08d==", i)),
                  Attr("streetAddress", absl::StrCat(i % 900 + 1, " Evergreen Terrace")),
                  Attr("sn", last), Attr("state", "Oregon"),
                  Attr("telephoneNumber", absl::StrFormat("+1 555 %07d", i % 7777777)),
                  Attr("usageLocation", "US"), Attr("userPrincipalName", upn));
  return e;
}

// One cs-object: one in ten a pending delete, one in ten an add, the rest
// updates of two attributes; holograms as the engine keeps them.
std::string CsObject(int64_t i) {
  const std::string dn = absl::StrFormat("CN={%032X}", i);
  const int kind = static_cast<int>(i % 10);
  std::string o = absl::StrCat(" <cs-object cs-dn=\"", dn, "\" id=\"",
                               absl::StrFormat("{%08X-7D3B-4C3D-9E4B-%012X}", i, i * 7919),
                               "\" object-type=\"user\">\n  <unapplied-export>\n");
  const std::string attributes = UserAttributes(i);
  const std::string entry =
      absl::StrCat("   <entry dn=\"", dn, "\">\n", attributes, "   </entry>\n");
  const char* op = "modify";
  if (kind == 0) {
    op = "delete";
    absl::StrAppend(&o, "   <delta operation=\"delete\" dn=\"", dn, "\"/>\n  </unapplied-export>\n",
                    "  <synchronized-hologram>\n", entry, "  </synchronized-hologram>\n");
  } else if (kind == 1) {
    op = "add";
    absl::StrAppend(&o, "   <delta operation=\"add\" dn=\"", dn, "\">\n", attributes,
                    "   </delta>\n  </unapplied-export>\n  <unapplied-export-hologram>\n", entry,
                    "  </unapplied-export-hologram>\n");
  } else {
    absl::StrAppend(&o, "   <delta operation=\"update\" dn=\"", dn, "\">\n",
                    "    <attr name=\"jobTitle\" type=\"string\" multivalued=\"false\" "
                    "operation=\"replace\"><value>Principal Account Manager</value></attr>\n",
                    "    <attr name=\"proxyAddresses\" type=\"string\" multivalued=\"true\" "
                    "operation=\"update\">\n     <value operation=\"add\">smtp:",
                    absl::StrFormat("n%07d", i),
                    "@corp.example.com</value>\n    </attr>\n   </delta>\n",
                    "  </unapplied-export>\n  <synchronized-hologram>\n", entry,
                    "  </synchronized-hologram>\n  <unapplied-export-hologram>\n", entry,
                    "  </unapplied-export-hologram>\n");
  }
  absl::StrAppend(&o, "  <connector>1</connector>\n  <connector-state>normal</connector-state>\n",
                  "  <export-delta-operation>", op, "</export-delta-operation>\n",
                  "  <ma-id>{B891884F-051E-4A83-95AF-2544101C9083}</ma-id>\n  <ma-name>",
                  kConnector, "</ma-name>\n  <partition-name>default</partition-name>\n",
                  "  <last-import-delta-time>2024-03-01 09:30:12.000</last-import-delta-time>\n",
                  " </cs-object>\n");
  return o;
}

// Writes a csexport /f:x file of about `bytes` to `path` (via a temporary
// name, so that an interrupted run leaves no half file behind).
absl::Status WriteCsExport(const std::string& path, int64_t bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<cs-objects>\n";
    int64_t written = 0;
    for (int64_t i = 0; written < bytes; ++i) {
      const std::string o = CsObject(i);
      out << o;
      written += static_cast<int64_t>(o.size());
    }
    out << "</cs-objects>\n";
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

// The baseline: expat over the file in 64 KiB reads, counting elements.
absl::StatusOr<int64_t> CountElements(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  // UTF-8 overrides the file's (wrong) utf-16 declaration, as the agent does.
  std::unique_ptr<XML_ParserStruct, void (*)(XML_Parser)> parser(XML_ParserCreate("UTF-8"),
                                                                 &XML_ParserFree);
  int64_t count = 0;
  XML_SetUserData(parser.get(), &count);
  XML_SetStartElementHandler(parser.get(), [](void* data, const XML_Char*, const XML_Char**) {
    ++*static_cast<int64_t*>(data);
  });
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), f.get());
    const bool last = n < buffer.size();
    if (XML_Parse(parser.get(), buffer.data(), static_cast<int>(n), last) != XML_STATUS_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", XML_ErrorString(XML_GetErrorCode(parser.get()))));
    }
    if (last) return count;
  }
}

std::string AgentConfig(const std::string& server, const std::string& address,
                        const std::string& data_dir, const std::string& sources) {
  return absl::StrCat("server: ", server, "\ntenant: bench.onmicrosoft.com\ncollectors: [\"",
                      address, "\"]\ndata_dir: ", data_dir, "\nsources:\n", sources);
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

struct AgentRun {
  double seconds = 0;
  double peak_rss_mb = 0;
};

// `syncwatch-agent --once` with `config`; fails unless it exits 0.
absl::StatusOr<AgentRun> RunAgentOnce(const std::string& config, const std::string& log_prefix) {
  const absl::Time start = absl::Now();
  auto agent = testing::Subprocess::Start(
      {AgentBinary(), "--config", config, "--once", "--once_timeout", "900s"}, log_prefix + ".out",
      log_prefix + ".err");
  if (!agent.ok()) return agent.status();
  int code = -1;
  SYNCWATCH_ASSIGN_OR_RETURN(const double peak,
                             WaitTrackingPeakRss(*agent, absl::Seconds(1000), &code));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (code != 0) {
    return absl::InternalError(absl::StrCat("agent exited with ", code, ": ",
                                            testing::ReadFileOrEmpty(log_prefix + ".err")));
  }
  return AgentRun{seconds, peak};
}

}  // namespace

absl::Status RunAgentIdleBench(const BenchConfig& config, Results* results) {
  const std::string dir = config.work_dir + "/idle";
  SYNCWATCH_RETURN_IF_ERROR(FreshDir(dir));
  SYNCWATCH_ASSIGN_OR_RETURN(auto collector,
                             ServerProcess::StartCollector(dir, dir + "/collector-data", ""));
  std::error_code ec;
  fs::create_directories(dir + "/in/runs", ec);
  fs::create_directories(dir + "/in/pending", ec);
  const std::string yaml = dir + "/agent.yaml";
  SYNCWATCH_RETURN_IF_ERROR(WriteText(
      yaml, AgentConfig("idle01", collector->address(), dir + "/agent-data",
                        absl::StrCat("  - {name: runs, kind: run_history, format: xml, path: ", dir,
                                     "/in/runs/*.xml}\n",
                                     "  - {name: pending, kind: pending_exports, format: "
                                     "csexport, path: ",
                                     dir, "/in/pending/*.xml}\n"))));
  SYNCWATCH_ASSIGN_OR_RETURN(testing::Subprocess agent,
                             testing::Subprocess::Start({AgentBinary(), "--config", yaml},
                                                        dir + "/agent.out", dir + "/agent.err"));
  // Connected: the collector has its stream open.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    absl::StatusOr<double> open = collector->Metric("syncwatch_ingest_streams_open");
    if (open.ok() && *open >= 1) break;
    if (absl::Now() > deadline || !agent.running()) {
      return absl::UnavailableError(absl::StrCat("the agent did not connect: ",
                                                 testing::ReadFileOrEmpty(dir + "/agent.err")));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::SleepFor(config.quick ? absl::Seconds(2) : absl::Seconds(5));  // start-up settles
  const absl::Duration window = config.quick ? absl::Seconds(10) : absl::Seconds(60);
  SYNCWATCH_ASSIGN_OR_RETURN(const ProcSample first, SampleProc(agent.pid()));
  const absl::Time t0 = absl::Now();
  double rss = first.rss_mb;
  ProcSample last = first;
  while (absl::Now() - t0 < window) {
    absl::SleepFor(absl::Seconds(1));
    SYNCWATCH_ASSIGN_OR_RETURN(last, SampleProc(agent.pid()));
    rss = std::max(rss, last.rss_mb);
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  const double cpu =
      static_cast<double>(last.cpu_ticks - first.cpu_ticks) * SecondsPerTick() / seconds * 100.0;
  std::fprintf(stderr, "agent idle over %.0f s: RSS %.1f-%.1f MiB, CPU %.3f%%\n", seconds,
               first.rss_mb, rss, cpu);
  results->Set("agent_idle_rss_mb", rss);
  results->Set("agent_idle_cpu_percent", cpu);
  agent.Signal(SIGTERM);
  if (agent.Wait(absl::Seconds(30)) != 0) {
    return absl::InternalError(absl::StrCat("the idle agent did not stop cleanly: ",
                                            testing::ReadFileOrEmpty(dir + "/agent.err")));
  }
  SYNCWATCH_RETURN_IF_ERROR(collector->Stop());
  return config.keep_work ? absl::OkStatus() : FreshDir(dir);
}

absl::Status RunCsExportBench(const BenchConfig& config, Results* results) {
  const int64_t megabytes = config.quick ? 32 : 200;
  const std::string file = absl::StrCat(config.cache_dir, "/csexport-", megabytes, "MiB-v1.xml");
  if (!fs::exists(file)) {
    std::fprintf(stderr, "csexport: generating %s\n", file.c_str());
    SYNCWATCH_RETURN_IF_ERROR(WriteCsExport(file, megabytes << 20));
  }
  const double file_mb = static_cast<double>(fs::file_size(file)) / kMiB;

  const std::string dir = config.work_dir + "/csexport";
  SYNCWATCH_RETURN_IF_ERROR(FreshDir(dir));
  SYNCWATCH_ASSIGN_OR_RETURN(auto collector,
                             ServerProcess::StartCollector(dir, dir + "/collector-data", ""));
  auto source = [&](const std::string& in) {
    return absl::StrCat("  - {name: pending, kind: pending_exports, format: csexport, path: ", in,
                        "/*.xml}\n");
  };
  // The same agent on a tiny file: its peak is what the big file grows from.
  SYNCWATCH_RETURN_IF_ERROR(
      WriteText(dir + "/tiny/in/small.xml", testing::CsExportPendingXml(kConnector, 10, 10)));
  SYNCWATCH_RETURN_IF_ERROR(WriteText(
      dir + "/tiny/agent.yaml", AgentConfig("csexport01", collector->address(),
                                            dir + "/tiny/agent-data", source(dir + "/tiny/in"))));
  SYNCWATCH_ASSIGN_OR_RETURN(const AgentRun tiny,
                             RunAgentOnce(dir + "/tiny/agent.yaml", dir + "/tiny/agent"));

  std::error_code ec;
  fs::create_directories(dir + "/big/in", ec);
  fs::create_symlink(file, dir + "/big/in/pending.xml", ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot link ", file, ": ", ec.message()));
  const int rounds = config.quick ? 1 : 3;
  std::vector<double> agent_rates;
  std::vector<double> bare_rates;
  double growth = 0;
  for (int round = 0; round < rounds; ++round) {
    // The bare parse first: it also brings the file into the page cache.
    const absl::Time start = absl::Now();
    SYNCWATCH_ASSIGN_OR_RETURN(const int64_t elements, CountElements(file));
    const double bare = file_mb / absl::ToDoubleSeconds(absl::Now() - start);

    const std::string data_dir = absl::StrCat(dir, "/big/agent-data-", round);
    const std::string yaml = absl::StrCat(dir, "/big/agent-", round, ".yaml");
    SYNCWATCH_RETURN_IF_ERROR(
        WriteText(yaml, AgentConfig(absl::StrCat("csexport0", round + 2), collector->address(),
                                    data_dir, source(dir + "/big/in"))));
    SYNCWATCH_ASSIGN_OR_RETURN(const AgentRun big,
                               RunAgentOnce(yaml, absl::StrCat(dir, "/big/agent-", round)));
    const double rate = file_mb / big.seconds;
    growth = std::max(growth, big.peak_rss_mb - tiny.peak_rss_mb);
    std::fprintf(stderr,
                 "csexport round %d: %.0f MiB (%lld elements), bare parse %.1f MiB/s, agent %.1f "
                 "MiB/s, agent peak RSS %.1f MiB (tiny file: %.1f MiB)\n",
                 round, file_mb, static_cast<long long>(elements), bare, rate, big.peak_rss_mb,
                 tiny.peak_rss_mb);
    agent_rates.push_back(rate);
    bare_rates.push_back(bare);
    if (!config.keep_work) fs::remove_all(data_dir, ec);
  }
  const double agent_rate = Median(agent_rates);
  const double bare_rate = Median(bare_rates);
  results->Set("csexport_mb_per_s", agent_rate);
  results->Set("csexport_baseline_mb_per_s", bare_rate);
  results->Set("csexport_ratio", agent_rate / bare_rate);
  results->Set("csexport_rss_growth_mb", growth);
  SYNCWATCH_RETURN_IF_ERROR(collector->Stop());
  return config.keep_work ? absl::OkStatus() : FreshDir(dir);
}

}  // namespace syncwatch::bench
