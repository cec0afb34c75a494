// An ns16550a UART as QEMU `virt` has it at 0x1000_0000 (reg-shift 0, 8-bit registers, irq 10),
// following QEMU's serial.c where the datasheet leaves room.
//
// Transmission is instantaneous: a byte written to THR goes straight to `output`, so THR and
// the transmitter are empty again by the next guest access (LSR.THRE and TEMT read 1, and the
// THRE interrupt re-arms at once, as in QEMU).
//
// Reception: host input goes into an unbounded host-side queue that refills the 16-byte RX
// FIFO (or the single holding register with FIFOs off) as the guest drains it. An interactive
// console thus never loses keystrokes and host input never overruns; OE only happens in
// loopback mode, where the transmitter feeds the receiver directly.
import type { AccessWidth, IrqLine, MmioDevice } from '../../bus/device.js';
import type { Persistent, StateSection } from '../../state/section.js';
import { parseUartState, UART_REGISTERS, UART_STATE_VERSION, type UartRegisters, type UartState } from './persist.js';

/** Register offsets (DLAB selects DLL/DLM at 0/1). */
export const UartReg = {
  RBR_THR_DLL: 0,
  IER_DLM: 1,
  IIR_FCR: 2,
  LCR: 3,
  MCR: 4,
  LSR: 5,
  MSR: 6,
  SCR: 7,
} as const;

export const IER_RDI = 0x01; // received data available
export const IER_THRI = 0x02; // THR empty (ETBEI)
export const IER_RLSI = 0x04; // receiver line status
export const IER_MSI = 0x08; // modem status

export const IIR_NO_INT = 0x01;
export const IIR_ID_MASK = 0x0e;
export const IIR_MSI = 0x00;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_RLSI = 0x06;
export const IIR_CTI = 0x0c; // character timeout
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_FE = 0x01;
export const FCR_RFR = 0x02; // clear RX FIFO
export const FCR_XFR = 0x04; // clear TX FIFO
export const FCR_DMS = 0x08;
export const FCR_TRIGGER = 0xc0;

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
/** The error/break bits that raise a receiver line status interrupt. */
export const LSR_INT_ANY = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

export const MSR_DELTA_ANY = 0x0f;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

export const UART_FIFO_SIZE = 16;

const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

/** An unbounded FIFO of bytes kept as chunks, so large pastes cost O(1) per byte. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // read position in chunks[0]
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes.slice()); // copy: the caller may reuse its buffer
    this.count += bytes.length;
  }

  /** Removes and returns the oldest byte; the queue must not be empty. */
  shift(): number {
    const first = this.chunks[0]!;
    const b = first[this.head++]!;
    if (this.head === first.length) {
      this.chunks.shift();
      this.head = 0;
    }
    this.count--;
    return b;
  }

  toArray(): number[] {
    const out: number[] = [];
    this.chunks.forEach((c, i) => {
      for (let j = i === 0 ? this.head : 0; j < c.length; j++) out.push(c[j]!);
    });
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.count = 0;
  }
}

export class Uart implements MmioDevice, Persistent {
  // Register state, reset values as QEMU's.
  private rbr = 0;
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private lsr = LSR_TEMT | LSR_THRE;
  private msr = MSR_DCD | MSR_DSR | MSR_CTS;
  private scr = 0;
  private dll = 0x0c;
  private dlm = 0;
  /** The THR-empty interrupt condition (set when THR empties, cleared by IIR read or THR write). */
  private thrIpending = false;
  /** Received bytes the guest can read now: up to 16 with FIFOs on, 1 with them off. */
  private rxFifo: number[] = [];
  /** Host input not yet admitted to rxFifo. */
  private readonly hostQueue = new ByteQueue();

