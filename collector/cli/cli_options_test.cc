#include "collector/cli/cli_options.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::cli {
namespace {

using ::testing::HasSubstr;

// 2024-05-01T08:00:00Z.
absl::Time Now() { return absl::FromUnixSeconds(1714550400); }

TEST(ParseSince, DurationsCountBackFromNow) {
  EXPECT_EQ(*ParseSince("24h", Now()), Now() - absl::Hours(24));
  EXPECT_EQ(*ParseSince("7d", Now()), Now() - absl::Hours(7 * 24));
  EXPECT_EQ(*ParseSince("30m", Now()), Now() - absl::Minutes(30));
  EXPECT_EQ(*ParseSince("90s", Now()), Now() - absl::Seconds(90));
  EXPECT_EQ(*ParseSince("1d12h", Now()), Now() - absl::Hours(36));
  EXPECT_EQ(*ParseSince("2w", Now()), Now() - absl::Hours(14 * 24));
  EXPECT_EQ(*ParseSince("1h30m", Now()), Now() - absl::Minutes(90));
}

TEST(ParseSince, IsoTimesAreAbsolute) {
  EXPECT_EQ(FormatIso8601(*ParseSince("2024-04-30T06:00:00Z", Now())), "2024-04-30T06:00:00.000Z");
  EXPECT_EQ(FormatIso8601(*ParseSince("2024-04-30T08:00:00+02:00", Now())),
            "2024-04-30T06:00:00.000Z");
  EXPECT_EQ(FormatIso8601(*ParseSince("2024-04-30T06:00:00", Now())), "2024-04-30T06:00:00.000Z");
  EXPECT_EQ(FormatIso8601(*ParseSince("2024-04-30", Now())), "2024-04-30T00:00:00.000Z");
}

TEST(ParseSince, RejectsWhatIsNeitherDurationNorTime) {
  for (const char* bad : {"", "yesterday", "7", "7x", "-7d", "1.5d", "0h", "0d", "2024-13-01"}) {
    absl::StatusOr<absl::Time> since = ParseSince(bad, Now());
    EXPECT_EQ(since.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(since.status().message(), HasSubstr("--since")) << bad;
  }
}

TEST(ParseArgs, Defaults) {
  absl::StatusOr<CliOptions> options = ParseArgs({"runs"}, Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, "runs");
  EXPECT_EQ(options->collector, "127.0.0.1:7443");
  EXPECT_EQ(options->output, OutputFormat::kTable);
  EXPECT_EQ(options->timeout, absl::Seconds(10));
  EXPECT_FALSE(options->server.has_value());
  EXPECT_FALSE(options->since.has_value());
  EXPECT_FALSE(options->help);
}

TEST(ParseArgs, SeveralCollectorsCommaSeparatedOrRepeated) {
  absl::StatusOr<CliOptions> options = ParseArgs(
      {"--collector", "10.0.0.5:7443, 10.0.0.6:7443", "silences", "--collector", "10.0.0.7:7443"},
      Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->collectors,
            (std::vector<std::string>{"10.0.0.5:7443", "10.0.0.6:7443", "10.0.0.7:7443"}));
  EXPECT_EQ(options->collector, "10.0.0.5:7443");
  options = ParseArgs({"runs"}, Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->collectors, std::vector<std::string>{"127.0.0.1:7443"});

  absl::StatusOr<CliOptions> twice =
      ParseArgs({"--collector", "10.0.0.5:7443", "--collector=10.0.0.5:7443", "runs"}, Now());
  EXPECT_THAT(twice.status().message(), HasSubstr("the collector 10.0.0.5:7443 is named twice"));
  absl::StatusOr<CliOptions> empty = ParseArgs({"--collector", "10.0.0.5:7443,", "runs"}, Now());
  EXPECT_THAT(empty.status().message(),
              HasSubstr("bad value \"10.0.0.5:7443,\" for --collector: want host:port"));
}

TEST(ParseArgs, CollectorsFromTheEnvironmentUnlessTheFlagIsGiven) {
  setenv("SYNCWATCH_COLLECTOR", "10.0.0.8:7443,10.0.0.9:7443", 1);
  absl::StatusOr<CliOptions> from_env = ParseArgs({"runs"}, Now());
  absl::StatusOr<CliOptions> from_flag = ParseArgs({"runs", "--collector", "10.0.0.1:1"}, Now());
  unsetenv("SYNCWATCH_COLLECTOR");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->collectors, (std::vector<std::string>{"10.0.0.8:7443", "10.0.0.9:7443"}));
  ASSERT_TRUE(from_flag.ok()) << from_flag.status();
  EXPECT_EQ(from_flag->collectors, std::vector<std::string>{"10.0.0.1:1"});
}

TEST(ParseArgs, FlagsBeforeAndAfterTheCommand) {
  absl::StatusOr<CliOptions> options =
      ParseArgs({"--collector", "10.0.0.5:7443", "runs", "--output=json", "--server", "sync01",
                 "-tenant", "contoso", "--type", "stopped-", "--since", "24h", "--timeout=3s",
                 "--connector=contoso.com"},
                Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, "runs");
  EXPECT_EQ(options->collector, "10.0.0.5:7443");
  EXPECT_EQ(options->output, OutputFormat::kJson);
  EXPECT_EQ(options->server, "sync01");
  EXPECT_EQ(options->tenant, "contoso");
  EXPECT_EQ(options->connector, "contoso.com");
  EXPECT_EQ(options->type, "stopped-");
  EXPECT_EQ(options->since, Now() - absl::Hours(24));
  EXPECT_EQ(options->timeout, absl::Seconds(3));
}

TEST(ParseArgs, HelpInAnyForm) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"help"}, {"runs", "--help"}}) {
    absl::StatusOr<CliOptions> options = ParseArgs(args, Now());
    ASSERT_TRUE(options.ok()) << options.status();
    EXPECT_TRUE(options->help);
  }
}

