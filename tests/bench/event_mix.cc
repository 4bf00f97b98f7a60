#include "tests/bench/event_mix.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/time_util.h"

namespace syncwatch::bench {
namespace {

// The Entra ID connector's well-known id and a fixed id per other connector.
std::string ConnectorId(const std::string& connector) {
  return absl::StrFormat("%08x-66bc-4938-8122-c5f585f463d0", std::hash<std::string>()(connector));
}

std::string Guid(uint64_t hi, uint64_t lo) {
  return absl::StrFormat("%08x-%04x-4%03x-8%03x-%012x", hi & 0xffffffff, (hi >> 32) & 0xffff,
                         lo & 0xfff, (lo >> 12) & 0xfff, lo & 0xffffffffffff);
}

v1::PendingObject MakeObject(const std::string& connector, int64_t i, bool with_attributes) {
  v1::PendingObject o;
  o.set_dn(absl::StrCat("CN=User ", i, ",OU=Staff,DC=corp,DC=example,DC=com"));
  o.set_object_type("user");
  o.set_cs_guid(Guid(std::hash<std::string>()(connector), static_cast<uint64_t>(i)));
  o.set_user_principal_name(absl::StrCat("user", i, "@corp.example.com"));
  if (with_attributes) {
    o.set_source_anchor(absl::StrCat("dGVzdC1hbmNob3ItMDAw", i));
    o.set_display_name(absl::StrCat("User ", i));
    o.set_mail(absl::StrCat("user", i, "@corp.example.com"));
    o.add_proxy_addresses(absl::StrCat("SMTP:user", i, "@corp.example.com"));
    o.add_proxy_addresses(absl::StrCat("smtp:user", i, "@example.mail.onmicrosoft.com"));
  }
  return o;
}

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) { *ts = ToProtoTimestamp(t); }

}  // namespace

BenchServer::BenchServer(int index)
    : name(absl::StrFormat("sync%04d.corp.example.com", index)),
      tenant(absl::StrFormat("tenant%04d.onmicrosoft.com", index / 3)),
      role(index % 3 == 0 ? v1::SERVER_ROLE_ACTIVE : v1::SERVER_ROLE_STAGING),
      connectors({absl::StrFormat("corp%04d.example.com", index / 3), tenant + " - AAD",
                  absl::StrFormat("HR-%04d", index / 3)}) {}

v1::Hello BenchServer::Hello(const std::string& spool_epoch) const {
  v1::Hello hello;
  hello.set_agent_id(name);
  hello.set_server(name);
  hello.set_tenant(tenant);
  hello.set_role(role);
  hello.set_agent_version("syncwatch-bench");
  hello.set_spool_epoch(spool_epoch);
  return hello;
}

v1::RunProfileResult MakeRun(const std::string& connector, RunProfile profile, int64_t run_number,
                             absl::Time start, const std::string& result, int export_errors) {
  v1::RunProfileResult run;
  const absl::Time end = start + absl::Seconds(20 + run_number % 40);
  run.set_run_history_id(
      Guid(std::hash<std::string>()(connector), static_cast<uint64_t>(run_number)));
  run.set_connector_id(ConnectorId(connector));
  run.set_connector_name(connector);
  run.set_run_number(run_number);
  run.set_username("NT SERVICE\\ADSync");
  run.set_result(result);
  run.set_is_run_complete(true);
  run.set_current_step_number(1);
  run.set_total_steps(1);
  SetTime(start, run.mutable_start_time());
  SetTime(end, run.mutable_end_time());
  v1::RunStep* step = run.add_steps();
  step->set_step_number(1);
  step->set_step_id(Guid(static_cast<uint64_t>(run_number) * 7919, 1));
  step->set_result(result);
  SetTime(start, step->mutable_start_time());
  SetTime(end, step->mutable_end_time());
  step->set_partition("DC=corp,DC=example,DC=com");
  step->set_connection_result("success");
  step->set_connection_server("DC01.corp.example.com:389");
  const int64_t n = run_number % 97;
  switch (profile) {
    case RunProfile::kDeltaImport: {
      run.set_run_profile_name("Delta Import");
      step->set_step_type("delta-import");
      step->add_step_subtypes("to-cs");
      v1::StagingCounters* c = step->mutable_staging_counters();
      c->set_stage_no_change(n * 3);
      c->set_stage_add(n % 5);
      c->set_stage_update(n);
      c->set_stage_delete(n % 3);
      break;
    }
    case RunProfile::kDeltaSync: {
      run.set_run_profile_name("Delta Synchronization");
      step->set_step_type("apply-rules");
      step->add_step_subtypes("apply-pending");
      v1::InboundFlowCounters* c = step->mutable_inbound_flow_counters();
      c->set_connector_flow(n);
      c->set_connector_no_flow(n * 2);
      c->set_disconnector_filtered(n % 4);
      c->set_connector_delete_remove_mv(n % 3);
      break;
    }
    case RunProfile::kExport: {
      run.set_run_profile_name("Export");
      step->set_step_type("export");
      v1::ExportCounters* c = step->mutable_export_counters();
      c->set_export_add(n % 5);
      c->set_export_update(n);
      c->set_export_delete(n % 3);
      c->set_export_failure(export_errors);
      for (int e = 0; e < export_errors; ++e) {
        *step->add_export_errors() = MakeExportError(connector, run_number * 10 + e, end);
      }
      break;
    }
  }
  return run;
}

