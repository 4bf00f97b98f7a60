#include "common/error_category.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace syncwatch {
namespace {

struct CategoryOf {
  absl::string_view error_type;
  absl::string_view category;
};

// DOMAIN.md §3.5 (inferred from the docs' grouping). QuarantinedAttributeValueMustBeUnique
// only comes from Connect Health, but a future cloud source may forward it.
constexpr CategoryOf kCategories[] = {
    {"AttributeValueMustBeUnique", "duplicate-attribute"},
    {"QuarantinedAttributeValueMustBeUnique", "duplicate-attribute"},
    {"InvalidSoftMatch", "data-mismatch"},
    {"ObjectTypeMismatch", "data-mismatch"},
    {"InvalidHardMatch", "data-mismatch"},
    {"IdentityDataValidationFailed", "data-validation"},
    {"DataValidationFailed", "data-validation"},
    {"FederatedDomainChangeError", "federated-domain-change"},
    {"LargeObject", "large-attribute"},
    {"ExceededAllowedLength", "large-attribute"},
};

}  // namespace

absl::string_view ExportErrorCategory(absl::string_view error_type) {
  const absl::string_view type = absl::StripAsciiWhitespace(error_type);
  for (const CategoryOf& entry : kCategories) {
    if (absl::EqualsIgnoreCase(type, entry.error_type)) return entry.category;
  }
  return "other";
}

}  // namespace syncwatch