TEST(ParseArgs, DoubleDashEndsFlags) {
  absl::StatusOr<CliOptions> options = ParseArgs({"--", "runs"}, Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, "runs");
}

TEST(ParseArgs, ErrorsNameTheProblem) {
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"runs", "--bogus", "1"}, "unknown flag --bogus"},
      {{"runs", "--server"}, "flag --server needs a value"},
      {{"runs", "--output", "xml"}, "bad value \"xml\" for --output"},
      {{"runs", "--timeout", "soon"}, "bad value \"soon\" for --timeout"},
      {{"runs", "--timeout", "-1s"}, "bad value \"-1s\" for --timeout"},
      {{"runs", "--since", "last week"}, "bad value \"last week\" for --since"},
      {{"runs", "--collector="}, "for --collector"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<CliOptions> options = ParseArgs(c.args, Now());
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(options.status().message(), HasSubstr(c.message));
  }
}

TEST(ParseArgs, KeepsTheWordsAfterTheCommand) {
  absl::StatusOr<CliOptions> options = ParseArgs({"retention", "set", "--runs", "200d"}, Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, "retention");
  EXPECT_THAT(options->arguments, ::testing::ElementsAre("set"));
  EXPECT_EQ(options->runs, absl::Hours(24 * 200));
}

TEST(ParseSpan, TakesTheSinceDurationsAndOffWhenAllowed) {
  EXPECT_EQ(*ParseSpan("for", "4h", false), absl::Hours(4));
  EXPECT_EQ(*ParseSpan("for", "1d12h", false), absl::Hours(36));
  EXPECT_EQ(*ParseSpan("runs", "2w", true), absl::Hours(24 * 14));
  EXPECT_EQ(*ParseSpan("runs", "off", true), absl::ZeroDuration());
  EXPECT_THAT(ParseSpan("for", "off", false).status().message(),
              HasSubstr("bad value \"off\" for --for"));
  EXPECT_THAT(ParseSpan("for", "-1h", false).status().message(), HasSubstr("--for"));
}

TEST(ParseOutputFormat, KnowsTheThreeFormats) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("csv"), OutputFormat::kCsv);
  EXPECT_FALSE(ParseOutputFormat("JSON").ok());
}

TEST(ParseAlertStateFilter, KnowsTheThreeStates) {
  EXPECT_EQ(*ParseAlertStateFilter("firing"), AlertStateFilter::kFiring);
  EXPECT_EQ(*ParseAlertStateFilter("resolved"), AlertStateFilter::kResolved);
  EXPECT_EQ(*ParseAlertStateFilter("all"), AlertStateFilter::kAll);
  EXPECT_EQ(ParseAlertStateFilter("Firing").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<CliOptions> options = ParseArgs({"alerts", "--state", "all"}, Now());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->state, AlertStateFilter::kAll);
  EXPECT_FALSE(ParseArgs({"alerts"}, Now())->state.has_value());
}

}  // namespace
}  // namespace syncwatch::cli