v1::ExportError MakeExportError(const std::string& connector, int64_t object, absl::Time when) {
  v1::ExportError e;
  e.set_connector_name(connector);
  e.set_connector_id(ConnectorId(connector));
  e.set_cs_guid(Guid(std::hash<std::string>()(connector) + 1, static_cast<uint64_t>(object)));
  e.set_dn(absl::StrCat("CN=User ", object, ",OU=Staff,DC=corp,DC=example,DC=com"));
  e.set_error_type("AttributeValueMustBeUnique");
  v1::CdError* cd = e.mutable_cd_error();
  cd->set_error_code("0x80230703");
  cd->set_error_literal(absl::StrCat(
      "Unable to update this object because the following attributes associated with this "
      "object have values that may already be associated with another object in your local "
      "directory services: [ProxyAddresses SMTP:user",
      object,
      "@corp.example.com;]. Correct or remove the duplicate values in your local "
      "directory."));
  SetTime(when - absl::Hours(24 * (object % 5)), e.mutable_first_occurred());
  SetTime(when, e.mutable_date_occurred());
  e.set_retry_count(object % 5);
  e.set_conflict_attribute("ProxyAddresses");
  e.set_conflict_value(absl::StrCat("SMTP:user", object, "@corp.example.com"));
  return e;
}

v1::PendingExportSnapshot MakeSnapshot(const std::string& connector, absl::Time taken_at,
                                       int64_t deletes) {
  v1::PendingExportSnapshot s;
  s.set_snapshot_id(absl::StrCat(absl::Hex(std::hash<std::string>()(connector)), "-",
                                 absl::ToUnixMicros(taken_at)));
  s.set_connector_name(connector);
  s.set_connector_id(ConnectorId(connector));
  SetTime(taken_at, s.mutable_taken_at());
  s.set_pending_adds(3);
  s.set_pending_updates(12);
  s.set_pending_deletes(deletes);
  for (int64_t i = 0; i < deletes && i < 20; ++i) *s.add_deletes() = MakeObject(connector, i, true);
  s.set_deletes_truncated(deletes > 20);
  for (int64_t i = 0; i < 6; ++i) {
    *s.add_adds_and_updates() = MakeObject(connector, 100000 + i, false);
  }
  return s;
}

v1::ServerSettings MakeSettings(bool staging, int64_t deletion_threshold) {
  v1::ServerSettings s;
  s.set_staging_mode_enabled(staging);
  s.set_sync_cycle_enabled(true);
  *s.mutable_sync_cycle_interval() = ToProtoDuration(absl::Minutes(30));
  s.set_next_sync_cycle_policy_type("Delta");
  *s.mutable_purge_run_history_interval() = ToProtoDuration(absl::Hours(24 * 7));
  s.set_deletion_threshold_enabled(true);
  s.set_deletion_threshold(deletion_threshold);
  s.set_deletion_threshold_known(true);
  return s;
}

