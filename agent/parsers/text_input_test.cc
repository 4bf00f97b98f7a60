#include "agent/parsers/text_input.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/parsers/byte_reader.h"
#include "agent/parsers/parser_test_util.h"
#include "common/text_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::agent {
namespace {

using ::syncwatch::agent::testing::StatusIs;
using ::testing::HasSubstr;

// The problem TextValidator reports for `text` fed in pieces of `chunk`
// bytes ("" when valid), as "<line>: <problem>".
std::string Validate(absl::string_view text, TextEncoding encoding, size_t chunk) {
  TextValidator v(encoding);
  size_t at = 0;
  do {
    const absl::string_view piece = text.substr(at, chunk);
    at += piece.size();
    const bool final = at >= text.size();
    if (std::optional<TextValidator::Error> e = v.Check(piece, final)) {
      EXPECT_LE(e->valid_bytes, piece.size());
      return absl::StrCat(e->line, ": ", e->problem);
    }
  } while (at < text.size());
  return "";
}

// Validate() whole, and the same answer for every chunk size (so every
// character is split at every possible point somewhere).
std::string ValidateEveryWay(absl::string_view text, TextEncoding encoding) {
  const std::string whole = Validate(text, encoding, text.size() + 1);
  for (size_t chunk = 1; chunk <= text.size(); ++chunk) {
    EXPECT_EQ(Validate(text, encoding, chunk), whole)
        << "chunk size " << chunk << " of " << absl::CHexEscape(text);
  }
  return whole;
}

// UTF-16 of code units (not code points), so tests can build broken text.
std::string Units(const std::vector<uint16_t>& units, bool little_endian) {
  std::string out;
  for (uint16_t u : units) {
    const char lo = static_cast<char>(u & 0xFF);
    const char hi = static_cast<char>(u >> 8);
    out += little_endian ? std::string{lo, hi} : std::string{hi, lo};
  }
  return out;
}

// ---- UTF-8 ------------------------------------------------------------------

TEST(TextValidatorUtf8Test, AcceptsEveryLengthAndTheBoundaries) {
  // U+0000, U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF,
  // U+10000, U+10FFFF, a BOM, and an emoji.
  const std::string text =
      std::string("a\0\x7F", 3) +
      "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
      "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\xEF\xBB\xBF\xF0\x9F\x98\x80 line\nnext line\n";
  EXPECT_EQ(ValidateEveryWay(text, TextEncoding::kUtf8), "");
}

TEST(TextValidatorUtf8Test, RejectsEachKindOfBadSequenceAtItsLeadByte) {
  struct Case {
    std::string bad;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"\xC0\xAF", "overlong encoding"},
      {"\xC1\xBF", "overlong encoding"},
      {"\xE0\x80\xAF", "overlong encoding"},
      {"\xE0\x9F\xBF", "overlong encoding"},
      {"\xF0\x80\x80\xAF", "overlong encoding"},
      {"\xF0\x8F\xBF\xBF", "overlong encoding"},
      {"\xED\xA0\x80", "UTF-16 surrogate encoded in UTF-8"},
      {"\xED\xBF\xBF", "UTF-16 surrogate encoded in UTF-8"},
      {"\xF4\x90\x80\x80", "code point above U+10FFFF"},
      {"\xF5\x80\x80\x80", "code point above U+10FFFF"},
      {"\xF8\x88\x80\x80\x80", "byte that never occurs in UTF-8"},
      {"\xFF", "byte that never occurs in UTF-8"},
      {"\x80", "continuation byte without a lead byte"},
      {"\xC3\x28", "multi-byte sequence cut short (bad continuation byte)"},
      {"\xE2\x82(", "multi-byte sequence cut short (bad continuation byte)"},
      {"\xF0\x9F\x98 ", "multi-byte sequence cut short (bad continuation byte)"},
  };
  for (const Case& c : cases) {
    // Line 3, at byte 24; long ASCII runs before it go through the 8-byte path.
    const std::string text = absl::StrCat("first line\nsecond\nabcdef", c.bad, "xyz\n");
    EXPECT_EQ(ValidateEveryWay(text, TextEncoding::kUtf8),
              absl::StrCat("3: invalid UTF-8 at byte 24: ", c.why))
        << absl::CHexEscape(c.bad);
  }
}

