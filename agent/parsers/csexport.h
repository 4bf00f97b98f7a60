// Parsers for connector-space exports written by the sync engine's csexport
// tool (DOMAIN.md §2.1, §3.4):
//  - `csexport "<connector>" f.xml /f:x`: the objects with pending exports,
//    summarised as one v1::PendingExportSnapshot;
//  - `csexport "<connector>" f.xml /f:e`: the objects with export errors, one
//    v1::ExportError each.
// Both stream the document through expat in chunks: memory stays bounded
// whatever the file size (a large tenant's file is hundreds of MB to 1 GB);
// only the object being read and the capped lists of the snapshot are held.
//
// Common to both:
//  - Root element <cs-objects>, children <cs-object cs-dn="…" id="{GUID}"
//    object-type="…">. Unknown elements and attributes are ignored, values
//    are trimmed at both ends, GUIDs are normalised ("{ABC-…}" -> "abc-…").
//  - Encoding comes from the bytes, not from the declaration (a utf-16
//    declaration on UTF-8 bytes is read as UTF-8): a UTF-16LE/BE BOM means
//    UTF-16, anything else must be valid UTF-8 (a UTF-8 BOM is allowed).
//  - InvalidArgument("<name>:<line>: <problem>") for: malformed or truncated
//    XML, any DOCTYPE (entity bombs, external entities), invalid UTF-8 or
//    UTF-16 (lone surrogates, a cut character; checked by syncwatch, not
//    left to the installed expat),
//    nesting deeper than 64, a tag or a value over 1 MiB, another root than
//    <cs-objects>, a <cs-object> with neither id nor cs-dn, cs-objects of two
//    connectors in one file, non-numeric numbers, unparsable dates. Errors of
//    the ByteReader and of a sink are returned unchanged.
//  - On any error the caller must discard everything produced so far.
#ifndef SYNCWATCH_AGENT_PARSERS_CSEXPORT_H_
#define SYNCWATCH_AGENT_PARSERS_CSEXPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/parsers/byte_reader.h"
#include "syncwatch/v1/event.pb.h"

