// The serial console of an instance: its recent output read back from the log file the VM
// process writes (GetConsoleOutput, like Nova's console.log), and the live console, a second
// control connection switched to raw bytes with the `console` command (StreamConsole).
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { QmpClient } from './qmp-client.js';

/** How much of the log is read back at most, as Nova caps console output (MAX_CONSOLE_BYTES). */
export const CONSOLE_TAIL_BYTES = 256 * 1024;

/** The end of the serial log, the last `lines` lines when given; '' when there is no log yet. */
export async function readConsoleTail(path: string, lines?: number): Promise<string> {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - CONSOLE_TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      text = buf.toString('utf8');
      // Cut at the first line break so the output does not start mid-line.
      if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  if (lines === undefined) return text;
  if (lines === 0) return '';
  const all = text.split('\n');
  // A trailing newline leaves an empty last element that is not a line of its own.
  const trailing = all.at(-1) === '' ? 1 : 0;
  return all.slice(Math.max(0, all.length - trailing - lines)).join('\n');
}

/** Opens the VM's live serial console: a raw byte stream both ways, plus bytes already received. */
export async function openConsole(controlSocket: string): Promise<{ socket: Socket; initial: Buffer }> {
  const qmp = await QmpClient.connect(controlSocket, 5000);
  try {
    return await qmp.console();
  } catch (err) {
    qmp.close();
    throw err;
  }
}
