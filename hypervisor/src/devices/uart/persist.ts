// The UART's snapshot section: every register, the RX FIFO, the host-side input queue and
// the THR-empty interrupt latch. IIR and the irq level are derived and recomputed on restore.
import { expectSection, StateError, type StateSection } from '../../state/section.js';

export const UART_STATE_VERSION = 1;

/** The 8-bit registers a section carries, in the order they are saved. */
export const UART_REGISTERS = ['rbr', 'ier', 'fcr', 'lcr', 'mcr', 'lsr', 'msr', 'scr', 'dll', 'dlm'] as const;

export type UartRegisters = Record<(typeof UART_REGISTERS)[number], number>;

export interface UartState extends UartRegisters {
  thrIpending: boolean;
  rxFifo: number[];
  hostQueue: number[];
}

/** Checks a section for the UART called `name` with a receive FIFO of `fifoSize`; returns its state, bytes masked. */
export function parseUartState(section: StateSection, name: string, fifoSize: number): UartState {
  const d = expectSection<UartState>(section, name, UART_STATE_VERSION);
  if (!Array.isArray(d.rxFifo) || d.rxFifo.length > fifoSize || !Array.isArray(d.hostQueue)) {
    throw new StateError('uart state: bad receive FIFO or host queue');
  }
  const regs = Object.fromEntries(UART_REGISTERS.map((r) => [r, d[r] & 0xff])) as UartRegisters;
  return {
    ...regs,
    thrIpending: d.thrIpending === true,
    rxFifo: d.rxFifo.map((b) => b & 0xff),
    hostQueue: d.hostQueue,
  };
}
