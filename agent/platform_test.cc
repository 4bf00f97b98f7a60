#include "agent/platform.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::testing::StatusIs;

TEST(RunCommand, CapturesOutputAndExitCode) {
  auto r = RunCommand({"sh", "-c", "echo out; echo oops >&2; exit 3"}, absl::Seconds(30), 1024);
  SYNCWATCH_ASSERT_OK(r);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "oops\n");
}

TEST(RunCommand, KillsACommandThatOverstaysItsTimeout) {
  const absl::Time start = absl::Now();
  EXPECT_THAT(RunCommand({"sleep", "30"}, absl::Milliseconds(200), 1024),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::HasSubstr("sleep 30")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST(RunCommand, StopsAtTheOutputCap) {
  EXPECT_THAT(RunCommand({"yes"}, absl::Seconds(30), 100000),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(RunCommand, MissingProgramIsNotFound) {
  EXPECT_THAT(RunCommand({"/no/such/program"}, absl::Seconds(5), 1024),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("/no/such/program")));
}

TEST(HostName, IsShortAndNotEmpty) {
  const std::string h = HostName();
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(h.find('.'), std::string::npos);
}

}  // namespace
}  // namespace syncwatch::agent