  /** IIR as derived from the state by updateIrq(). */
  private iir = IIR_NO_INT;
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly output: (byte: number) => void,
    readonly name = 'uart0',
  ) {}

  /**
   * Back to the power-on state (QEMU's serial reset): registers, FIFOs and interrupt. Host input
   * not yet admitted stays queued (it is on the host's side of the line) and fills the receiver.
   */
  reset(): void {
    this.rbr = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = MCR_OUT2;
    this.lsr = LSR_TEMT | LSR_THRE;
    this.msr = MSR_DCD | MSR_DSR | MSR_CTS;
    this.scr = 0;
    this.dll = 0x0c;
    this.dlm = 0;
    this.thrIpending = false;
    this.rxFifo = [];
    this.refill();
    this.updateIrq(true);
  }

  /** Host input (console keystrokes, pasted text): queued without limit, fed to the guest as it reads. */
  receive(bytes: Uint8Array): void {
    this.hostQueue.push(bytes);
    this.refill();
    this.updateIrq(false);
  }

  /**
   * A break condition on the line, as QEMU's serial_receive_break: a NUL byte with LSR.BI
   * (Linux takes break + key as a magic SysRq). LSR's error bits describe the byte at the head
   * of the FIFO, so this waits its turn: with earlier input still unread it does nothing and
   * returns false. Not in loopback, where the line is cut.
   */
  receiveBreak(): boolean {
    if (this.pendingInput > 0 || this.mcr & MCR_LOOP) return false;
    this.rxFifo.push(0);
    this.lsr |= LSR_DR | LSR_BI;
    this.updateIrq(false);
    return true;
  }

  /**
   * Takes the next received byte (-1 if none) for the SBI legacy console's getchar, which
   * reads the same serial line as the UART: oldest first, so both paths see one stream.
   */
  takeHostInput(): number {
    if (this.rxFifo.length === 0 && (this.mcr & MCR_LOOP || this.hostQueue.length === 0)) return -1;
    return this.readRbr();
  }

  /** Bytes received from the host that the guest has not read yet. */
  get pendingInput(): number {
    return this.hostQueue.length + this.rxFifo.length;
  }

  read(offset: number, _width: AccessWidth): number {
    switch (offset) {
      case UartReg.RBR_THR_DLL:
        return this.lcr & LCR_DLAB ? this.dll : this.readRbr();
      case UartReg.IER_DLM:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case UartReg.IIR_FCR: {
        const v = this.iir;
        // Reading IIR acknowledges a THR-empty interrupt when that is what it reports.
        if ((v & IIR_ID_MASK) === IIR_THRI && !(v & IIR_NO_INT)) {
          this.thrIpending = false;
          this.updateIrq(false);
        }
        return v;
      }
      case UartReg.LCR:
        return this.lcr;
      case UartReg.MCR:
        return this.mcr;
      case UartReg.LSR: {
        const v = this.lsr;
        // Reading LSR clears the error bits (and their interrupt).
        if (v & LSR_INT_ANY) {
          this.lsr &= ~LSR_INT_ANY;
          this.updateIrq(false);
        }
        return v;
      }
      case UartReg.MSR:
        return this.readMsr();
      case UartReg.SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    value &= 0xff;
    switch (offset) {
      case UartReg.RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) this.dll = value;
        else this.writeThr(value);
        return;
      case UartReg.IER_DLM:
        if (this.lcr & LCR_DLAB) this.dlm = value;
        else this.writeIer(value);
        return;
      case UartReg.IIR_FCR:
        this.writeFcr(value);
        return;
      case UartReg.LCR:
        this.lcr = value;
        return;
      case UartReg.MCR: {
        const wasLoop = this.mcr & MCR_LOOP;
        this.mcr = value & 0x1f;
        if (wasLoop && !(this.mcr & MCR_LOOP)) {
          this.refill(); // the receiver is connected to the host again
          this.updateIrq(false);
        }
        return;
      }
      case UartReg.SCR:
        this.scr = value;
        return;
      default:
        return; // LSR and MSR are read-only
    }
  }

  saveState(): StateSection<UartState> {
    const regs = Object.fromEntries(UART_REGISTERS.map((r) => [r, this[r]])) as UartRegisters;
    return {
      name: this.name,
      version: UART_STATE_VERSION,
      data: { ...regs, thrIpending: this.thrIpending, rxFifo: [...this.rxFifo], hostQueue: this.hostQueue.toArray() },
    };
  }

  restoreState(section: StateSection): void {
    const s = parseUartState(section, this.name, UART_FIFO_SIZE);
    for (const r of UART_REGISTERS) this[r] = s[r];
    this.thrIpending = s.thrIpending;
    this.rxFifo = s.rxFifo;
    this.hostQueue.clear();
    this.hostQueue.push(Uint8Array.from(s.hostQueue));
    this.updateIrq(true);
  }

  private get fifoEnabled(): boolean {
    return (this.fcr & FCR_FE) !== 0;
  }

  private readRbr(): number {
    if (this.rxFifo.length > 0) this.rbr = this.rxFifo.shift()!;
    this.refill();
    if (this.rxFifo.length === 0) this.lsr &= ~(LSR_DR | LSR_BI);
    this.updateIrq(false);
    return this.rbr;
  }

  private writeThr(value: number): void {
    if (this.mcr & MCR_LOOP) this.loopbackReceive(value);
    else this.output(value);
    // Sent at once: THR is empty again, so THRE (and its interrupt) come straight back.
    this.lsr |= LSR_THRE | LSR_TEMT;
    this.thrIpending = true;
    this.updateIrq(false);
  }

  private writeIer(value: number): void {
    const changed = (this.ier ^ value) & 0x0f;
    this.ier = value & 0x0f;
    // Enabling ETBEI while THR is empty raises the THRE interrupt even if an IIR read had
    // acknowledged it before (QEMU does this on the rising edge; Windows relies on it).
    if (changed & IER_THRI) this.thrIpending = (this.ier & IER_THRI) !== 0 && (this.lsr & LSR_THRE) !== 0;
    if (changed) this.updateIrq(false);
  }

  private writeFcr(value: number): void {
    if (value === this.fcr) return;
    // Switching the FIFOs on or off flushes both.
    if ((value ^ this.fcr) & FCR_FE) value |= FCR_RFR | FCR_XFR;
    if (value & FCR_RFR) {
      this.rxFifo = [];
      this.lsr &= ~(LSR_DR | LSR_BI);
    }
    if (value & FCR_XFR) {
      this.lsr |= LSR_THRE;
      this.thrIpending = true;
    }
    this.fcr = value & (FCR_TRIGGER | FCR_DMS | FCR_FE);
    this.refill(); // bytes waiting on the host side are not flushed: they had not "arrived" yet
    this.updateIrq(false);
  }

  private readMsr(): number {
    // In loopback the modem outputs are wired to the inputs: OUT2→DCD, OUT1→RI, RTS→CTS, DTR→DSR.
    if (this.mcr & MCR_LOOP) {
      return ((this.mcr & (MCR_OUT1 | MCR_OUT2)) << 4) | ((this.mcr & MCR_RTS) << 3) | ((this.mcr & MCR_DTR) << 5);
    }
    const v = this.msr;
    if (v & MSR_DELTA_ANY) {
      this.msr &= ~MSR_DELTA_ANY;
      this.updateIrq(false);
    }
    return v;
  }

  private loopbackReceive(byte: number): void {
    if (this.rxFifo.length >= this.rxCapacity()) {
      this.lsr |= LSR_OE;
      // With FIFOs the new byte is lost; without, it overwrites the holding register.
      if (this.fifoEnabled) return;
      this.rxFifo.shift();
    }
    this.rxFifo.push(byte);
    this.lsr |= LSR_DR;
  }

  private rxCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  /** Moves host input into the receiver while there is room (not in loopback: the line is cut). */
  private refill(): void {
    if (this.mcr & MCR_LOOP) return;
    const cap = this.rxCapacity();
    while (this.rxFifo.length < cap && this.hostQueue.length > 0) this.rxFifo.push(this.hostQueue.shift());
    if (this.rxFifo.length > 0) this.lsr |= LSR_DR;
  }

  /** Recomputes IIR by the 16550's priorities and drives the irq line. */
  private updateIrq(force: boolean): void {
    let id = IIR_NO_INT;
    if (this.ier & IER_RLSI && this.lsr & LSR_INT_ANY) {
      id = IIR_RLSI;
    } else if (this.ier & IER_RDI && this.lsr & LSR_DR) {
      // Below the trigger level a real 16550 reports a character timeout after 4 character
      // times of silence; here the timeout is taken to have elapsed at once.
      const trigger = TRIGGER_LEVELS[(this.fcr & FCR_TRIGGER) >>> 6]!;
      id = this.fifoEnabled && this.rxFifo.length < trigger ? IIR_CTI : IIR_RDI;
    } else if (this.ier & IER_THRI && this.thrIpending) {
      id = IIR_THRI;
    } else if (this.ier & IER_MSI && this.msr & MSR_DELTA_ANY) {
      id = IIR_MSI;
    }
    this.iir = id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
    const level = id !== IIR_NO_INT;
    if (level === this.irqLevel && !force) return;
    this.irqLevel = level;
    this.irq.set(level);
  }
}
