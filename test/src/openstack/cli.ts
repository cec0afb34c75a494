// Running Debian's OpenStack clients (`openstack`, `nova`) from tests: install them when they are
// missing and this machine can (apt-get as root or with password-less sudo), run a command with
// a given OS_* environment, and read a devstack-style openrc.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const CLI_PACKAGES = ['python3-openstackclient', 'python3-novaclient'];

const works = (cmd: string) => spawnSync(cmd, ['--version'], { timeout: 60_000, stdio: 'ignore' }).status === 0;

/**
 * Whether `openstack` and `nova` run here, installing Debian's packages first when needed.
 * Returns why not when they cannot be had (the caller skips with that reason).
 */
export function ensureClients(): { ok: true } | { ok: false; reason: string } {
  if (works('openstack') && works('nova')) return { ok: true };
  const root = process.getuid?.() === 0;
  if (!root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status !== 0) {
    return {
      ok: false,
      reason: `${CLI_PACKAGES.join(' and ')} are not installed, and this user cannot install packages (not root, no password-less sudo)`,
    };
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) => {
    const argv = root ? args : ['sudo', '-n', ...args];
    return spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore', timeout: 900_000 });
  };
  run(['apt-get', 'update', '-qq']);
  const install = run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...CLI_PACKAGES]);
  if (install.status !== 0 || !works('openstack') || !works('nova')) {
    return {
      ok: false,
      reason: `installing ${CLI_PACKAGES.join(' ')} with apt-get failed (status ${install.status}); the OpenStack clients are unavailable`,
    };
  }
  return { ok: true };
}

/** The variables of an openrc (lines `export NAME='value'`). */
export function readOpenrc(path: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(?:'((?:[^']|'\\'')*)'|(\S*))$/.exec(line.trim());
    if (m) vars[m[1]] = m[2] !== undefined ? m[2].replace(/'\\''/g, "'") : m[3];
  }
  return vars;
}

export interface CliResult {
  code: number;
  out: string;
}

/** A client bound to an OS_* environment (an openrc's, with per-call overrides for other users). */
export class OpenStackCli {
  constructor(private readonly osEnv: Record<string, string>) {}

  /** Runs `command args` (openstack or nova); never throws, the exit code tells. */
  run(
    command: 'openstack' | 'nova',
    args: string[],
    env: Record<string, string> = {},
    timeoutMs = 300_000,
  ): Promise<CliResult> {
    const fullEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      OS_AUTH_TYPE: 'password',
      OS_INTERFACE: 'public',
      ...this.osEnv,
      ...env,
    };
    return new Promise((resolve) =>
      execFile(
        command,
        args,
        { env: fullEnv, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
      ),
    );
  }

  /** `openstack args` that must succeed; its output. */
  async ok(args: string[], env?: Record<string, string>): Promise<string> {
    const r = await this.run('openstack', args, env);
    assert.equal(r.code, 0, `openstack ${args.join(' ')}:\n${r.out}`);
    return r.out;
  }

  /** `openstack args -f json` that must succeed, parsed. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- CLI JSON is read field by field
  async json(args: string[], env?: Record<string, string>): Promise<any> {
    return JSON.parse(await this.ok([...args, '-f', 'json'], env));
  }

  /** `openstack args` that must fail with HTTP `status`; its output. */
  async fails(args: string[], status: number, env?: Record<string, string>): Promise<string> {
    const r = await this.run('openstack', args, env);
    assert.notEqual(r.code, 0, `openstack ${args.join(' ')} should have failed:\n${r.out}`);
    assert.match(
      r.out,
      // novaclient says "(HTTP 409)", the SDK "409: Client Error" or, with a Neutron body, "Exception: 409, <message>".
      new RegExp(`(HTTP ${status}\\b|\\b${status}: Client Error|Exception: ${status},)`),
      `openstack ${args.join(' ')}:\n${r.out}`,
    );
    return r.out;
  }
}
