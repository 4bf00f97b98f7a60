// The Connect Health category of an export error type (DOMAIN.md §3.5), so that
// syncwatch (CLI and web page) groups errors the way Entra Connect Health's portal does.
#ifndef SYNCWATCH_COMMON_ERROR_CATEGORY_H_
#define SYNCWATCH_COMMON_ERROR_CATEGORY_H_

#include "absl/strings/string_view.h"

namespace syncwatch {

// Returns one of "duplicate-attribute", "data-mismatch", "data-validation",
// "federated-domain-change", "large-attribute" or "other" for the engine's
// `error-type` string. Comparison ignores case and surrounding white space;
// unknown, numeric ("114") and empty types are "other", since error-type is an
// open set (ECMA2 connectors may report their own names).
absl::string_view ExportErrorCategory(absl::string_view error_type);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_ERROR_CATEGORY_H_
