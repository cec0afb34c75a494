import assert from 'node:assert/strict';
import {
  IER_MSI,
  IER_RDI,
  IER_RLSI,
  IER_THRI,
  IIR_CTI,
  IIR_NO_INT,
  IIR_RDI,
  IIR_RLSI,
  IIR_THRI,
  LSR_BI,
  LSR_DR,
  LSR_OE,
  LSR_TEMT,
  LSR_THRE,
  Uart,
  UartReg as R,
} from '../../src/devices/uart/uart.js';
import { UART_STATE_VERSION } from '../../src/devices/uart/persist.js';
import { StateError } from '../../src/state/section.js';
import { FakeIrq, viaJson } from './fakes.js';

function setup() {
  const irq = new FakeIrq();
  const out: number[] = [];
  const uart = new Uart(irq, (b) => out.push(b));
  const rd = (reg: number) => uart.read(reg, 1);
  const wr = (reg: number, v: number) => uart.write(reg, 1, v);
  /** IIR's interrupt id (bits 0-3). */
  const iirId = () => rd(R.IIR_FCR) & 0x0f;
  return { irq, out, uart, rd, wr, iirId };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('UART ns16550a', () => {
  it('comes out of reset like QEMU’s', () => {
    const { rd } = setup();
    assert.equal(rd(R.LSR), LSR_THRE | LSR_TEMT);
    assert.equal(rd(R.IIR_FCR), IIR_NO_INT);
    assert.equal(rd(R.MCR), 0x08);
    assert.equal(rd(R.MSR), 0xb0);
    assert.equal(rd(R.IER_DLM), 0);
  });

  it('sends THR writes to the output at once', () => {
    const { wr, rd, out } = setup();
    for (const b of text('hi\n')) wr(R.RBR_THR_DLL, b);
    assert.deepEqual(out, [...text('hi\n')]);
    assert.equal(rd(R.LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
  });

  it('puts the divisor latch behind DLAB', () => {
    const { wr, rd, out } = setup();
    wr(R.LCR, 0x83);
    wr(R.RBR_THR_DLL, 0x01);
    wr(R.IER_DLM, 0x02);
    assert.equal(rd(R.RBR_THR_DLL), 0x01);
    assert.equal(rd(R.IER_DLM), 0x02);
    assert.deepEqual(out, [], 'DLL writes are not transmitted');
    wr(R.LCR, 0x03);
    assert.equal(rd(R.IER_DLM), 0, 'IER untouched');
    assert.equal(rd(R.LCR), 0x03);
  });

  it('keeps the scratch register', () => {
    const { wr, rd } = setup();
    wr(R.SCR, 0x5a);
    assert.equal(rd(R.SCR), 0x5a);
  });

  it('receives through the holding register with FIFOs off, one byte at a time, losing nothing', () => {
    const { uart, rd } = setup();
    uart.receive(text('abc'));
    assert.equal(uart.pendingInput, 3);
    const got: number[] = [];
    while (rd(R.LSR) & LSR_DR) got.push(rd(R.RBR_THR_DLL));
    assert.deepEqual(got, [...text('abc')]);
    assert.equal(rd(R.LSR) & LSR_OE, 0);
  });

  it('buffers 16 bytes in the RX FIFO and refills it from the host queue', () => {
    const { uart, rd, wr } = setup();
    wr(R.IIR_FCR, 0x01);
    assert.equal(rd(R.IIR_FCR), 0xc1, 'IIR shows FIFOs enabled');
    const input = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
    uart.receive(input);
    const { rxFifo, hostQueue } = uart.saveState().data;
    assert.equal(rxFifo.length, 16);
    assert.equal(hostQueue.length, 24);
    const got: number[] = [];
    while (rd(R.LSR) & LSR_DR) got.push(rd(R.RBR_THR_DLL));
    assert.deepEqual(got, [...input]);
  });

  it('flushes the RX FIFO on FCR but keeps host input not yet admitted', () => {
    const { uart, rd, wr } = setup();
    wr(R.IIR_FCR, 0x01);
    uart.receive(Uint8Array.from({ length: 20 }, (_, i) => i));
    wr(R.IIR_FCR, 0x03);
    const got: number[] = [];
    while (rd(R.LSR) & LSR_DR) got.push(rd(R.RBR_THR_DLL));
    assert.deepEqual(got, [16, 17, 18, 19]);
  });

  it('signals received data: timeout below the trigger level, RDI at it', () => {
    const { uart, rd, wr, irq, iirId } = setup();
    wr(R.IER_DLM, IER_RDI);
    uart.receive(text('x'));
    assert.ok(irq.level);
    assert.equal(iirId(), IIR_RDI, 'FIFOs off: RDI');
    rd(R.RBR_THR_DLL);
    assert.ok(!irq.level);

    wr(R.IIR_FCR, 0x81); // FIFOs on, trigger at 8
    uart.receive(text('1234567'));
    assert.equal(iirId(), IIR_CTI);
    uart.receive(text('8'));
    assert.equal(iirId(), IIR_RDI);
    while (rd(R.LSR) & LSR_DR) rd(R.RBR_THR_DLL);
    assert.ok(!irq.level);
    assert.equal(iirId(), IIR_NO_INT);
  });

  it('raises THRE when ETBEI is enabled with THR empty; IIR read acknowledges it; THR write re-arms it', () => {
    const { rd, wr, irq, iirId } = setup();
    wr(R.IER_DLM, IER_THRI);
    assert.ok(irq.level);
    assert.equal(iirId(), IIR_THRI);
    assert.ok(!irq.level, 'reading IIR when it reports THRE clears it');
    assert.equal(iirId(), IIR_NO_INT);
    wr(R.IER_DLM, IER_THRI);
    assert.ok(!irq.level, 'rewriting the same IER does not re-raise');
    wr(R.RBR_THR_DLL, 0x41);
    assert.ok(irq.level, 'THR empties again at once');
    wr(R.IER_DLM, 0);
    assert.ok(!irq.level);
    wr(R.IER_DLM, IER_THRI);
    assert.ok(irq.level, 'enabling ETBEI again re-raises it');
    rd(R.IIR_FCR);
  });

  it('ranks received data above THRE, and reading IIR for RDI leaves THRE pending', () => {
    const { uart, rd, wr, irq, iirId } = setup();
    wr(R.IER_DLM, IER_THRI | IER_RDI);
    uart.receive(text('z'));
    assert.equal(iirId(), IIR_RDI);
    rd(R.RBR_THR_DLL);
    assert.equal(iirId(), IIR_THRI);
    assert.ok(!irq.level);
  });

  it('loops back in loopback mode, with overrun and a line status interrupt', () => {
    const { uart, rd, wr, out, irq, iirId } = setup();
    wr(R.IIR_FCR, 0x01);
    wr(R.MCR, 0x10 | 0x0b);
    assert.equal(rd(R.MSR), 0x80 | 0x20 | 0x10, 'OUT2→DCD, DTR→DSR, RTS→CTS');
    uart.receive(text('host')); // the line is cut in loopback: held back
    for (let i = 0; i < 17; i++) wr(R.RBR_THR_DLL, i);
    assert.deepEqual(out, []);
    wr(R.IER_DLM, IER_RLSI);
    assert.ok(irq.level);
    assert.equal(iirId(), IIR_RLSI);
    const lsr = rd(R.LSR);
    assert.ok(lsr & LSR_OE && lsr & LSR_DR);
    assert.equal(rd(R.LSR) & LSR_OE, 0, 'reading LSR clears OE');
    assert.ok(!irq.level);
    const got: number[] = [];
    while (rd(R.LSR) & LSR_DR) got.push(rd(R.RBR_THR_DLL));
    assert.deepEqual(
      got,
      Array.from({ length: 16 }, (_, i) => i),
      'the 17th byte was lost',
    );
    wr(R.MCR, 0x08);
    while (rd(R.LSR) & LSR_DR) got.push(rd(R.RBR_THR_DLL));
    assert.deepEqual(got.slice(16), [...text('host')], 'host input arrives once loopback ends');
    assert.equal(rd(R.MSR), 0xb0);
    wr(R.IER_DLM, IER_MSI);
    assert.ok(!irq.level, 'no modem status change to report');
  });

  it('takes 100 KB of host input through interrupts without losing or reordering a byte', () => {
    const { uart, rd, wr, irq } = setup();
    wr(R.IIR_FCR, 0xc7); // FIFOs on and cleared, trigger 14
    wr(R.IER_DLM, IER_RDI | IER_RLSI);
    const input = Uint8Array.from({ length: 100 * 1024 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    uart.receive(input.subarray(0, 60_000));
    uart.receive(input.subarray(60_000));
    const got = new Uint8Array(input.length);
    let n = 0;
    let interrupts = 0;
    while (irq.level) {
      interrupts++;
      const id = rd(R.IIR_FCR) & 0x0f;
      assert.ok(id === IIR_RDI || id === IIR_CTI, `unexpected IIR ${id}`);
      // Like Linux's 8250 driver: at most 256 characters per interrupt.
      for (let lsr = rd(R.LSR), budget = 256; lsr & LSR_DR && budget > 0; lsr = rd(R.LSR), budget--) {
        assert.equal(lsr & LSR_OE, 0, 'no overrun');
        got[n++] = rd(R.RBR_THR_DLL);
      }
    }
    assert.equal(n, input.length);
    assert.deepEqual(got, input);
    assert.equal(uart.pendingInput, 0);
    assert.equal(interrupts, Math.ceil(input.length / 256), 'the line stays up while data remains');
  });

  it('receives a break as a NUL byte with BI and a line status interrupt, after earlier input only', () => {
    const { uart, wr, rd, iirId, irq } = setup();
    wr(R.IIR_FCR, 0x01);
    wr(R.IER_DLM, IER_RDI | IER_RLSI);
    uart.receive(text('a'));
    assert.equal(uart.receiveBreak(), false, 'BI would describe the unread "a"');
    assert.equal(rd(R.RBR_THR_DLL), 0x61);
    assert.equal(uart.receiveBreak(), true);
    uart.receive(text('o'));
    assert.equal(iirId(), IIR_RLSI);
    assert.ok(irq.level);
    // Linux's 8250 reads LSR, then the byte: BI goes with the NUL, the next byte is plain.
    assert.equal(rd(R.LSR) & (LSR_BI | LSR_DR), LSR_BI | LSR_DR);
    assert.equal(rd(R.RBR_THR_DLL), 0);
    assert.equal(rd(R.LSR) & (LSR_BI | LSR_DR), LSR_DR);
    assert.equal(rd(R.RBR_THR_DLL), 0x6f);
    assert.equal(rd(R.LSR) & (LSR_BI | LSR_DR), 0);
  });

  it('hands host input to the SBI console getchar in the same order', () => {
    const { uart, rd, wr } = setup();
    wr(R.IIR_FCR, 0x01);
    uart.receive(text('ab'));
    assert.equal(uart.takeHostInput(), 0x61);
    assert.equal(rd(R.RBR_THR_DLL), 0x62);
    assert.equal(uart.takeHostInput(), -1);
    assert.equal(rd(R.LSR) & LSR_DR, 0);
  });

  it('saves and restores registers, FIFO, host queue and interrupt state', () => {
    const a = setup();
    a.wr(R.LCR, 0x80);
    a.wr(R.RBR_THR_DLL, 0x03);
    a.wr(R.LCR, 0x03);
    a.wr(R.IIR_FCR, 0x41);
    a.wr(R.SCR, 0x99);
    a.wr(R.IER_DLM, IER_RDI | IER_THRI);
    const input = Uint8Array.from({ length: 50 }, (_, i) => 100 + i);
    a.uart.receive(input);
    a.rd(R.RBR_THR_DLL);
    a.rd(R.RBR_THR_DLL);
    const section = viaJson(a.uart.saveState());
    assert.equal(section.name, 'uart0');
    assert.equal(section.version, UART_STATE_VERSION);
    assert.equal(section.data.rxFifo.length + section.data.hostQueue.length, 48);

    const b = setup();
    b.uart.restoreState(section);
    assert.equal(b.irq.level, a.irq.level);
    assert.deepEqual(b.uart.saveState(), a.uart.saveState());
    for (const reg of [R.LCR, R.SCR, R.IER_DLM, R.MCR, R.MSR]) assert.equal(b.rd(reg), a.rd(reg));
    // The same accesses now give the same results on both, byte for byte.
    const trace = (u: ReturnType<typeof setup>) => {
      const t: number[] = [];
      while (u.irq.level) {
        t.push(u.rd(R.IIR_FCR), u.rd(R.LSR));
        if (u.rd(R.LSR) & LSR_DR) t.push(u.rd(R.RBR_THR_DLL));
      }
      u.wr(R.LCR, 0x83);
      t.push(u.rd(R.RBR_THR_DLL));
      return t;
    };
    assert.deepEqual(trace(b), trace(a));
  });

  it('refuses sections of the wrong device, version or shape, changing nothing', () => {
    const { uart, wr } = setup();
    wr(R.SCR, 0x5a);
    uart.receive(Uint8Array.of(1, 2, 3));
    const s = uart.saveState();
    assert.throws(() => uart.restoreState({ ...s, name: 'plic' }), StateError);
    assert.throws(() => uart.restoreState({ ...s, version: 0 }), StateError);
    assert.throws(() => uart.restoreState({ ...s, data: { ...s.data, rxFifo: new Array(17).fill(0) } }), StateError);
    assert.deepEqual(uart.saveState(), s);
  });

  it('resets to power-on state, keeping host input that had not arrived', () => {
    const { uart, wr, rd, irq } = setup();
    wr(R.IIR_FCR, 0x01); // FIFOs on
    wr(R.LCR, 0x03);
    wr(R.MCR, 0x0b);
    wr(R.SCR, 0x5a);
    wr(R.IER_DLM, IER_RDI | IER_THRI);
    uart.receive(text('x'.repeat(20))); // 16 in the FIFO, 4 on the host side
    assert.ok(irq.level);
    uart.reset();
    assert.ok(!irq.level);
    assert.equal(rd(R.IER_DLM), 0);
    assert.equal(rd(R.LCR), 0);
    assert.equal(rd(R.MCR), 0x08);
    assert.equal(rd(R.SCR), 0);
    assert.equal(rd(R.MSR), 0xb0);
    assert.equal(rd(R.IIR_FCR), IIR_NO_INT, 'FIFOs off, no interrupt');
    // FIFOs off: one of the 4 waiting bytes in the holding register, the rest after it.
    assert.equal(rd(R.LSR) & LSR_DR, LSR_DR);
    let n = 0;
    while (rd(R.LSR) & LSR_DR) {
      assert.equal(rd(R.RBR_THR_DLL), 0x78);
      n++;
    }
    assert.equal(n, 4);
  });
});
