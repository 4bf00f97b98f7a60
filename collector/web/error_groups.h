// Export errors grouped the two ways the server page shows them: by Connect
// Health category (common/error_category.h), and by conflicting value — for
// errors that name one, which objects claim the same attribute value.
#ifndef SYNCWATCH_COLLECTOR_WEB_ERROR_GROUPS_H_
#define SYNCWATCH_COLLECTOR_WEB_ERROR_GROUPS_H_

#include <map>
#include <string>
#include <vector>

#include "google/protobuf/repeated_ptr_field.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector::web {

using StoredExportErrors = google::protobuf::RepeatedPtrField<v1::StoredExportError>;

struct CategoryGroup {
  // ExportErrorCategory() of the errors' type, e.g. "duplicate-attribute".
  std::string category;
  // Error type -> how many errors of the group have it.
  std::map<std::string, int> types;
  // The group's errors in their order in the response. They point into the
  // response, which must outlive the group.
  std::vector<const v1::ExportError*> errors;
};

// The largest group first, then by category name.
std::vector<CategoryGroup> GroupByCategory(const StoredExportErrors& errors);

struct ValueGroup {
  // The usual spelling of the attribute ("proxyAddresses").
  std::string attribute;
  // The value as the group's first error writes it.
  std::string value;
  // One error per object (connector and cs-guid, else DN) claiming the value,
  // the one that has had the error longest (first_occurred) first. They point
  // into the response, which must outlive the group.
  std::vector<const v1::ExportError*> errors;
};

// The errors that carry both conflict_attribute and conflict_value, grouped
// by attribute and value as Entra ID compares them (alerts::FoldValue:
// "SMTP:John@x" and "smtp:john@x" are one proxy address). The group with the
// most objects first, then by attribute and value.
std::vector<ValueGroup> GroupByConflictingValue(const StoredExportErrors& errors);

}  // namespace syncwatch::collector::web

#endif  // SYNCWATCH_COLLECTOR_WEB_ERROR_GROUPS_H_
