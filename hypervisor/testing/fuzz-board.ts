// The devices' side of the guest boundary, fuzzed through the bus as a guest reaches it:
// - random MMIO bursts: reads and writes of every width, aligned or not, to every device
//   window of the `virt` board (syscon, CLINT, PLIC, UART, all virtio slots);
// - virtqueue cases: a driver that sets a device up with its steps now and then out of order
//   or with garbage, then offers a random ring: loops, chains longer than the queue, nested
//   indirect tables, buffers outside RAM or straddling its end, huge lengths, writable where
//   readable is due, an avail idx that jumps too far; then notifies and lets host-side work
//   (frames, console input, key presses) find the rings too.
// Oracles: no bus access throws; the guest's kernel keeps running after every case; a device
// that broke shows DEVICE_NEEDS_RESET with a configuration interrupt and works again after a
// reset; and devices write guest RAM only inside buffers offered as device-writable, the used
// ring, or (MMIO bursts, whose rings may be anywhere in it) the DMA arena, never the kernel.
import type { AccessWidth } from '../src/bus/device.js';
import { MmioReg, Status, VIRTIO_INT_CONFIG } from '../src/devices/virtio/constants.js';
import { VirtioBlk } from '../src/devices/virtio/blk/blk.js';
import { VirtioConsole } from '../src/devices/virtio/console/console.js';
import { VirtioInput } from '../src/devices/virtio/input/input.js';
import { keyboardConfig, keyPress } from '../src/devices/virtio/input/keyboard.js';
import { L2Switch } from '../src/devices/virtio/net/link.js';
import { VirtioNet } from '../src/devices/virtio/net/net.js';
import { VirtioRng } from '../src/devices/virtio/rng/rng.js';
import { Machine } from '../src/machine/machine.js';
import { MemoryMap } from '../src/memory-map.js';
import { addi, j, lui, s0, sw, a0 } from './asm.js';
import { Rng } from './block.js';
import { FuzzFailure } from './fuzz-cpu.js';
import { MemBackend } from './mem-backend.js';

export interface BoardFuzzResult {
  cases: number;
  mmioAccesses: number;
  /** Virtqueue cases after which a device was broken (DEVICE_NEEDS_RESET), and recovered by reset. */
  broken: number;
}

const RAM_BASE = MemoryMap.ram.base;
const RAM_MIB = 16;
const RAM_END = RAM_BASE + RAM_MIB * 2 ** 20;
/** The kernel's counter: it must keep counting after every case. */
const COUNTER = RAM_BASE + 0x1_0000;
/** Where drivers put rings and buffers; the first MiB (the kernel) is never offered to a device. */
const ARENA = RAM_BASE + 0x10_0000;
const ARENA_SIZE = 0x10_0000;
const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
const DESC_F_INDIRECT = 4;

const BLK_SECTORS = 2048;

/** Slots 0..4 hold blk, net, rng, console, input; 5..7 are empty. */
const RNG_SLOT = 2;

const WINDOWS = [
  MemoryMap.syscon,
  MemoryMap.clint,
  MemoryMap.plic,
  MemoryMap.uart0,
  ...Array.from({ length: MemoryMap.virtio.count }, (_, i) => ({
    base: MemoryMap.virtio.base + i * MemoryMap.virtio.size,
    size: MemoryMap.virtio.size,
  })),
];

/** One board under fuzz: a Machine whose kernel counts in RAM, devices in slots 0..4. */
export class Board {
  readonly machine: Machine;
  readonly peer: ReturnType<L2Switch['connect']>;
  readonly console: VirtioConsole;
  readonly input: VirtioInput;
  accesses = 0;

  constructor(readonly rng: Rng) {
    const kernel = new Uint8Array(
      Uint32Array.from([lui(s0, COUNTER >>> 12), addi(a0, a0, 1), sw(a0, s0, 0), j(-8)]).buffer,
    );
    const sw0 = new L2Switch();
    this.peer = sw0.connect();
    this.console = new VirtioConsole({ output: () => {} });
    this.input = new VirtioInput(keyboardConfig());
    const devices = [
      new VirtioBlk(new MemBackend(BLK_SECTORS * 512)),
      new VirtioNet({ mac: '52:54:00:12:34:56', backend: sw0.connect() }),
      new VirtioRng(),
      this.console,
      this.input,
    ];
    this.machine = new Machine(
      { kernel, bios: 'none' },
      { config: { memoryMiB: RAM_MIB, clock: 'virtual' }, console: () => {}, devices },
    );
    this.run();
  }

  read(addr: number, width: AccessWidth): number {
    this.accesses++;
    return this.machine.bus.readMmio(addr, width) ?? 0;
  }

