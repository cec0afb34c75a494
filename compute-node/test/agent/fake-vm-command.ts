// The command line that starts the stand-in VM process (fake-vm.ts) instead of `hypernova vm run`.
import { fileURLToPath } from 'node:url';

export const FAKE_VM_SCRIPT = fileURLToPath(new URL('./fake-vm.js', import.meta.url));

export const FAKE_VM_COMMAND: readonly string[] = [process.execPath, FAKE_VM_SCRIPT];
