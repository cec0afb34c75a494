// What the VM process tells every control client without being asked (QMP events).
import {
  timestamp,
  type EventName,
  type MigrationEventData,
  type MigrationOwnershipRequest,
  type MigrationProgressInfo,
  type QmpEvent,
  type ShutdownReason,
} from './protocol.js';

export interface EventData {
  STOP: Record<string, never>;
  RESUME: Record<string, never>;
  /** guest: whether the guest asked for it. */
  RESET: { guest: boolean; reason: ShutdownReason };
  POWERDOWN: Record<string, never>;
  SHUTDOWN: { guest: boolean; reason: ShutdownReason };
  /** action: what the VMM did about it (it lets the guest run on: its kernel decides). */
  GUEST_PANICKED: { action: 'run'; info?: { message: string } };
  MIGRATION: MigrationEventData;
  /** An outgoing migration while it streams, about every 500 ms. */
  MIGRATION_PROGRESS: MigrationProgressInfo;
  /** A migration at its commit point (or with its outcome lost) asks for the ownership step. */
  MIGRATION_OWNERSHIP: MigrationOwnershipRequest;
}

export type EventListener = (event: QmpEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit<N extends EventName>(event: N, data: EventData[N]): void {
    const msg: QmpEvent = { event, data: data as Record<string, unknown>, timestamp: timestamp() };
    for (const fn of [...this.listeners]) fn(msg);
  }
}
