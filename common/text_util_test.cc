#include "common/text_util.h"

#include <string>

#include "gtest/gtest.h"

namespace syncwatch {
namespace {

TEST(NormalizeGuid, StripsBracesAndLowerCases) {
  EXPECT_EQ(NormalizeGuid("{85098734-66BC-4938-8122-C5F585F463D0}"),
            "85098734-66bc-4938-8122-c5f585f463d0");
  EXPECT_EQ(NormalizeGuid(" b891884f-051e-4a83-95af-2544101c9083 "),
            "b891884f-051e-4a83-95af-2544101c9083");
  EXPECT_EQ(NormalizeGuid("MVID=67d2"), "MVID=67d2");
}

TEST(DecodeToUtf8, StripsUtf8Bom) {
  auto s = DecodeToUtf8("\xEF\xBB\xBF[1]");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "[1]");
}

TEST(DecodeToUtf8, ConvertsUtf16LittleEndianWithBom) {
  const std::string in("\xFF\xFE[\0\xE9\0]\0", 8);
  auto s = DecodeToUtf8(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, "[\xC3\xA9]");
}

TEST(DecodeToUtf8, ConvertsUtf16SurrogatePairs) {
  const std::string in("\xFE\xFF\xD8\x3D\xDE\x00", 6);  // U+1F600, big endian
  auto s = DecodeToUtf8(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, "\xF0\x9F\x98\x80");
}

TEST(DecodeToUtf8, RejectsInvalidUtf8WithLine) {
  auto s = DecodeToUtf8("ok\nstill ok\nbad \xC3\x28 here");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("line 3"), std::string::npos) << s.status();
}

TEST(DecodeToUtf8, RejectsTruncatedUtf16) {
  EXPECT_FALSE(DecodeToUtf8(std::string("\xFF\xFE[\0]", 5)).ok());
  EXPECT_FALSE(DecodeToUtf8(std::string("\xFF\xFE\x00\xDC", 4)).ok());  // lone low surrogate
}

TEST(IsValidUtf8, RejectsOverlongAndSurrogates) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
}

TEST(Fnv1a64, IsTheStandardHash) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_NE(Fnv1a64("ab"), Fnv1a64("ba"));
}

}  // namespace
}  // namespace syncwatch
