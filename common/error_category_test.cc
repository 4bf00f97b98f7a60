#include "common/error_category.h"

#include "gtest/gtest.h"

namespace syncwatch {
namespace {

TEST(ExportErrorCategory, MapsTheConnectHealthGroups) {
  EXPECT_EQ(ExportErrorCategory("AttributeValueMustBeUnique"), "duplicate-attribute");
  EXPECT_EQ(ExportErrorCategory("QuarantinedAttributeValueMustBeUnique"), "duplicate-attribute");
  EXPECT_EQ(ExportErrorCategory("InvalidSoftMatch"), "data-mismatch");
  EXPECT_EQ(ExportErrorCategory("ObjectTypeMismatch"), "data-mismatch");
  EXPECT_EQ(ExportErrorCategory("InvalidHardMatch"), "data-mismatch");
  EXPECT_EQ(ExportErrorCategory("IdentityDataValidationFailed"), "data-validation");
  EXPECT_EQ(ExportErrorCategory("DataValidationFailed"), "data-validation");
  EXPECT_EQ(ExportErrorCategory("FederatedDomainChangeError"), "federated-domain-change");
  EXPECT_EQ(ExportErrorCategory("LargeObject"), "large-attribute");
  EXPECT_EQ(ExportErrorCategory("ExceededAllowedLength"), "large-attribute");
}

TEST(ExportErrorCategory, IgnoresCaseAndSurroundingBlanks) {
  EXPECT_EQ(ExportErrorCategory("attributevaluemustbeunique"), "duplicate-attribute");
  EXPECT_EQ(ExportErrorCategory(" LARGEOBJECT\n"), "large-attribute");
}

TEST(ExportErrorCategory, EverythingElseIsOther) {
  EXPECT_EQ(ExportErrorCategory("DeletingCloudOnlyObjectNotAllowed"), "other");
  EXPECT_EQ(ExportErrorCategory("permission-issue"), "other");
  EXPECT_EQ(ExportErrorCategory("114"), "other");
  EXPECT_EQ(ExportErrorCategory(""), "other");
  EXPECT_EQ(ExportErrorCategory("AttributeValueMustBeUniqueX"), "other");
}

}  // namespace
}  // namespace syncwatch
