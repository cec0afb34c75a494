// Figures from noisy hosts: medians of several runs, and CPU time read from /proc so it works for any child process.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The median of the finite values (NaN when there are none). */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
}

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime in USER_HZ ticks
  } catch {
    return 0;
  }
}

/** The share of one core `pid` uses over the next `seconds`, in percent. */
export async function idleCpuPercent(pid: number, seconds = 10): Promise<number> {
  const c0 = processCpuMs(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return ((processCpuMs(pid) - c0) / (performance.now() - t0)) * 100;
}
