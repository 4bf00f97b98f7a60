// The bytes of the stored records that carry a server, its tenant and one
// message (StoredRun, StoredPendingExports, StoredExportError: fields 1, 2
// and 3), made and read without building the record: the writer's hottest
// copies.
#ifndef SYNCWATCH_COLLECTOR_STORAGE_STORED_RECORD_H_
#define SYNCWATCH_COLLECTOR_STORAGE_STORED_RECORD_H_

#include <initializer_list>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace syncwatch::collector {

// Appends to `*out` the bytes of {server, tenant, payload} (server and tenant
// left out when empty): the same bytes as that record's SerializeAsString.
// `out` grows by exactly their size.
void AppendStoredRecord(const std::string& server, const std::string& tenant,
                        const google::protobuf::MessageLite& payload, std::string* out);
// The same with the payload already serialized.
void AppendStoredRecord(const std::string& server, const std::string& tenant,
                        absl::string_view payload, std::string* out);

// Appends the fields of the serialized message `message` to `*out`, leaving
// out the top-level fields numbered in `drop` (e.g. a snapshot's object
// lists). False, with `*out` as it was, when `message` is not valid wire
// format.
bool AppendWithoutFields(absl::string_view message, std::initializer_list<int> drop,
                         std::string* out);

// Calls `take` with the payload of each occurrence of the length-delimited
// field `number` of the serialized message `message`, in order (a view into
// `message`, not a copy): parsed one after the other into one message, they
// merge as parsing `message` whole would. Stops when `take` returns false.
// False when `message` is not valid wire format, the field is not
// length-delimited or `take` returned false; true when the field is absent.
bool ForEachField(absl::string_view message, int number,
                  absl::FunctionRef<bool(absl::string_view payload)> take);

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_STORAGE_STORED_RECORD_H_
