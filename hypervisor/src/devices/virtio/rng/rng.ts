// virtio-rng (device ID 4, "entropy device"): one request queue whose writable buffers are
// filled from the host CSPRNG straight in guest RAM.
import { randomFillSync } from 'node:crypto';
import type { StateSection } from '../../../state/section.js';
import { DeviceId } from '../constants.js';
import type { VirtioDevice, VirtioHost } from '../device.js';
import type { Virtqueue } from '../queue.js';
import { parseRngState, VIRTIO_RNG_STATE_VERSION, type VirtioRngState } from './persist.js';

export const RNG_QUEUE_SIZE = 64;
/** Bytes per request at most (the spec lets the device use less than the whole buffer). */
export const RNG_MAX_REQUEST = 64 * 1024;

export class VirtioRng implements VirtioDevice {
  readonly deviceId = DeviceId.ENTROPY;
  readonly kind = 'virtio-rng';
  readonly features = 0n;
  readonly queueSizes = [RNG_QUEUE_SIZE];
  /** Bytes handed to the guest so far. */
  bytesServed = 0;
  private host: VirtioHost | undefined;

  attach(host: VirtioHost): void {
    this.host = host;
  }

  readConfig(): number {
    return 0; // no configuration space
  }

  writeConfig(): void {}

  reset(): void {}

  processQueue(_index: number, queue: Virtqueue): void {
    const ram = this.host!.ram.bytes;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const n = chain.writeRanges(0, Math.min(chain.writableLen, RNG_MAX_REQUEST), (off, len) =>
        randomFillSync(ram, off, len),
      );
      queue.push(chain, n);
      this.bytesServed += n;
    }
  }

  saveState(): StateSection<VirtioRngState> {
    return { name: this.kind, version: VIRTIO_RNG_STATE_VERSION, data: {} };
  }

  restoreState(section: StateSection): void {
    parseRngState(section, this.kind);
  }
}
