// Wall-clock time with sub-millisecond resolution, to time the guest's pause from the source's
// pause to the destination's resume: two processes, maybe two hosts. performance.timeOrigin comes
// from two clock readings taken at process start, which a busy host can set a millisecond or
// more apart (we saw the destination resume "before" the source paused). Instead, the offset of
// the wall clock from the monotonic one is read at the instant Date.now() ticks, keeping the
// tightest of a few readings: a few milliseconds of spinning, once per process.

let offset: number | undefined;

/** Wall-clock ms (as Date.now()) with performance.now()'s resolution. */
export function wallNow(): number {
  offset ??= calibrate();
  return offset + performance.now();
}

function calibrate(): number {
  let best = { width: Infinity, offset: performance.timeOrigin };
  for (let i = 0; i < 3; i++) {
    const start = Date.now();
    let before = performance.now();
    let tick = Date.now();
    while (tick === start) {
      before = performance.now();
      tick = Date.now();
    }
    const after = performance.now();
    // Date.now() became `tick` between `before` and `after`.
    if (after - before < best.width) best = { width: after - before, offset: tick - (before + after) / 2 };
  }
  return best.offset;
}
