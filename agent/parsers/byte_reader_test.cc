#include "agent/parsers/byte_reader.h"

#include <string>

#include "absl/status/status.h"
#include "agent/parsers/parser_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::agent::testing::ReadFileOrEmpty;
using ::syncwatch::agent::testing::SamplePath;
using ::syncwatch::agent::testing::StatusIs;

std::string ReadAll(ByteReader& in, size_t chunk) {
  std::string out;
  std::string buf(chunk, '\0');
  while (true) {
    absl::StatusOr<size_t> n = in.Read(buf.data(), buf.size());
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) return out;
    out.append(buf.data(), *n);
  }
}

TEST(StringByteReaderTest, ReadsInPiecesThenReportsTheEnd) {
  StringByteReader in("hello, world");
  EXPECT_EQ(ReadAll(in, 5), "hello, world");
  char c;
  EXPECT_EQ(in.Read(&c, 1).value(), 0u);
}

TEST(FileByteReaderTest, ReadsAWholeFile) {
  const std::string path =
      SamplePath("mim-run-history-xml/run-history-export-completed-export-errors.xml");
  absl::StatusOr<std::unique_ptr<FileByteReader>> in = FileByteReader::Open(path);
  ASSERT_TRUE(in.ok()) << in.status();
  const std::string content = ReadAll(**in, 1000);
  EXPECT_EQ(content.size(), 7159u);
  EXPECT_EQ(content, ReadFileOrEmpty(path));
}

TEST(FileByteReaderTest, MissingFileIsNotFoundAndNamesThePath) {
  absl::StatusOr<std::unique_ptr<FileByteReader>> in =
      FileByteReader::Open("/nonexistent/dir/runs.xml");
  EXPECT_THAT(in.status(), StatusIs(absl::StatusCode::kNotFound, "/nonexistent/dir/runs.xml"));
}

TEST(FileByteReaderTest, DirectoryFailsToRead) {
  absl::StatusOr<std::unique_ptr<FileByteReader>> in = FileByteReader::Open(SamplePath(""));
  if (!in.ok()) {
    // Some C libraries refuse to open a directory at all.
    EXPECT_NE(in.status().code(), absl::StatusCode::kOk);
    return;
  }
  char buf[16];
  EXPECT_THAT((*in)->Read(buf, sizeof buf).status(),
              StatusIs(absl::StatusCode::kUnavailable, "cannot read"));
}

}  // namespace
}  // namespace syncwatch::agent
