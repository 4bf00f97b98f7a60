#include "common/flags_util.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch {
namespace {

TEST(NormalizeFlagNames, TurnsDashesInFlagNamesIntoUnderscores) {
  const char* argv[] = {"prog",          "--data-dir", "./my-data", "--http-listen=127.0.0.1:1",
                        "-once-timeout", "x-y",        "--",        "--keep-me"};
  auto out = NormalizeFlagNames(8, const_cast<char**>(argv));
  EXPECT_THAT(out,
              ::testing::ElementsAre("prog", "--data_dir", "./my-data", "--http_listen=127.0.0.1:1",
                                     "-once_timeout", "x-y", "--", "--keep-me"));
}

}  // namespace
}  // namespace syncwatch