  write(addr: number, width: AccessWidth, value: number): void {
    this.accesses++;
    this.machine.bus.writeMmio(addr, width, value >>> 0);
  }

  /** Runs the kernel a little; its counter must move. */
  run(): void {
    const ram = this.machine.ram;
    const before = ram.view.getUint32(COUNTER - RAM_BASE, true);
    const h = this.machine.hart;
    h.wfi = false;
    h.run(h.instret + 3_000);
    if (ram.view.getUint32(COUNTER - RAM_BASE, true) === before) throw new Error('the kernel stopped running');
  }
}

/** A value for a register: small numbers, single bits, masks, arena addresses, anything; never the kernel's RAM. */
function value(rng: Rng): number {
  const v = [rng.int(16), 2 ** rng.int(32), 0xffff_ffff, ARENA + rng.int(ARENA_SIZE), rng.next(), rng.next()][
    rng.int(6)
  ]!;
  return v >= RAM_BASE && v < ARENA ? (v ^ 0x4000_0000) >>> 0 : v;
}

const widthOf = (rng: Rng): AccessWidth => ([1, 2, 4] as const)[rng.int(3)]!;

/** A burst of random accesses to random device windows; biased to the register files at their starts. */
export function mmioBurst(b: Board): void {
  const rng = b.rng;
  for (let n = 1 + rng.int(40); n > 0; n--) {
    const w = WINDOWS[rng.int(WINDOWS.length)]!;
    const off = rng.int(4) === 0 ? rng.int(w.size) : rng.int(Math.min(w.size, 0x200));
    const width = widthOf(rng);
    if (rng.int(2)) b.read(w.base + off, width);
    else b.write(w.base + off, width, value(rng));
  }
}

/** Bump allocation in the arena, and the device-writable bytes of what is offered. */
class Offer {
  private next = ARENA;
  readonly writable = new Uint8Array(ARENA_SIZE);

  constructor(private readonly b: Board) {}

  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + len > ARENA + ARENA_SIZE) return ARENA; // full: overlap is fine, the bytes are random anyway
    this.next = at + len;
    return at;
  }

  mayWrite(addr: number, len: number): void {
    const from = Math.max(addr, ARENA) - ARENA;
    const to = Math.min(addr + len, ARENA + ARENA_SIZE) - ARENA;
    if (to > from) this.writable.fill(1, from, to);
  }

  private get view(): DataView {
    return this.b.machine.ram.view;
  }

  u16(addr: number, v: number): void {
    this.view.setUint16(addr - RAM_BASE, v, true);
  }

  u32(addr: number, v: number): void {
    this.view.setUint32(addr - RAM_BASE, v >>> 0, true);
  }

  bytes(addr: number, data: Uint8Array): void {
    this.b.machine.ram.bytes.set(data, addr - RAM_BASE);
  }

  /** Writes descriptor `i` of `table`: a buffer of a random kind, random flags, a random next. */
  descriptor(table: number, i: number, count: number, depth: number): void {
    const rng = this.b.rng;
    let addr: number;
    let hi = 0;
    let len = 1 + rng.int(rng.int(4) === 0 ? 4096 : 64);
    let flags = (rng.int(3) === 0 ? DESC_F_NEXT : 0) | (rng.int(2) ? DESC_F_WRITE : 0);
    switch (rng.int(24)) {
      case 0:
        addr = RAM_END - rng.int(64); // straddles the end of RAM
        break;
      case 1:
        addr = value(rng); // anywhere: outside RAM mostly
        break;
      case 2:
        addr = this.alloc(len);
        hi = 1 + rng.int(4); // above 4 GiB
        break;
      case 3:
        addr = this.alloc(64);
        len = rng.int(2) ? 0xffff_ffff : 0x8000_0000 + rng.int(2 ** 31); // huge
        break;
      case 4: {
        // An indirect table, which may nest another or chain in a loop.
        const n = 1 + rng.int(8);
        addr = this.alloc(16 * n);
        len = rng.int(6) === 0 ? 16 * n + rng.int(16) : 16 * n;
        flags = DESC_F_INDIRECT | (rng.int(6) === 0 ? DESC_F_NEXT : 0) | (rng.int(6) === 0 ? DESC_F_WRITE : 0);
        if (depth < 2) for (let k = 0; k < n; k++) this.descriptor(addr, k, n, depth + 1);
        break;
      }
      default:
        addr = this.alloc(len, 1);
        this.bytes(addr, rng.bytes(len));
        if (len >= 16 && rng.int(2)) this.bytes(addr, blkHeader(rng)); // a request virtio-blk may act on
    }
    if (flags & DESC_F_WRITE && hi === 0) this.mayWrite(addr, len);
    const next = rng.int(8) === 0 ? rng.int(0x10000) : rng.int(count);
    const d = table + 16 * i;
    this.u32(d, addr);
    this.u32(d + 4, hi);
    this.u32(d + 8, len);
    this.u16(d + 12, flags);
    this.u16(d + 14, next);
  }
}

