// system_powerdown: asking the guest to shut itself down, as pressing the power button would.
//
// The `virt` board has no ACPI power button. When the VM has a keyboard (--keyboard) whose
// guest driver is up, the request is Ctrl+Alt+Delete, as Firecracker's SendCtrlAltDel: Linux's
// VT keyboard handler calls ctrl_alt_del(), which sends init SIGINT once init has taken
// ctrl-alt-del for itself (reboot(CAD_OFF)); init decides what follows (ours powers off
// cleanly). Before that point in a boot the kernel restarts instead, as on a PC.
//
// Without such a keyboard (no flag, a kernel without the driver, a bare-metal program) the
// request falls back to what Linux accepts from the serial console (CONFIG_MAGIC_SYSRQ_SERIAL):
// a line break followed by a SysRq key, in the classic orderly sequence s (sync every
// filesystem), u (remount them read-only), and, once the kernel reports the remount done, o
// (power off through SBI SRST). The kernel powers off then, not init. A guest that is not
// Linux sees a NUL byte with a break and ignores it, as a guest without ACPI ignores QEMU's
// power button.
import { KEY_DELETE, KEY_LEFTALT, KEY_LEFTCTRL, keyPress, type Machine, type VirtioInput } from '@hypernova/hypervisor';

/** How long to wait for the kernel to finish syncing and remounting before powering off anyway. */
const REMOUNT_WAIT_MS = 5000;
const RETRY_MS = 20;
/** Linux drops a SysRq key that comes more than 5 s (guest time) after the break. */
const KEY_TIMEOUT_MS = 2000;

const CTRL_ALT_DEL = keyPress([KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE]);

export interface PowerdownTarget {
  uart: Machine['uart'];
  sendInput(bytes: Uint8Array): void;
  /** Resolves true once the guest prints `text`, false after `ms`. */
  waitForConsole(text: string, ms: number): Promise<boolean>;
  /** False once the VM is gone: the sequence stops. */
  readonly alive: boolean;
  /** The VM's keyboard, if it has one. */
  readonly keyboard: VirtioInput | undefined;
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
  // A keyboard whose driver has stopped reading (its events fill up) counts as none.
  if (t.keyboard?.driverReady && t.keyboard.send(CTRL_ALT_DEL)) return;
  const remounted = t.waitForConsole('Emergency Remount complete', REMOUNT_WAIT_MS);
  await sendSysrq(t, 's');
  await sendSysrq(t, 'u');
  await remounted;
  await sendSysrq(t, 'o');
}
