#include "collector/storage/stored_record.h"

#include <algorithm>
#include <cstdint>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "syncwatch/v1/query.pb.h"

namespace syncwatch::collector {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

constexpr int kServerField = 1;
constexpr int kTenantField = 2;
constexpr int kPayloadField = 3;
static_assert(v1::StoredRun::kServerFieldNumber == kServerField &&
              v1::StoredRun::kTenantFieldNumber == kTenantField &&
              v1::StoredRun::kRunFieldNumber == kPayloadField);
static_assert(v1::StoredPendingExports::kServerFieldNumber == kServerField &&
              v1::StoredPendingExports::kTenantFieldNumber == kTenantField &&
              v1::StoredPendingExports::kSnapshotFieldNumber == kPayloadField);
static_assert(v1::StoredExportError::kServerFieldNumber == kServerField &&
              v1::StoredExportError::kTenantFieldNumber == kTenantField &&
              v1::StoredExportError::kErrorFieldNumber == kPayloadField);

uint32_t Tag(int number) {
  return WireFormatLite::MakeTag(number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

size_t FieldSize(int number, size_t bytes) {
  return CodedOutputStream::VarintSize32(Tag(number)) +
         CodedOutputStream::VarintSize32(static_cast<uint32_t>(bytes)) + bytes;
}

uint8_t* WriteHeader(int number, size_t bytes, uint8_t* p) {
  p = CodedOutputStream::WriteTagToArray(Tag(number), p);
  return CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(bytes), p);
}

uint8_t* WriteBytesField(int number, absl::string_view bytes, uint8_t* p) {
  p = WriteHeader(number, bytes.size(), p);
  return CodedOutputStream::WriteRawToArray(bytes.data(), static_cast<int>(bytes.size()), p);
}

// Room for the record around a payload of `payload_size` bytes, and where its
// server, tenant and payload header are written; returns where the payload
// goes.
uint8_t* StartRecord(const std::string& server, const std::string& tenant, size_t payload_size,
                     std::string* out) {
  size_t total = FieldSize(kPayloadField, payload_size);
  if (!server.empty()) total += FieldSize(kServerField, server.size());
  if (!tenant.empty()) total += FieldSize(kTenantField, tenant.size());
  const size_t at = out->size();
  out->resize(at + total);
  uint8_t* p = reinterpret_cast<uint8_t*>(&(*out)[at]);
  if (!server.empty()) p = WriteBytesField(kServerField, server, p);
  if (!tenant.empty()) p = WriteBytesField(kTenantField, tenant, p);
  return WriteHeader(kPayloadField, payload_size, p);
}

CodedInputStream Input(absl::string_view message) {
  return CodedInputStream(reinterpret_cast<const uint8_t*>(message.data()),
                          static_cast<int>(message.size()));
}

}  // namespace

void AppendStoredRecord(const std::string& server, const std::string& tenant,
                        const google::protobuf::MessageLite& payload, std::string* out) {
  // Written straight into `out` (a StringOutputStream would zero the
  // string's whole spare capacity on each call, and `out` is a group's
  // buffer of a megabyte or more).
  const size_t size = payload.ByteSizeLong();
  payload.SerializeWithCachedSizesToArray(StartRecord(server, tenant, size, out));
}

void AppendStoredRecord(const std::string& server, const std::string& tenant,
                        absl::string_view payload, std::string* out) {
  uint8_t* p = StartRecord(server, tenant, payload.size(), out);
  std::copy(payload.begin(), payload.end(), p);
}

bool AppendWithoutFields(absl::string_view message, std::initializer_list<int> drop,
                         std::string* out) {
  const size_t at = out->size();
  CodedInputStream in = Input(message);
  for (;;) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.CurrentPosition() == static_cast<int>(message.size())) return true;
      break;  // a zero tag inside the message
    }
    if (!WireFormatLite::SkipField(&in, tag)) break;
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    if (std::find(drop.begin(), drop.end(), number) != drop.end()) continue;
    out->append(message.data() + start, static_cast<size_t>(in.CurrentPosition() - start));
  }
  out->resize(at);
  return false;
}

bool ForEachField(absl::string_view message, int number,
                  absl::FunctionRef<bool(absl::string_view payload)> take) {
  CodedInputStream in = Input(message);
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(message.size());
    if (WireFormatLite::GetTagFieldNumber(tag) != number) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      return false;
    }
    uint32_t size = 0;
    if (!in.ReadVarint32(&size)) return false;
    const size_t at = static_cast<size_t>(in.CurrentPosition());
    if (size > message.size() - at) return false;
    if (!take(message.substr(at, size))) return false;
    in.Skip(static_cast<int>(size));
  }
}

}  // namespace syncwatch::collector
