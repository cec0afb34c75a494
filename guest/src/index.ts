// The guests the VMM and the tests boot (builds.ts), and the same guests on QEMU (qemu.ts).
export {
  ensureBaremetal,
  ensureLinuxGuest,
  ensureRootfs,
  guestCacheDir,
  guestDir,
  type LinuxGuest,
  type Rootfs,
} from './builds.js';
export {
  QEMU_CPU,
  QEMU_SYSTEM,
  hasQemu,
  qemuFirmware,
  runQemuGuest,
  type QemuDrive,
  type QemuGuestOptions,
  type QemuRun,
} from './qemu.js';
