#include "agent/parsers/conflict.h"

#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncwatch::agent {
namespace {

TEST(ParseConflictFromLiteralTest, ProxyAddressesFromKbText) {
  std::optional<Conflict> c = ParseConflictFromLiteral(
      "Unable to update this object because the following attributes associated with this "
      "object have values that may already be associated with another object in your local "
      "directory services: [ProxyAddresses SMTP:john@contoso.com;]. Correct or remove the "
      "duplicate values in your local directory.");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->attribute, "ProxyAddresses");
  EXPECT_EQ(c->value, "SMTP:john@contoso.com");
}

TEST(ParseConflictFromLiteralTest, UserPrincipalName) {
  std::optional<Conflict> c = ParseConflictFromLiteral(
      "... directory services: [UserPrincipalName john@contoso.com;]. ...");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->attribute, "UserPrincipalName");
  EXPECT_EQ(c->value, "john@contoso.com");
}

TEST(ParseConflictFromLiteralTest, FirstOfSeveralValues) {
  std::optional<Conflict> c =
      ParseConflictFromLiteral("[ProxyAddresses SMTP:a@contoso.com;smtp:b@contoso.com;]");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->value, "SMTP:a@contoso.com");
}

TEST(ParseConflictFromLiteralTest, SkipsStackTraceBrackets) {
  std::optional<Conflict> c = ParseConflictFromLiteral(
      "at Parallel.ForWorker[TLocal](Int32 fromInclusive) [Int32 idx] [x y] "
      "then [SipProxyAddress sip:jo@contoso.com;]");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->attribute, "SipProxyAddress");
  EXPECT_EQ(c->value, "sip:jo@contoso.com");
}

TEST(ParseConflictFromLiteralTest, NestedOpeningBracket) {
  std::optional<Conflict> c = ParseConflictFromLiteral("a [b [mail jo@contoso.com;] c");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->attribute, "mail");
  EXPECT_EQ(c->value, "jo@contoso.com");
}

TEST(ParseConflictFromLiteralTest, NothingToFind) {
  EXPECT_FALSE(ParseConflictFromLiteral("").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("Replication access was denied.").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("[ProxyAddresses SMTP:a@b.com").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("[ProxyAddresses ;]").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("[ SMTP:a@b.com;]").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("[;]").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("[]").has_value());
  EXPECT_FALSE(ParseConflictFromLiteral("]]][[[").has_value());
}

}  // namespace
}  // namespace syncwatch::agent
