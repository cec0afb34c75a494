// HTIF, the Berkeley host-target interface of spike and riscv-tests: not MMIO but two 64-bit
// words in guest RAM, `tohost` and `fromhost`, found through the ELF's symbols. The guest
// writes a command to tohost; the host carries it out, clears tohost and answers in fromhost.
//
//   tohost = device << 56 | cmd << 48 | payload (48 bits)
//   device 0 cmd 0, payload bit 0 set:   exit with code payload >> 1 (0 = pass)
//   device 0 cmd 0, payload bit 0 clear: payload points to magic_mem, 8 uint64: a proxied
//                                        syscall number and its arguments (answer: fromhost = 1)
//   device 1 cmd 1:                      console putchar (answer: 0x100 | char, as spike)
//
// An rv32 guest stores the 64-bit tohost as two 32-bit words (GCC: low word first), and the RAM
// watch fires after each store. A store that leaves the other half zero may be either a
// finished command or the first half of one, so the watch acts only on the store that
// completes a two-word write (the second half, with the first non-zero); poll() settles the
// rest (32-bit-only writers) once a value has stayed unchanged between two polls.
import type { GuestRam } from '../../bus/ram.js';
import type { Persistent, StateSection } from '../../state/section.js';
import { hex64, HTIF_STATE_VERSION, parseHtifState, type HtifState } from './persist.js';

export const HTIF_SYS_WRITE = 64;
export const HTIF_SYS_EXIT = 93;
const EBADF = 9;
const ENOSYS = 38;

export interface HtifHost {
  /** The guest asked to exit (riscv-tests: 0 = pass, otherwise the failing test number). */
  exit(code: number): void;
  /** One byte of console output. */
  putchar(byte: number): void;
}

const U32 = 0xffff_ffffn;

export class Htif implements Persistent {
  readonly name = 'htif';
  readonly tohost: number;
  readonly fromhost: number | undefined;

  /** Answers waiting for the guest to clear fromhost (spike queues them the same way). */
  private fromhostQueue: bigint[] = [];
  /** The non-zero tohost value the previous poll() saw, 0n if none. */
  private lastPolled = 0n;

  /** Set while the device itself writes RAM, whose watch would call back into it. */
  private busy = false;

  /** `fromhost` may be undefined: the guest then gets no answers (enough for programs that only exit). */
  constructor(
    private readonly ram: GuestRam,
    tohost: number,
    fromhost: number | undefined,
    private readonly host: HtifHost,
  ) {
    this.tohost = checkWord(ram, 'tohost', tohost);
    this.fromhost = fromhost === undefined ? undefined : checkWord(ram, 'fromhost', fromhost);
    const onWrite = (addr: number) => this.written(addr >>> 0);
    ram.watch(this.tohost, onWrite);
    // One watcher per page: watch fromhost's page only if it is another one.
    if (this.fromhost !== undefined && ram.offsetOf(this.fromhost) >>> 12 !== ram.offsetOf(this.tohost) >>> 12) {
      ram.watch(this.fromhost, onWrite);
    }
  }

  /**
   * Handles a pending command the watch could not settle, and delivers queued answers. The
   * machine calls it now and then (e.g. with the timer check); guests that write both halves
   * of tohost never need it.
   */
  poll(): void {
    const v = this.read64(this.tohost);
    if (v !== 0n && v === this.lastPolled) this.handle(v);
    else this.lastPolled = v;
    this.flushFromhost();
  }

  saveState(): StateSection<HtifState> {
    return {
      name: this.name,
      version: HTIF_STATE_VERSION,
      data: {
        tohost: this.tohost,
        fromhost: this.fromhost ?? null,
        fromhostQueue: this.fromhostQueue.map(hex64),
        lastPolled: hex64(this.lastPolled),
      },
    };
  }

  restoreState(section: StateSection): void {
    ({ fromhostQueue: this.fromhostQueue, lastPolled: this.lastPolled } = parseHtifState(section, this));
  }

