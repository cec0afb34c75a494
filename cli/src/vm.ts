// `hypernova vm run` (one VM process: see compute-node/src/vmm) and `hypernova vm net-hub`.
// The VM process itself lives in @hypernova/compute-node; the CLI adds the terminal.
import { NET_HUB_USAGE, RUN_USAGE, runNetHub, runVmProcess, UsageError } from '@hypernova/compute-node/vmm';
import { attachTerminal } from './console.js';

const USAGE = `${RUN_USAGE}\n${NET_HUB_USAGE}`;

export async function vmCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    if (sub === 'run') return await runVmProcess(rest, { attachTerminal });
    if (sub === 'net-hub') return await runNetHub(rest);
  } catch (e) {
    if (e instanceof UsageError) throw new Error(`${e.message}\n${sub === 'net-hub' ? NET_HUB_USAGE : RUN_USAGE}`);
    throw e;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
