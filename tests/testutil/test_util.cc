#include "tests/testutil/test_util.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/file_util.h"

namespace syncwatch::testing {

TempDir::TempDir() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? absl::StrCat(info->test_suite_name(), ".", info->name()) : "no-test";
  name = absl::StrReplaceAll(name, {{"/", "_"}});
  path_ = absl::StrCat(::testing::TempDir(), "syncwatch-", ::getpid(), "-", name);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort
}

void WriteFile(const std::string& path, const std::string& content) {
  // UTF-8 paths, as the code under test takes them (Windows: not ANSI).
  std::filesystem::create_directories(Utf8Path(path).parent_path());
  std::ofstream out(Utf8Path(path), std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

}  // namespace syncwatch::testing
