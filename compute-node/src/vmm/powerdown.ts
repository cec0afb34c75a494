// system_powerdown: asking the guest to shut itself down, as pressing the power button would.
//
// The `virt` board has no ACPI or power button, and the guest kernel has no input devices, so
// the ctrl-alt-del path that would make the kernel signal init (SIGINT; our init powers off
// on it) cannot be reached. What Linux 6.1 does accept from our devices is a magic SysRq on
// the serial console (CONFIG_MAGIC_SYSRQ_SERIAL): a line break followed by a key. The request
// is the classic orderly sequence: s (sync every filesystem), u (remount them read-only), and,
// once the kernel reports the remount done, o (power off through SBI SRST). A guest that is
// not Linux sees a NUL byte with a break and ignores it, as a guest without ACPI ignores
// QEMU's power button.
import type { Machine } from '@hypernova/hypervisor';

/** How long to wait for the kernel to finish syncing and remounting before powering off anyway. */
const REMOUNT_WAIT_MS = 5000;
const RETRY_MS = 20;
/** Linux drops a SysRq key that comes more than 5 s (guest time) after the break. */
const KEY_TIMEOUT_MS = 2000;

export interface PowerdownTarget {
  uart: Machine['uart'];
  sendInput(bytes: Uint8Array): void;
  /** Resolves true once the guest prints `text`, false after `ms`. */
  waitForConsole(text: string, ms: number): Promise<boolean>;
  /** False once the VM is gone: the sequence stops. */
  readonly alive: boolean;
}

/** Sends break + key, waiting its turn behind input the guest has not read yet. */
export async function sendSysrq(t: PowerdownTarget, key: string): Promise<boolean> {
  const deadline = performance.now() + KEY_TIMEOUT_MS;
  while (t.alive && !t.uart.receiveBreak()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  if (!t.alive) return false;
  t.sendInput(Buffer.from(key, 'latin1'));
  return true;
}

export async function requestPowerdown(t: PowerdownTarget): Promise<void> {
  const remounted = t.waitForConsole('Emergency Remount complete', REMOUNT_WAIT_MS);
  await sendSysrq(t, 's');
  await sendSysrq(t, 'u');
  await remounted;
  await sendSysrq(t, 'o');
}