v1::Event MakeEvent(const std::string& source, absl::Time when) {
  v1::Event e;
  e.set_source(source);
  SetTime(when, e.mutable_observed_at());
  return e;
}

EventMix::EventMix(const BenchServer& server, size_t batch_events)
    : server_(server),
      server_hash_(std::hash<std::string>()(server.name)),
      batch_events_(batch_events),
      start_(absl::Now() - absl::Hours(24 * 30)) {}

void EventMix::Build(v1::EventBatch* batch) {
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < batch_events_; ++i) {
    // Out of every 100 events: 2 snapshots, 7 export errors from csexport,
    // 5 heartbeats, 1 settings, 85 runs.
    const size_t slot = i % 100;
    const std::string& connector = server_.connectors[i % server_.connectors.size()];
    if (slot < 2) {
      v1::Event* e = batch->add_events();
      *e = MakeEvent("pending", now);
      *e->mutable_pending_exports() = MakeSnapshot(connector, now, static_cast<int64_t>(i % 7));
    } else if (slot < 9) {
      v1::Event* e = batch->add_events();
      *e = MakeEvent("errors", now);
      *e->mutable_export_error() = MakeExportError(connector, static_cast<int64_t>(i), now);
    } else if (slot < 14) {
      v1::Event* e = batch->add_events();
      *e = MakeEvent("heartbeat", now);
      e->mutable_heartbeat()->set_spool_bytes(4096);
      e->mutable_heartbeat()->set_spool_budget_bytes(512 << 20);
    } else if (slot == 14) {
      v1::Event* e = batch->add_events();
      *e = MakeEvent("settings", now);
      *e->mutable_settings() = MakeSettings(server_.role == v1::SERVER_ROLE_STAGING, 500);
    } else {
      // Each connector runs import, sync and export in turn; a staging server
      // never exports.
      const size_t kinds = server_.role == v1::SERVER_ROLE_STAGING ? 2 : 3;
      const auto profile = static_cast<RunProfile>(i / server_.connectors.size() % kinds);
      // One export run in ten reports export errors.
      const int errors = profile == RunProfile::kExport && i % 10 == 2 ? 2 : 0;
      v1::Event* e = batch->add_events();
      *e = MakeEvent("runs", now);
      *e->mutable_run() = MakeRun(connector, profile, 0, start_, "success", errors);
    }
  }
}

void EventMix::Next(uint64_t seq, v1::EventBatch* batch) {
  if (batch->events_size() == 0) Build(batch);
  batch->set_seq(seq);
  ++batches_;
  for (v1::Event& e : *batch->mutable_events()) {
    switch (e.kind_case()) {
      case v1::Event::kRun: {
        // A new run: the next run number, a new id, 30 s after the last one.
        v1::RunProfileResult* run = e.mutable_run();
        const int64_t n = ++runs_;
        run->set_run_number(n);
        run->set_run_history_id(Guid(server_hash_, static_cast<uint64_t>(n)));
        const absl::Time start = start_ + absl::Seconds(30 * n);
        SetTime(start, run->mutable_start_time());
        SetTime(start + absl::Seconds(25), run->mutable_end_time());
        break;
      }
      case v1::Event::kPendingExports: {
        v1::PendingExportSnapshot* s = e.mutable_pending_exports();
        const absl::Time taken = start_ + absl::Seconds(++snapshots_);
        SetTime(taken, s->mutable_taken_at());
        s->set_snapshot_id(absl::StrCat(server_.name, "-", snapshots_));
        break;
      }
      case v1::Event::kHeartbeat:
        *e.mutable_heartbeat()->mutable_agent_uptime() = ToProtoDuration(absl::Seconds(batches_));
        break;
      case v1::Event::kExportError:
      case v1::Event::kSettings:
      case v1::Event::kConfiguration:
      case v1::Event::KIND_NOT_SET:
        break;
    }
  }
}

}  // namespace syncwatch::bench
