// The UART's snapshot section: every register, the RX FIFO, the host-side input queue and
// the THR-empty interrupt latch. IIR and the irq level are derived and recomputed on restore.
import { expectSection, StateError, type StateSection } from '../../state/section.js';
import { UART_FIFO_SIZE, type Uart } from './uart.js';

export const UART_STATE_VERSION = 1;

export interface UartState {
  rbr: number;
  ier: number;
  fcr: number;
  lcr: number;
  mcr: number;
  lsr: number;
  msr: number;
  scr: number;
  dll: number;
  dlm: number;
  thrIpending: boolean;
  rxFifo: number[];
  hostQueue: number[];
}

const REGISTERS = ['rbr', 'ier', 'fcr', 'lcr', 'mcr', 'lsr', 'msr', 'scr', 'dll', 'dlm'] as const;

export function saveUart(dev: Uart): StateSection<UartState> {
  const regs = Object.fromEntries(REGISTERS.map((r) => [r, dev[r]])) as Record<(typeof REGISTERS)[number], number>;
  return {
    name: dev.name,
    version: UART_STATE_VERSION,
    data: { ...regs, thrIpending: dev.thrIpending, rxFifo: [...dev.rxFifo], hostQueue: dev.hostQueue.toArray() },
  };
}

export function restoreUart(dev: Uart, section: StateSection): void {
  const d = expectSection<UartState>(section, dev.name, UART_STATE_VERSION);
  if (!Array.isArray(d.rxFifo) || d.rxFifo.length > UART_FIFO_SIZE || !Array.isArray(d.hostQueue)) {
    throw new StateError('uart state: bad receive FIFO or host queue');
  }
  for (const r of REGISTERS) dev[r] = d[r] & 0xff;
  dev.thrIpending = d.thrIpending === true;
  dev.rxFifo = d.rxFifo.map((b) => b & 0xff);
  dev.hostQueue.clear();
  dev.hostQueue.push(Uint8Array.from(d.hostQueue));
  dev.resync();
}
