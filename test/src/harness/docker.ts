// Whether to run the servers in containers: testcontainers is used when a Docker engine answers
// (`docker info` succeeds), unless HYPERNOVA_TEST_DOCKER=0 forces local processes (=1 forces Docker).
import { execFile } from 'node:child_process';

let cached: Promise<boolean> | undefined;

export function useDocker(): Promise<boolean> {
  const forced = process.env.HYPERNOVA_TEST_DOCKER;
  if (forced === '0') return Promise.resolve(false);
  if (forced === '1') return Promise.resolve(true);
  cached ??= new Promise((resolve) => {
    execFile('docker', ['info'], { timeout: 10_000 }, (err) => resolve(!err));
  });
  return cached;
}

/** testcontainers, imported only when Docker is used so it stays optional at run time. */
export async function testcontainers(): Promise<typeof import('testcontainers')> {
  return import('testcontainers');
}
