// Reads along the serial console for the few things the VMM reacts to: a kernel panic
// (GUEST_PANICKED), and messages a host request waits for (the powerdown sequence).
// Matches may straddle output batches: a tail of the previous text is kept.

const TAIL = 256;

interface Waiter {
  text: string;
  resolve: (seen: boolean) => void;
  timer: NodeJS.Timeout;
}

export class ConsoleWatch {
  private tail = '';
  private waiters = new Set<Waiter>();
  private panicked = false;

  /** `onPanic` is called once per boot, with the panic line. */
  constructor(private readonly onPanic: (message: string) => void) {}

  feed(bytes: Uint8Array): void {
    const text = this.tail + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const start = this.tail.length;
    this.tail = text.slice(-TAIL);
    if (!this.panicked) {
      const at = text.indexOf('Kernel panic - not syncing');
      // Only on a complete line, so the reason is in the report.
      const eol = at < 0 ? -1 : text.indexOf('\n', at);
      if (eol >= 0 && eol >= start) {
        this.panicked = true;
        this.onPanic(text.slice(at, eol).trimEnd());
      }
    }
    for (const w of this.waiters) {
      const at = text.indexOf(w.text);
      if (at >= 0 && at + w.text.length > start) this.settle(w, true);
    }
  }

  /** A new boot: a new panic may be reported. */
  reset(): void {
    this.panicked = false;
  }

  /** Resolves true when `text` is printed, false after `timeoutMs`. */
  waitFor(text: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w: Waiter = { text, resolve, timer: setTimeout(() => this.settle(w, false), timeoutMs) };
      w.timer.unref();
      this.waiters.add(w);
    });
  }

  /** Gives up every wait (the VM is going away). */
  close(): void {
    for (const w of this.waiters) this.settle(w, false);
  }

  private settle(w: Waiter, seen: boolean): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.resolve(seen);
  }
}
