#include "common/file_util.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#ifdef _WIN32
#include "common/win_util.h"
#endif

namespace syncwatch {
namespace {

using ::testing::HasSubstr;

// "Zürich-東京" in UTF-8.
constexpr char kNonAscii[] = "Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac";

// A fresh folder for one test, removed afterwards; its path in UTF-8.
class FileUtilTest : public ::testing::Test {
 protected:
  FileUtilTest() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(std::filesystem::temp_directory_path().u8string(), "/syncwatch-file-util-",
                        info->name(), "-", kNonAscii);
    std::error_code ec;
    std::filesystem::remove_all(Utf8Path(dir_), ec);
    std::filesystem::create_directories(Utf8Path(dir_));
  }
  ~FileUtilTest() override {
    std::error_code ec;
    std::filesystem::remove_all(Utf8Path(dir_), ec);
  }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(Utf8Path(path), std::ios::binary);
    out << content;
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  static std::string ReadAll(InputFile& in) {
    std::string out;
    char buf[7];
    for (;;) {
      absl::StatusOr<size_t> n = in.Read(buf, sizeof buf);
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) return out;
      out.append(buf, *n);
    }
  }

  std::string dir_;
};

TEST_F(FileUtilTest, ReadFileToStringReadsAllOfItOrNamesThePath) {
  // Longer than one read chunk (64 KiB), with bytes that text mode would alter.
  std::string content;
  for (int i = 0; i < 200000; ++i) content.push_back(static_cast<char>(i % 251));
  content += "\r\n\x1a";
  const std::string path = Write(absl::StrCat(kNonAscii, ".bin"), content);
  absl::StatusOr<std::string> read = ReadFileToString(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, content);

  const std::string missing = dir_ + "/missing.yaml";
  absl::StatusOr<std::string> none = ReadFileToString(missing);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("cannot open " + missing + ": "));
}

TEST_F(FileUtilTest, Utf8PathsKeepNonAsciiNames) {
  EXPECT_EQ(Utf8Path(kNonAscii).u8string(), kNonAscii);
  const std::string path = Write(absl::StrCat(kNonAscii, ".json"), "[1, 2, 3]");
  // The name on disk is the one given (not its ANSI reading).
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(Utf8Path(dir_))) {
    names.push_back(entry.path().filename().u8string());
  }
  EXPECT_THAT(names, ::testing::ElementsAre(absl::StrCat(kNonAscii, ".json")));
  absl::StatusOr<std::unique_ptr<InputFile>> in = InputFile::Open(path);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(ReadAll(**in), "[1, 2, 3]");
}

TEST_F(FileUtilTest, MissingFileIsNotFoundNamingIt) {
  const std::string path = dir_ + "/nope/runs.xml";
  absl::StatusOr<std::unique_ptr<InputFile>> in = InputFile::Open(path);
  EXPECT_EQ(in.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(in.status().message()), HasSubstr("cannot open " + path + ": "));
  EXPECT_FALSE(IsFileInUse(in.status()));
}

TEST_F(FileUtilTest, CheckFolderTellsMissingFromListable) {
  EXPECT_TRUE(CheckFolder(dir_).ok()) << CheckFolder(dir_);
  const absl::Status missing = CheckFolder(dir_ + "/gone");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("cannot list " + dir_ + "/gone: "));
  const std::string file = Write("a-file", "x");
  EXPECT_EQ(CheckFolder(file).code(), absl::StatusCode::kNotFound);
}

#ifdef _WIN32
HANDLE OpenForWriting(const std::string& path, DWORD share) {
  return ::CreateFileW(win::Widen(path).value().c_str(), GENERIC_READ | GENERIC_WRITE, share,
                       nullptr, OPEN_EXISTING, 0, nullptr);
}

TEST_F(FileUtilTest, AFileHeldWithoutSharingIsInUse) {
  const std::string path = Write("held.json", "[]");
  win::Handle writer(OpenForWriting(path, 0));
  ASSERT_TRUE(writer.valid()) << win::ErrorText(::GetLastError());
  absl::StatusOr<std::unique_ptr<InputFile>> in = InputFile::Open(path);
  EXPECT_EQ(in.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsFileInUse(in.status())) << in.status();
  EXPECT_THAT(std::string(in.status().message()), HasSubstr("cannot open " + path + ": "));
  writer.Reset();
  in = InputFile::Open(path);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(ReadAll(**in), "[]");
}

TEST_F(FileUtilTest, ReadingSharesTheFileWithItsWriter) {
  const std::string path = Write("shared.json", "[1]");
  // A writer that lets others read: the agent reads meanwhile.
  win::Handle writer(OpenForWriting(path, FILE_SHARE_READ));
  ASSERT_TRUE(writer.valid()) << win::ErrorText(::GetLastError());
  absl::StatusOr<std::unique_ptr<InputFile>> in = InputFile::Open(path);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(ReadAll(**in), "[1]");
  writer.Reset();
  // While the agent reads, the exporter may still delete the file.
  in = InputFile::Open(path);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_TRUE(::DeleteFileW(win::Widen(path).value().c_str())) << win::ErrorText(::GetLastError());
}
#endif  // _WIN32

}  // namespace
}  // namespace syncwatch
