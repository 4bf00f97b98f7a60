#include "collector/web/error_groups.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "collector/alerts/alert.h"
#include "common/error_category.h"
#include "common/time_util.h"

namespace syncwatch::collector::web {
namespace {

// When the error was first seen; errors that do not say sort last.
int64_t FirstSeenMicros(const v1::ExportError& e) {
  return e.has_first_occurred() ? ToUnixMicrosOrZero(e.first_occurred())
                                : std::numeric_limits<int64_t>::max();
}

}  // namespace

std::vector<CategoryGroup> GroupByCategory(const StoredExportErrors& errors) {
  std::map<std::string, CategoryGroup> by_category;
  for (const v1::StoredExportError& stored : errors) {
    const v1::ExportError& e = stored.error();
    const std::string category(ExportErrorCategory(e.error_type()));
    CategoryGroup& group = by_category[category];
    group.category = category;
    ++group.types[e.error_type()];
    group.errors.push_back(&e);
  }
  std::vector<CategoryGroup> out;
  out.reserve(by_category.size());
  for (auto& [category, group] : by_category) out.push_back(std::move(group));
  // Stable over the name order of the map: equal sizes stay by name.
  std::stable_sort(out.begin(), out.end(), [](const CategoryGroup& a, const CategoryGroup& b) {
    return a.errors.size() > b.errors.size();
  });
  return out;
}

std::vector<ValueGroup> GroupByConflictingValue(const StoredExportErrors& errors) {
  struct Building {
    ValueGroup group;
    std::set<std::string> objects;
  };
  // Keyed by (lower-cased canonical attribute, folded value).
  std::map<std::pair<std::string, std::string>, Building> by_value;
  for (const v1::StoredExportError& stored : errors) {
    const v1::ExportError& e = stored.error();
    if (e.conflict_attribute().empty() || e.conflict_value().empty()) continue;
    const std::string attribute = alerts::CanonicalAttribute(e.conflict_attribute());
    Building& b = by_value[{absl::AsciiStrToLower(attribute),
                            alerts::FoldValue(attribute, e.conflict_value())}];
    if (b.group.errors.empty()) {
      b.group.attribute = attribute;
      b.group.value = e.conflict_value();
    }
    const std::string object =
        absl::StrCat(e.connector_name(), "\n", e.cs_guid().empty() ? e.dn() : e.cs_guid());
    if (b.objects.insert(object).second) b.group.errors.push_back(&e);
  }
  std::vector<ValueGroup> out;
  out.reserve(by_value.size());
  for (auto& [key, b] : by_value) {
    std::stable_sort(b.group.errors.begin(), b.group.errors.end(),
                     [](const v1::ExportError* x, const v1::ExportError* y) {
                       return FirstSeenMicros(*x) < FirstSeenMicros(*y);
                     });
    out.push_back(std::move(b.group));
  }
  std::stable_sort(out.begin(), out.end(), [](const ValueGroup& a, const ValueGroup& b) {
    return a.errors.size() > b.errors.size();
  });
  return out;
}

}  // namespace syncwatch::collector::web
