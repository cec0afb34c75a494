// One throwaway set of cluster credentials per test run (common's ensureClusterCredentials in a
// temp dir, removed at exit): the servers the harness starts require them, the services it
// starts get their own identity's directory, and the test process itself connects as `admin`
// (HYPERNOVA_CREDENTIALS_DIR is set for it, which the connection helpers read by default).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREDENTIALS_DIR_ENV, ensureClusterCredentials, type ClusterCredentials } from '@hypernova/common';

/** The identities of a test cluster: every agent a test starts is `compute`. */
export const TEST_IDENTITIES = [
  { name: 'admin', role: 'admin' },
  { name: 'gateway', role: 'gateway' },
  { name: 'scheduler', role: 'scheduler' },
  { name: 'compute', role: 'compute' },
] as const;

export type TestIdentity = (typeof TEST_IDENTITIES)[number]['name'];

let made: ClusterCredentials | undefined;

export function testCredentials(): ClusterCredentials {
  if (made) return made;
  const root = mkdtempSync(join(tmpdir(), 'hn-creds-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  made = ensureClusterCredentials(join(root, 'cluster'), [...TEST_IDENTITIES]);
  process.env[CREDENTIALS_DIR_ENV] ??= made.dir('admin');
  return made;
}

/** `{ HYPERNOVA_CREDENTIALS_DIR: <its directory> }`, for a service's environment. */
export function credentialsEnv(identity: TestIdentity): Record<string, string> {
  return { [CREDENTIALS_DIR_ENV]: testCredentials().dir(identity) };
}
