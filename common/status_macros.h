// SYNCWATCH_RETURN_IF_ERROR / SYNCWATCH_ASSIGN_OR_RETURN: the two macros that
// Abseil 20220623 does not ship yet (same semantics as absl/status_macros.h).
#ifndef SYNCWATCH_COMMON_STATUS_MACROS_H_
#define SYNCWATCH_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); returns it from the calling function
// when it is not OK.
#define SYNCWATCH_RETURN_IF_ERROR(expr)                    \
  do {                                                     \
    ::absl::Status syncwatch_status_ = (expr);             \
    if (!syncwatch_status_.ok()) return syncwatch_status_; \
  } while (false)

#define SYNCWATCH_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define SYNCWATCH_STATUS_MACROS_CONCAT_(x, y) SYNCWATCH_STATUS_MACROS_CONCAT_INNER_(x, y)

#define SYNCWATCH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = *std::move(statusor)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the calling function, otherwise assigns the value to `lhs` (which may be a
// declaration, e.g. `auto x`).
#define SYNCWATCH_ASSIGN_OR_RETURN(lhs, rexpr)                                                     \
  SYNCWATCH_ASSIGN_OR_RETURN_IMPL_(SYNCWATCH_STATUS_MACROS_CONCAT_(syncwatch_statusor_, __LINE__), \
                                   lhs, rexpr)

#endif  // SYNCWATCH_COMMON_STATUS_MACROS_H_
