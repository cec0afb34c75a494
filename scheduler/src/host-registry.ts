// The host registry lives in @hypernova/common (the compute agent writes it, the scheduler and
// the API read it); re-exported here so scheduler users find it next to placement.
export {
  DEFAULT_ALLOCATION_RATIOS,
  getHost,
  heartbeatHost,
  listHosts,
  markHostDown,
  registerHost,
  setHostEnabled,
  startHostHeartbeat,
  type HeartbeatHandle,
  type HostSpec,
  type HostState,
  type HostUsage,
} from '@hypernova/common';