  private written(addr: number): void {
    if (this.busy) return;
    if (addr >= this.tohost && addr < this.tohost + 8) {
      const lo = this.ram.view.getUint32(this.ram.offsetOf(this.tohost), true);
      const hi = this.ram.view.getUint32(this.ram.offsetOf(this.tohost + 4), true);
      const other = addr < this.tohost + 4 ? hi : lo;
      if (other !== 0) this.handle((BigInt(hi) << 32n) | BigInt(lo));
    } else if (this.fromhost !== undefined && addr >= this.fromhost && addr < this.fromhost + 8) {
      this.flushFromhost(); // the guest took the previous answer
    }
  }

  private handle(value: bigint): void {
    this.lastPolled = 0n;
    this.write64(this.tohost, 0n); // the command is taken: the guest may write the next one
    const device = Number(value >> 56n);
    const cmd = Number((value >> 48n) & 0xffn);
    const payload = value & 0xffff_ffff_ffffn;
    if (device === 0 && cmd === 0) {
      if (payload & 1n) {
        this.host.exit(Number(payload >> 1n));
        return;
      }
      this.syscall(Number(payload));
      this.respond(device, cmd, 1n);
    } else if (device === 1 && cmd === 1) {
      const ch = Number(payload & 0xffn);
      this.host.putchar(ch);
      this.respond(device, cmd, 0x100n | BigInt(ch));
    }
    // Other devices and commands (console read, block devices) are not provided: ignored.
  }

  /** A proxied syscall: magic_mem[0] = number, [1..] = arguments; the result goes to [0]. */
  private syscall(magicMem: number): void {
    if (this.ram.offsetOf(magicMem, 64) < 0) return; // not in RAM: nothing to read or answer
    const arg = (i: number) => this.read64(magicMem + 8 * i);
    const n = Number(arg(0));
    let ret: number;
    if (n === HTIF_SYS_EXIT) {
      this.host.exit(Number(BigInt.asIntN(32, arg(1))));
      ret = 0;
    } else if (n === HTIF_SYS_WRITE) {
      ret = this.sysWrite(Number(arg(1)), Number(arg(2) & U32), Number(arg(3) & U32));
    } else {
      ret = -ENOSYS;
    }
    this.write64(magicMem, BigInt.asUintN(64, BigInt(ret)));
  }

  private sysWrite(fd: number, buf: number, len: number): number {
    if (fd !== 1 && fd !== 2) return -EBADF;
    const off = this.ram.offsetOf(buf, len);
    if (off < 0) return -EBADF; // an EFAULT in spirit; the guest passed a buffer outside RAM
    for (let i = 0; i < len; i++) this.host.putchar(this.ram.bytes[off + i]!);
    return len;
  }

  private respond(device: number, cmd: number, data: bigint): void {
    if (this.fromhost === undefined) return;
    this.fromhostQueue.push((BigInt(device) << 56n) | (BigInt(cmd) << 48n) | data);
    this.flushFromhost();
  }

  /** Writes the oldest answer once the guest has consumed (zeroed) the previous one. */
  private flushFromhost(): void {
    if (this.fromhost === undefined || this.fromhostQueue.length === 0) return;
    if (this.read64(this.fromhost) !== 0n) return;
    this.write64(this.fromhost, this.fromhostQueue.shift()!);
  }

  private read64(paddr: number): bigint {
    return this.ram.view.getBigUint64(this.ram.offsetOf(paddr, 8), true);
  }

  /** Writes as a device does (DMA), so dirty logging and code invalidation see it. */
  private write64(paddr: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    this.busy = true;
    try {
      this.ram.dmaWrite(paddr, b);
    } finally {
      this.busy = false;
    }
  }
}

function checkWord(ram: GuestRam, what: string, paddr: number): number {
  if (paddr % 8 !== 0 || ram.offsetOf(paddr, 8) < 0) {
    throw new RangeError(`HTIF ${what} at 0x${(paddr >>> 0).toString(16)} is not an aligned 64-bit word in RAM`);
  }
  return paddr >>> 0;
}