TEST(TextValidatorUtf8Test, RejectsASequenceCutByTheEnd) {
  for (const std::string& cut :
       {std::string("\xC3"), std::string("\xE2\x82"), std::string("\xF0\x9F\x98")}) {
    EXPECT_EQ(ValidateEveryWay(absl::StrCat("ab\ncd", cut), TextEncoding::kUtf8),
              "2: invalid UTF-8 at byte 5: the input ends inside a multi-byte sequence "
              "(truncated?)");
  }
}

TEST(TextValidatorUtf8Test, AgreesWithIsValidUtf8OnAllShortSequences) {
  // Every 1- and 2-byte input, and every 3-byte one starting E0..F4 with a
  // third byte of 0x80, 0xBF or 'a': the validator and IsValidUtf8 (written
  // independently) must agree on validity and the offset.
  auto check = [](const std::string& s) {
    size_t bad = 0;
    const bool valid = IsValidUtf8(s, &bad);
    const std::string got = Validate(s, TextEncoding::kUtf8, 1);
    if (valid) {
      EXPECT_EQ(got, "") << absl::CHexEscape(s);
    } else {
      EXPECT_THAT(got, HasSubstr(absl::StrCat("at byte ", bad, ":"))) << absl::CHexEscape(s);
    }
  };
  for (int a = 0; a < 256; ++a) {
    check(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) {
      check(std::string{static_cast<char>(a), static_cast<char>(b)});
      if (a >= 0xE0 && a <= 0xF4) {
        for (char c : {'\x80', '\xBF', 'a'}) {
          check(std::string{static_cast<char>(a), static_cast<char>(b), c});
        }
      }
    }
  }
}

TEST(TextValidatorUtf8Test, CountsLinesInLongAsciiRuns) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += absl::StrCat("line ", i, " with some text\n");
  text += "\xC3\x28";
  EXPECT_EQ(ValidateEveryWay(text, TextEncoding::kUtf8).substr(0, 5), "101: ");
}

// ---- UTF-16 -----------------------------------------------------------------

class TextValidatorUtf16Test : public ::testing::TestWithParam<bool> {
 protected:
  bool le() const { return GetParam(); }
  TextEncoding encoding() const { return le() ? TextEncoding::kUtf16Le : TextEncoding::kUtf16Be; }
  // "a\nb\nc" then `units` then "z\n", with a BOM: `units` start at byte 12, line 3.
  std::string Text(const std::vector<uint16_t>& units) const {
    std::vector<uint16_t> all = {0xFEFF, 'a', '\n', 'b', '\n', 'c'};
    all.insert(all.end(), units.begin(), units.end());
    all.push_back('z');
    all.push_back('\n');
    return Units(all, le());
  }
};

TEST_P(TextValidatorUtf16Test, AcceptsPairsAndTheBmp) {
  // U+10000, U+1F600, U+10FFFF as pairs, U+D7FF, U+E000, U+FFFF, U+0A0A
  // (not a newline whichever byte order: its bytes are both 0x0A).
  EXPECT_EQ(ValidateEveryWay(Text({0xD800, 0xDC00, 0xD83D, 0xDE00, 0xDBFF, 0xDFFF, 0xD7FF, 0xE000,
                                   0xFFFF, 0x0A0A}),
                             encoding()),
            "");
}

TEST_P(TextValidatorUtf16Test, RejectsALoneHighSurrogate) {
  EXPECT_EQ(ValidateEveryWay(Text({0xD800, 'e'}), encoding()),
            "3: invalid UTF-16 at byte 12: high surrogate U+D800 not followed by a low surrogate");
  EXPECT_EQ(ValidateEveryWay(Text({0xDBFF, 0xD800, 0xDC00}), encoding()),
            "3: invalid UTF-16 at byte 12: high surrogate U+DBFF not followed by a low surrogate");
}

TEST_P(TextValidatorUtf16Test, RejectsALoneLowSurrogate) {
  EXPECT_EQ(
      ValidateEveryWay(Text({'x', 0xDC00}), encoding()),
      "3: invalid UTF-16 at byte 14: low surrogate U+DC00 without a high surrogate before it");
}

TEST_P(TextValidatorUtf16Test, RejectsAReversedPair) {
  EXPECT_EQ(
      ValidateEveryWay(Text({0xDE00, 0xD83D}), encoding()),
      "3: invalid UTF-16 at byte 12: low surrogate U+DE00 without a high surrogate before it");
}

TEST_P(TextValidatorUtf16Test, RejectsAHighSurrogateAtTheEnd) {
  EXPECT_EQ(ValidateEveryWay(Units({'a', '\n', 0xD83D}, le()), encoding()),
            "2: invalid UTF-16 at byte 4: the input ends after high surrogate U+D83D (truncated?)");
}