/** A virtio-blk request header: a known type (or not), a sector near the start, near the end or anywhere. */
function blkHeader(rng: Rng): Uint8Array {
  const h = new DataView(new ArrayBuffer(16));
  const types = [0, 1, 4, 8, 11, 13, rng.next()];
  h.setUint32(0, types[rng.int(types.length)]!, true);
  const sectors = [rng.int(64), BLK_SECTORS - rng.int(4), rng.next(), 2 ** 32 - 1];
  h.setUint32(8, sectors[rng.int(sectors.length)]!, true);
  h.setUint32(12, rng.int(8) === 0 ? rng.next() : 0, true);
  return new Uint8Array(h.buffer);
}

/** One virtqueue case on a random slot (an empty one now and then). Returns whether a device broke. */
function virtqueueCase(b: Board): boolean {
  const rng = b.rng;
  const slot = rng.int(8) === 0 ? 5 + rng.int(3) : rng.int(5);
  const base = MemoryMap.virtio.base + slot * MemoryMap.virtio.size;
  const r = (reg: number): number => b.read(base + reg, 4);
  const w = (reg: number, v: number): void => b.write(base + reg, 4, v);
  // Every slot starts over, so no queue left from an earlier case writes into this one's arena.
  for (let s = 0; s < 5; s++) b.write(MemoryMap.virtio.base + s * MemoryMap.virtio.size + MmioReg.STATUS, 4, 0);
  const offer = new Offer(b);
  const mmio = b.machine.virtio[slot]!.mmio;
  const queues = mmio.queues.length;
  const q = rng.int(10) === 0 ? queues + rng.int(3) : rng.int(Math.max(1, queues));
  const max = mmio.queues[q]?.maxSize ?? 8;
  const size = rng.int(10) === 0 ? value(rng) & 0xffff : 2 ** rng.int(Math.log2(max) + 1);
  const n = Math.min(size, 256) || 1;
  const desc = offer.alloc(16 * n);
  const avail = offer.alloc(6 + 2 * n, 2);
  const used = offer.alloc(6 + 8 * n, 4);
  const ring = (addr: number): number => (rng.int(12) === 0 ? value(rng) : addr);
  const usedAt = ring(used);

  const steps: Array<() => void> = [
    () => w(MmioReg.STATUS, Status.ACKNOWLEDGE | Status.DRIVER),
    () => {
      w(MmioReg.DEVICE_FEATURES_SEL, 0);
      const lo = r(MmioReg.DEVICE_FEATURES);
      w(MmioReg.DEVICE_FEATURES_SEL, 1);
      const hiBits = r(MmioReg.DEVICE_FEATURES);
      w(MmioReg.DRIVER_FEATURES_SEL, 0);
      w(MmioReg.DRIVER_FEATURES, rng.int(8) === 0 ? value(rng) : lo & rng.next());
      w(MmioReg.DRIVER_FEATURES_SEL, rng.int(8) === 0 ? value(rng) : 1);
      w(MmioReg.DRIVER_FEATURES, rng.int(8) === 0 ? value(rng) : hiBits);
    },
    () => w(MmioReg.STATUS, r(MmioReg.STATUS) | Status.FEATURES_OK),
    () => {
      w(MmioReg.QUEUE_SEL, q);
      w(MmioReg.QUEUE_NUM, size);
      w(MmioReg.QUEUE_DESC_LOW, ring(desc));
      w(MmioReg.QUEUE_DRIVER_LOW, ring(avail));
      w(MmioReg.QUEUE_DEVICE_LOW, usedAt);
      if (rng.int(20) === 0) w(MmioReg.QUEUE_DESC_HIGH + 8 * rng.int(3), 1 + rng.int(4));
      w(MmioReg.QUEUE_READY, 1);
    },
    () => w(MmioReg.STATUS, r(MmioReg.STATUS) | Status.DRIVER_OK),
  ];
  // Now and then the steps come out of order, twice, or not at all.
  for (let k = 0; k < 4; k++)
    if (rng.int(8) === 0) steps.splice(rng.int(steps.length), 0, steps[rng.int(steps.length)]!);
  if (rng.int(8) === 0) steps.splice(rng.int(steps.length), 1);
  if (rng.int(8) === 0) steps.reverse();
  for (const step of steps) step();

  for (let i = 0; i < n; i++) offer.descriptor(desc, i, n, 0);
  const jump = rng.int(20) === 0 ? n + 1 + rng.int(0x10000 - n - 1) : 1 + rng.int(n);
  offer.u16(avail, rng.int(4) === 0 ? 1 : 0); // NO_INTERRUPT now and then
  offer.u16(avail + 2, jump);
  for (let i = 0; i < n; i++) offer.u16(avail + 4 + 2 * i, rng.int(8) === 0 ? rng.int(0x10000) : rng.int(n));
  offer.u16(avail + 4 + 2 * n, rng.int(0x10000)); // used_event
  offer.mayWrite(usedAt, 6 + 8 * n);

  const ram = b.machine.ram.bytes;
  const before = ram.slice(0, ARENA + ARENA_SIZE - RAM_BASE);
  w(MmioReg.QUEUE_NOTIFY, rng.int(10) === 0 ? value(rng) : q);
  if (slot === 1) b.peer.send(rng.bytes(14 + rng.int(1500)));
  if (slot === 3) b.console.receive(rng.bytes(1 + rng.int(64)));
  if (slot === 4) b.input.send(keyPress([1 + rng.int(100)]));

  for (let i = 0; i < before.length; i++) {
    if (ram[i] === before[i]) continue;
    const a = RAM_BASE + i;
    if (i === COUNTER - RAM_BASE || (a >= ARENA && offer.writable[a - ARENA])) continue;
    throw new Error(`${mmio.name}: RAM at 0x${a.toString(16)} changed outside the buffers offered as writable`);
  }
  if (!mmio.broken) return false;
  if (!(r(MmioReg.STATUS) & Status.DEVICE_NEEDS_RESET))
    throw new Error(`${mmio.name}: broken without DEVICE_NEEDS_RESET`);
  if (!(r(MmioReg.INTERRUPT_STATUS) & VIRTIO_INT_CONFIG))
    throw new Error(`${mmio.name}: broken without a config interrupt`);
  w(MmioReg.STATUS, 0);
  if (r(MmioReg.STATUS) !== 0 || mmio.broken) throw new Error(`${mmio.name}: reset did not recover the device`);
  return true;
}