namespace syncwatch::agent {

// Bounds on what a pending-export snapshot lists. The counts (pending_adds,
// pending_updates, pending_deletes) always cover every object in the file.
struct CsExportLimits {
  // Most objects listed in `deletes`; beyond it deletes_truncated is set.
  // Default: 10,000.
  int64_t max_listed_deletes = 10000;
  // Most objects listed in `adds_and_updates`. Default: 100,000.
  int64_t max_listed_changes = 100000;
  // Most memory each list may take (protobuf's SpaceUsedLong of the listed
  // objects), so that the lists stay within the agent's memory budget (a
  // listed object takes about 0.5-1 KiB) whatever the counts above say;
  // once spent, objects are counted but no longer listed. Deletes have their
  // own share so that a flood of updates cannot crowd them out.
  // Defaults: 8 MiB for deletes, 24 MiB for adds and updates.
  size_t max_listed_delete_bytes = size_t{8} << 20;
  size_t max_listed_change_bytes = size_t{24} << 20;
  // Most bytes of attribute values kept while one <cs-object> is read (its
  // deltas and holograms together); a larger object is an error. Real
  // objects hold a few KiB. Default: 4 MiB.
  size_t max_object_value_bytes = size_t{4} << 20;
};

// Summarises a `csexport … /f:x` file (objects with pending exports) into
// `*out`. `name` (usually the file path) prefixes every error message.
//
// On entry `out` may carry connector_name / connector_id (e.g. from the
// exporter's file name): the file's <ma-name> / <ma-id> override them when
// present, since an export of an empty pending set names no connector.
// Everything else in `out` is reset; snapshot_id and taken_at are left to
// the caller.
//
// Classification of one <cs-object> (DOMAIN.md §2.1; attested: the engine
// writes `export-delta-operation` add | modify | delete | none and
// `unapplied-export/delta/@operation` add | update | replace | delete |
// delete-add | none):
//  - delta add -> add; update / replace -> update; delete -> delete when
//    export-delta-operation is delete or absent (a pending delete needs both
//    signals when both are there; a delete delta on an object whose
//    export-delta-operation says otherwise counts as an update);
//  - delete-add (delete and re-create) -> update: the object still exists
//    after the export (assumed; the engine's deletion threshold may count it
//    differently — see DOMAIN.md open questions);
//  - without a delta (or with none / an unknown operation) the
//    export-delta-operation decides: add -> add, modify -> update,
//    delete -> delete, none or unknown -> nothing pending.
//
// Filled in:
//  - pending_adds / pending_updates / pending_deletes: counts as above.
//  - deletes: up to limits.max_listed_deletes PendingObjects with dn
//    (cs-dn), object_type, cs_guid (id) and, from the holograms only (the
//    delete delta carries no attributes) — pending-import-hologram first,
//    then synchronized-hologram, per attribute — userPrincipalName,
//    sourceAnchor, displayName, mail, proxyAddresses. deletes_truncated when
//    fewer objects are listed than pending_deletes.
//  - adds_and_updates: up to limits.max_listed_changes PendingObjects with
//    dn, object_type, cs_guid and the values of the unique attributes the
//    export will write: userPrincipalName, mail, proxyAddresses. Per
//    attribute, from the unapplied-export delta when the delta touches it
//    (the values it adds; none when it deletes the attribute), otherwise from
//    the unapplied-export-hologram (the object as it will be after the
//    export), then synchronized-hologram, then pending-import-hologram.
//    The list is cut short silently (compare its size with pending_adds +
//    pending_updates).
//  - connector_objects is left 0 ("unknown"): a /f:x file holds only the
//    objects with pending exports, not the connector space, so the number of
//    cs-objects in it would mislead a "share of the connector" rule.
//
// Attribute names are matched case-insensitively (LDAP names are).
// Single-valued attributes take their first value.
absl::Status ParseCsExportPendingExports(ByteReader& in, absl::string_view name,
                                         const CsExportLimits& limits,
                                         v1::PendingExportSnapshot* out);

// Receives each export error. Returning an error stops parsing and is
// returned by the parser unchanged.
using ExportErrorSink = std::function<absl::Status(v1::ExportError error)>;

// Reads a `csexport … /f:e` file and hands one v1::ExportError per
// <export-errordetail> to `sink`, once its <cs-object> has been read.
//
// The shape of export-errordetail differs between sources, so all of these
// are read (element names are matched wherever they sit below
// <export-errordetail>, and attributes of <export-errordetail> or
// <export-error> count as well as child elements):
//  - attested by scripts written against real AADC files:
//    <export-errordetail date-occurred="…" retry-count="…" error-type="…">
//      <export-status><cd-error><error-code/><error-name/><error-literal/>
//        <extra-error-details/><server-error-detail/></cd-error>
//      </export-status></export-errordetail>;
//  - MIM's reference: <export-errordetail><export-error date-occurred=…
//    first-occurred=… retry-count=… error-type=…> with <cd-error>;
//  - DOMAIN.md §3.4 (same fields as run history's <export-error>, as child
//    elements).
// Filled in: connector_name / connector_id from the cs-object's <ma-name> /
// <ma-id> (empty when the file has none: the caller then names the
// connector), cs_guid (id), dn (cs-dn), error_type, cd_error (error-code,
// error-literal, server-error-detail), first_occurred, date_occurred,
// retry_count, and conflict_attribute / conflict_value /
// object_id_in_conflict (see below).
//
// error_type is `error-type`, except that when it is missing or the generic
// "cd-error" (MIM: "the connected directory reported an error") and the
// cd-error names the error (<error-name>, e.g. AttributeValueMustBeUnique),
// that name is used (assumed: what the rules key on is the specific name).
// An export error without either is an error.
//
// The conflict: ErrorExtraDetails is JSON; attested (a real AADC error
// quoted in public) as an array of {"Key": …, "Value": [..]} with keys
// ObjectId, ObjectIdInConflict, AttributeConflictName,
// AttributeConflictValues. Where csexport puts it is assumed: the text of an
// <extra-error-details> (name attested in Microsoft's run-history scripts)
// or <error-extra-details> element, or a server-error-detail that holds such
// JSON. A plain JSON object with the same keys is accepted too. JSON that
// does not parse is ignored (it is informational). Without it, the first
// "[<Attribute> <value>;]" group of the error literal is used
// (ParseConflictFromLiteral).
absl::Status ParseCsExportErrors(ByteReader& in, absl::string_view name,
                                 const ExportErrorSink& sink);

}  // namespace syncwatch::agent

#endif  // SYNCWATCH_AGENT_PARSERS_CSEXPORT_H_
