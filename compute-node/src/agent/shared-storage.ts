// Whether two nodes share an instances path, found out as Nova's libvirt driver does it
// (check_can_live_migrate_destination / _source): the destination leaves a uniquely named file in
// its instances path and the source looks for it in its own. Configuration alone cannot say: two
// nodes may name the same path and mount different file systems there.
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@hypernova/common';

const PROBE = /^\.hn-shared-probe-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Destination: creates a probe file in `dir` (holding the host's name, for whoever finds one left over); returns its name. */
export function createProbe(dir: string, host: string): string {
  const name = `.hn-shared-probe-${randomUUID()}`;
  writeFileSync(join(dir, name), `${host}\n`, { flag: 'wx' });
  return name;
}

/** Source: whether the probe `name` is in `dir`. */
export function seesProbe(dir: string, name: string): boolean {
  return existsSync(join(dir, checkName(name)));
}

/** Destination: removes its probe; false when it was not there. */
export function removeProbe(dir: string, name: string): boolean {
  const path = join(dir, checkName(name));
  const existed = existsSync(path);
  rmSync(path, { force: true });
  return existed;
}

/** Only our own probe names: a caller must not make a node look up or remove any other path. */
function checkName(name: string): string {
  if (!PROBE.test(name)) throw new InvalidArgumentError(`invalid shared storage probe name ${JSON.stringify(name)}`);
  return name;
}
