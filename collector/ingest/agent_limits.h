// What the ingest port allows one agent: streams at once and an event rate.
#ifndef SYNCWATCH_COLLECTOR_INGEST_AGENT_LIMITS_H_
#define SYNCWATCH_COLLECTOR_INGEST_AGENT_LIMITS_H_

#include <cstdint>

namespace syncwatch::collector {

// Per-agent limits on the ingest port (YAML `limits:`). An agent's identity is
// the server its client certificate names under mutual TLS, and the Hello's
// agent_id otherwise.
struct AgentLimits {
  // Ingest streams one agent identity may have open at once; one more is
  // refused with RESOURCE_EXHAUSTED (the agent retries after its back-off).
  // An agent needs one per collector; the rest is room for reconnects whose
  // old stream the collector has not yet seen die. Default: 4.
  int max_streams_per_agent = 4;
  // Sustained events per second one agent identity may send, with bursts of
  // twice that. Above it every batch is still stored and acknowledged, but a
  // Throttle before the ack tells the agent how long to pause: nothing is
  // dropped, the agent slows down. Default: 20,000.
  int64_t agent_events_per_second = 20000;
};

}  // namespace syncwatch::collector

#endif  // SYNCWATCH_COLLECTOR_INGEST_AGENT_LIMITS_H_