/** After a reset, the RNG serves a well-formed request: the transport works as before. */
export function rngRequest(b: Board): void {
  const base = MemoryMap.virtio.base + RNG_SLOT * MemoryMap.virtio.size;
  const w = (reg: number, v: number): void => b.write(base + reg, 4, v);
  const offer = new Offer(b);
  const [desc, avail, used, buf] = [offer.alloc(16), offer.alloc(6, 2), offer.alloc(14, 4), offer.alloc(32)];
  w(MmioReg.STATUS, 0);
  w(MmioReg.STATUS, Status.ACKNOWLEDGE | Status.DRIVER);
  w(MmioReg.DRIVER_FEATURES_SEL, 1);
  w(MmioReg.DRIVER_FEATURES, 1); // VERSION_1
  w(MmioReg.STATUS, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK);
  w(MmioReg.QUEUE_SEL, 0);
  w(MmioReg.QUEUE_NUM, 1);
  w(MmioReg.QUEUE_DESC_LOW, desc);
  w(MmioReg.QUEUE_DRIVER_LOW, avail);
  w(MmioReg.QUEUE_DEVICE_LOW, used);
  w(MmioReg.QUEUE_READY, 1);
  w(MmioReg.STATUS, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK | Status.DRIVER_OK);
  offer.u32(desc, buf);
  offer.u32(desc + 4, 0);
  offer.u32(desc + 8, 32);
  offer.u16(desc + 12, DESC_F_WRITE);
  offer.u16(avail + 2, 1);
  offer.u16(avail + 4, 0);
  offer.u16(used + 2, 0);
  w(MmioReg.QUEUE_NOTIFY, 0);
  const done = b.machine.ram.view.getUint16(used + 2 - RAM_BASE, true);
  if (done !== 1) throw new Error('virtio-rng did not serve a good request after the fuzz case');
}

/** Runs `cases` board cases (half MMIO bursts, half virtqueue cases) for one seed; FuzzFailure on any objection. */
export function fuzzBoard(seed: number, cases: number): BoardFuzzResult {
  const rng = new Rng(seed);
  const b = new Board(rng);
  let broken = 0;
  for (let c = 0; c < cases; c++) {
    const vq = rng.int(2) === 0;
    try {
      if (!vq) mmioBurst(b);
      else if (virtqueueCase(b)) {
        broken++;
        rngRequest(b);
      }
      b.run();
    } catch (e) {
      throw new FuzzFailure(seed, 'crash', `case ${c} (${vq ? 'virtqueue' : 'MMIO'}): ${String(e)}`, { cause: e });
    }
  }
  return { cases, mmioAccesses: b.accesses, broken };
}
