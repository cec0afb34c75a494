// The reference every benchmark compares with: qemu-system-riscv32 on the same guest, in the same run.
import { spawn } from 'node:child_process';

export const QEMU = 'qemu-system-riscv32';
/** QEMU's rv32 with just what our core has (RV32IMAC, Zicsr, Zifencei), so both run the same code paths. */
export const QEMU_CPU = 'rv32,f=false,d=false,h=false,sstc=false,zba=false,zbb=false,zbc=false,zbs=false';

export async function qemuInstalled(): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(QEMU, ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}
