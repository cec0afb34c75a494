// Neutron's state: the records and the pools their addresses and segments come from.
export * from './allocations.js';
export * from './ipv4.js';
export * from './records.js';
