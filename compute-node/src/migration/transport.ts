// One side's NATS endpoint for a migration. Under the migration's subject prefix:
//   <prefix>.data      source → destination (data and the source's control frames)
//   <prefix>.ctl       destination → source (credits, NACKs, results)
//   <prefix>.progress  progress events (JSON), for the agent, the API and the dashboard
// Frames are checked here (wire.ts): those of another migration or with a bad checksum are
// dropped and counted, and so are control frames whose sequence number is not new (replays).
// Data frames go to the receive window, which knows which sequence numbers are old.
import type { NatsConnection, Subscription } from 'nats';
import { decode, isDataType, type Frame } from './wire.js';
import { emptyRejectCounters, MigrationError, type RejectCounters } from './types.js';

/**
 * Fault injection for tests: sees every frame this endpoint sends ('out') or receives ('in');
 * returning null drops it, returning other bytes replaces it (corruption), undefined passes it.
 */
export type Tap = (dir: 'out' | 'in', frame: Uint8Array) => Uint8Array | null | undefined;

export interface EndpointOptions {
  prefix: string;
  tag: number;
  role: 'source' | 'destination';
  tap?: Tap;
}

export class Endpoint {
  readonly rejected: RejectCounters = emptyRejectCounters();
  bytesSent = 0;
  private sub: Subscription | undefined;
  private lastControlSeq = 0;
  private controlSeq = 0;
  private readonly sendSubject: string;
  private readonly recvSubject: string;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: EndpointOptions,
    private readonly onFrame: (f: Frame) => void,
    private readonly onError: (e: MigrationError) => void,
  ) {
    const data = `${opts.prefix}.data`;
    const ctl = `${opts.prefix}.ctl`;
    [this.sendSubject, this.recvSubject] = opts.role === 'source' ? [data, ctl] : [ctl, data];
  }

  static progressSubject(prefix: string): string {
    return `${prefix}.progress`;
  }

  /** Subscribes and waits until the server has the subscription (frames sent after this arrive). */
  async open(): Promise<void> {
    this.sub = this.nc.subscribe(this.recvSubject, {
      callback: (err, msg) => {
        if (err) return this.onError(new MigrationError('connection', `NATS subscription: ${err.message}`));
        this.receive(msg.data);
      },
    });
    await this.nc.flush();
    // A connection closed for good (not merely reconnecting) ends the migration. The connection
    // outlives many migrations: hold this endpoint weakly, so it (and its machine) can go.
    const self = new WeakRef(this);
    void this.nc.closed().then((err) => self.deref()?.connectionClosed(err));
  }

  private connectionClosed(err: Error | void): void {
    if (!this.closed) this.onError(new MigrationError('connection', `NATS connection closed${err ? `: ${err.message}` : ''}`));
  }

  /** Sequence number for this side's next control frame. */
  nextControlSeq(): number {
    return ++this.controlSeq;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    const out = this.opts.tap ? this.opts.tap('out', frame) : undefined;
    if (out === null) return;
    const bytes = out ?? frame;
    try {
      this.nc.publish(this.sendSubject, bytes);
      this.bytesSent += bytes.length;
    } catch (e) {
      this.onError(new MigrationError('connection', `NATS publish: ${(e as Error).message}`));
    }
  }

  publishProgress(progress: object): void {
    if (this.closed || this.nc.isClosed()) return;
    try {
      this.nc.publish(Endpoint.progressSubject(this.opts.prefix), JSON.stringify(progress));
    } catch {
      // Progress is best effort; the migration itself reports failures.
    }
  }

  close(): void {
    this.closed = true;
    this.sub?.unsubscribe();
  }

  private receive(data: Uint8Array): void {
    if (this.closed) return;
    const tapped = this.opts.tap ? this.opts.tap('in', data) : undefined;
    if (tapped === null) return;
    const f = decode(tapped ?? data, this.opts.tag);
    if (f === 'forged' || f === 'corrupt') {
      this.rejected[f]++;
      return;
    }
    if (!isDataType(f.type)) {
      if (f.seq <= this.lastControlSeq) {
        this.rejected.replayed++;
        return;
      }
      this.lastControlSeq = f.seq;
    }
    this.onFrame(f);
  }
}
