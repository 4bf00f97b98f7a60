#include "common/key_codec.h"

#include <string>

#include "gtest/gtest.h"

namespace syncwatch {
namespace {

TEST(KeyCodec, StringsSortLikeTuples) {
  // "a" < "a\0" < "ab": escaping keeps tuple order even with NUL bytes.
  const std::string a = KeyBuilder().String("a").String("z").Take();
  const std::string a_nul = KeyBuilder().String(std::string("a\0", 2)).String("a").Take();
  const std::string ab = KeyBuilder().String("ab").String("a").Take();
  EXPECT_LT(a, a_nul);
  EXPECT_LT(a_nul, ab);
}

TEST(KeyCodec, StringBytesAreTheStoredFormat) {
  // Stored keys depend on these bytes: each NUL escaped as 00 FF, then 00 01.
  EXPECT_EQ(KeyBuilder().String(std::string("\0\0a\0", 4)).String("bc").Take(),
            std::string("\0\xFF\0\xFF"
                        "a\0\xFF\0\x01"
                        "bc\0\x01",
                        13));
  EXPECT_EQ(KeyBuilder().String("").Take(), std::string("\0\x01", 2));
}

TEST(KeyCodec, IntegersSortNumerically) {
  EXPECT_LT(KeyBuilder().Int64(-5).Take(), KeyBuilder().Int64(3).Take());
  EXPECT_LT(KeyBuilder().Int64(3).Take(), KeyBuilder().Int64(1LL << 40).Take());
  EXPECT_LT(KeyBuilder().Uint64(255).Take(), KeyBuilder().Uint64(256).Take());
}

TEST(KeyCodec, RoundTrips) {
  const std::string weird("x\0y", 3);
  const std::string key = KeyBuilder().String(weird).Int64(-42).Uint64(7).String("").Take();
  KeyReader r(key);
  std::string s;
  int64_t i = 0;
  uint64_t u = 0;
  ASSERT_TRUE(r.String(&s));
  EXPECT_EQ(s, weird);
  ASSERT_TRUE(r.Int64(&i));
  EXPECT_EQ(i, -42);
  ASSERT_TRUE(r.Uint64(&u));
  EXPECT_EQ(u, 7u);
  ASSERT_TRUE(r.String(&s));
  EXPECT_EQ(s, "");
  EXPECT_TRUE(r.done());
}

TEST(KeyCodec, ReaderRejectsTruncatedKeys) {
  std::string key = KeyBuilder().String("server").Take();
  key.pop_back();
  std::string s;
  EXPECT_FALSE(KeyReader(key).String(&s));
  uint64_t u = 0;
  EXPECT_FALSE(KeyReader("abc").Uint64(&u));
}

TEST(KeyCodec, PrefixUpperBoundCoversThePrefix) {
  const std::string prefix = KeyBuilder().String("sync01").Take();
  const std::string bound = PrefixUpperBound(prefix);
  EXPECT_LT(prefix + "\xFF\xFF", bound);
  EXPECT_GT(KeyBuilder().String("sync02").Take(), bound);
  EXPECT_EQ(PrefixUpperBound("\xFF\xFF"), "");
}

}  // namespace
}  // namespace syncwatch