TEST_P(TextValidatorUtf16Test, RejectsAnOddNumberOfBytes) {
  std::string text = Units({'a', '\n', 'b'}, le());
  text.pop_back();
  EXPECT_EQ(ValidateEveryWay(text, encoding()),
            "2: invalid UTF-16 at byte 4: odd number of bytes: the last character is cut "
            "(truncated?)");
}

TEST_P(TextValidatorUtf16Test, CountsOnlyU000AAsANewline) {
  // U+0A00 and U+010A hold a 0x0A byte but are not newlines.
  EXPECT_EQ(
      ValidateEveryWay(Units({'a', 0x0A00, 0x010A, '\n', 0xDC00}, le()), encoding()).substr(0, 3),
      "2: ");
}

TEST_P(TextValidatorUtf16Test, CountsLinesInLongRunsAroundPairs) {
  std::vector<uint16_t> units;
  for (int i = 0; i < 100; ++i) {
    units.insert(units.end(), {'l', 'i', 'n', 'e', ' ', 0x00E9, 0x4E2D, '\n'});
    if (i % 7 == 0) units.insert(units.end(), {0xD83D, 0xDE00});
  }
  units.insert(units.end(), {'x', 'y', 'z', 0xDC00});
  const std::string text = Units(units, le());
  EXPECT_EQ(ValidateEveryWay(text, encoding()),
            absl::StrCat("101: invalid UTF-16 at byte ", text.size() - 2,
                         ": low surrogate U+DC00 without a high surrogate before it"));
}

INSTANTIATE_TEST_SUITE_P(ByteOrder, TextValidatorUtf16Test, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "LittleEndian" : "BigEndian";
                         });

// ---- DetectTextEncoding -----------------------------------------------------

TEST(DetectTextEncodingTest, BomDecidesAndXmlLeadSniffsUtf16WithoutBom) {
  EXPECT_EQ(DetectTextEncoding("\xFF\xFE<\0"), TextEncoding::kUtf16Le);
  EXPECT_EQ(DetectTextEncoding("\xFE\xFF\0<"), TextEncoding::kUtf16Be);
  EXPECT_EQ(DetectTextEncoding("\xEF\xBB\xBF<x"), TextEncoding::kUtf8);
  EXPECT_EQ(DetectTextEncoding(std::string("<\0x\0", 4), '<'), TextEncoding::kUtf16Le);
  EXPECT_EQ(DetectTextEncoding(std::string("\0<\0x", 4), '<'), TextEncoding::kUtf16Be);
  EXPECT_EQ(DetectTextEncoding(std::string("<\0x\0", 4)), TextEncoding::kUtf8);
  EXPECT_EQ(DetectTextEncoding("<x"), TextEncoding::kUtf8);
  EXPECT_STREQ(TextEncodingName(TextEncoding::kUtf16Be), "UTF-16BE");
}

// ---- ReadTextInput ----------------------------------------------------------

absl::StatusOr<std::string> Read(absl::string_view bytes) {
  StringByteReader in(bytes);
  return ReadTextInput(in, "in.json", 1 << 20, "test input");
}

TEST(ReadTextInputTest, DecodesUtf16AndStripsBoms) {
  absl::StatusOr<std::string> utf16 = Read(Units({0xFEFF, '[', 0xD83D, 0xDE00, ']'}, false));
  ASSERT_TRUE(utf16.ok()) << utf16.status();
  EXPECT_EQ(*utf16, "[\xF0\x9F\x98\x80]");
  absl::StatusOr<std::string> utf8 = Read("\xEF\xBB\xBF[1]");
  ASSERT_TRUE(utf8.ok()) << utf8.status();
  EXPECT_EQ(*utf8, "[1]");
}

TEST(ReadTextInputTest, BadEncodingNamesFileAndLine) {
  EXPECT_EQ(Read(Units({0xFEFF, '[', '\n', 0xD800, '1', ']'}, true)).status(),
            absl::InvalidArgumentError("in.json:2: invalid UTF-16 at byte 6: high surrogate "
                                       "U+D800 not followed by a low surrogate"));
  EXPECT_EQ(Read("[\n\n\"\xED\xA0\x80\"]").status(),
            absl::InvalidArgumentError(
                "in.json:3: invalid UTF-8 at byte 4: UTF-16 surrogate encoded in UTF-8"));
  EXPECT_THAT(Read(std::string(2 << 20, ' ')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "in.json: larger than the 1 MiB limit"));
}

}  // namespace
}  // namespace syncwatch::agent
