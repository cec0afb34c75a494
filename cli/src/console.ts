// The serial console on the terminal, as QEMU's -nographic does it: raw keystrokes go to the
// guest, and Ctrl-A is the escape key (Ctrl-A X quits, Ctrl-A Ctrl-A sends one Ctrl-A).
const CTRL_A = 0x01;

export interface AttachedConsole {
  detach(): void;
}

export function attachTerminal(send: (bytes: Uint8Array) => void, quit: () => void): AttachedConsole {
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  let escape = false;
  const onData = (chunk: Buffer): void => {
    const pass: number[] = [];
    for (const b of chunk) {
      if (escape) {
        escape = false;
        if (b === 0x78 || b === 0x58) {
          quit();
          return;
        }
        if (b === CTRL_A) pass.push(CTRL_A);
        continue;
      }
      if (raw && b === CTRL_A) escape = true;
      else pass.push(b);
    }
    if (pass.length) send(Uint8Array.from(pass));
  };
  stdin.on('data', onData);
  stdin.resume();
  return {
    detach(): void {
      stdin.off('data', onData);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
