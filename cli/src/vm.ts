// `hypernova vm run`: one VM in this process, its serial console on the terminal.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Machine, type BiosChoice } from '@hypernova/hypervisor';
import { attachTerminal } from './console.js';

const RUN_USAGE = `usage: hypernova vm run --kernel FILE [--initrd FILE] [--append STR] [--memory MiB]
                       [--bios builtin|none|FILE] [--dtb FILE]`;

export async function vmCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'run') {
    process.stderr.write(`${RUN_USAGE}\n`);
    return 2;
  }
  return runVm(rest);
}

function readInput(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function runVm(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      memory: { type: 'string', default: '128' },
      bios: { type: 'string', default: 'builtin' },
      dtb: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  if (!values.kernel) throw new Error(`--kernel is required\n${RUN_USAGE}`);
  const memoryMiB = Number(values.memory);
  const bios: BiosChoice =
    values.bios === 'builtin' || values.bios === 'none' ? values.bios : readInput(values.bios, 'firmware');

  const machine = new Machine(
    {
      kernel: readInput(values.kernel, 'kernel'),
      initrd: values.initrd ? readInput(values.initrd, 'initrd') : undefined,
      append: values.append,
      bios,
      dtb: values.dtb ? readInput(values.dtb, 'device tree') : undefined,
    },
    { config: { memoryMiB } },
  );
  let quit = false;
  const term = attachTerminal(
    (bytes) => machine.sendInput(bytes),
    () => {
      quit = true;
      machine.powerOffNow();
    },
  );
  try {
    const exit = await machine.run();
    return quit ? 0 : exit.code;
  } finally {
    term.detach();
  }
}
