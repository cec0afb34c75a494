// `hypernova <group> <command> ...`: dispatches to the command groups.
import { vmCommand } from './vm.js';

const USAGE = `usage: hypernova <command> [options]

commands:
  vm run      run a virtual machine with its serial console on this terminal
  img ...     create, inspect, check and convert disk images (qemu-img conventions)
  cluster up  start a local cluster (NATS, Redis, API gateway, schedulers, compute nodes)
`;

export async function main(argv: string[]): Promise<number> {
  const [group, ...rest] = argv;
  try {
    switch (group) {
      case 'vm':
        return await vmCommand(rest);
      case 'cluster': {
        const { clusterCommand } = await import('./cluster.js');
        return await clusterCommand(rest);
      }
      case 'img': {
        const { imgCommand } = await import('./img.js');
        return await imgCommand(rest);
      }
      case undefined:
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        return group === undefined ? 2 : 0;
      default:
        process.stderr.write(`hypernova: unknown command '${group}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`hypernova: ${(e as Error).message}\n`);
    return 1;
  }
}
