// Confinement of VM processes (sVirt's idea, Firecracker's jailer's means): when the agent runs
// as root, every VM process gets its own unprivileged uid/gid from a range, a mount namespace
// whose root holds only the system's programs, the code, the base images (read-only) and its own
// instance directory, no capabilities, no_new_privs, a scrubbed environment and rlimits. A guest
// that breaks out of device emulation then holds a uid that owns nothing but its own disk.
//
// The privileged steps are util-linux's: `unshare` makes the mount namespace, a short sh script
// builds the root in it (tmpfs plus bind mounts, like the jailer's chroot), `chroot` enters it,
// `setpriv` drops to the VM's uid with every capability set cleared, `prlimit` sets the limits.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisKeys, RedisScript, type Logger } from '@hypernova/common';
import { detectFormat, Qcow2 } from '@hypernova/hypervisor/block';
import type { Redis } from 'ioredis';

/** The VM process's identity: a uid and a gid of the same number, from the agent's range. */
export interface VmIdentity {
  uid: number;
  gid: number;
}

export interface JailLimits {
  /** RLIMIT_NOFILE: disks, sockets and the event loop's own descriptors fit well below it. */
  openFiles: number;
  /** RLIMIT_NPROC, per uid, so per VM: it counts threads (Node's pool, V8's workers, one per hart). */
  processes: number;
}

/** The only environment a VM process gets: nothing of the agent's (URLs, credentials, paths). */
export function vmEnvironment(extra: Record<string, string>): Record<string, string> {
  return { PATH: '/usr/bin:/bin', ...extra };
}

// Builds the VM's root under $1 (a tmpfs, so nothing of it outlives the namespace) from the
// specs up to "--": ro:PATH and rw:PATH bind PATH at the same place, dev:PATH binds a device
// node, tmp:PATH is an empty tmpfs, link:PATH recreates a symlink (merged /usr). Then it enters
// the root and runs the rest of the arguments there.
const BUILD_ROOT = `set -eu
root=$1; shift
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root"
while [ "$1" != -- ]; do
  kind=\${1%%:*}; path=\${1#*:}; shift
  target=$root$path
  mkdir -p "$(dirname "$target")"
  case $kind in
    link) ln -s "$(readlink "$path")" "$target"; continue ;;
    tmp) mkdir -p "$target"; mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$target"; continue ;;
  esac
  if [ -d "$path" ]; then mkdir -p "$target"; else : > "$target"; fi
  mount --bind "$path" "$target"
  case $kind in
    ro) mount -o remount,bind,ro,nosuid,nodev "$target" ;;
    rw) mount -o remount,bind,nosuid,nodev "$target" ;;
  esac
done
shift
umask 077
unset PWD OLDPWD
exec /usr/sbin/chroot "$root" "$@"`;

/** What every VM root holds read-only besides the code: the programs and libraries it runs with. */
const SYSTEM_PATHS = [
  '/usr',
  '/lib',
  '/lib64',
  '/bin',
  '/sbin',
  '/etc/ld.so.cache',
  // Name resolution, for cluster endpoints given by name (compose's nats, redis).
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
];
const DEVICES = ['/dev/null', '/dev/zero', '/dev/random', '/dev/urandom'];

/** The checkout the agent runs from (compute-node/dist/src/agent -> four levels up). */
const CODE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export class VmJail {
  private readonly readOnly: string[];

  /**
   * @param root an empty directory each VM's namespace mounts its own root on
   * @param hidden directories that must not show even where they lie inside shared or code paths (the agent's state)
   */
  constructor(
    readonly root: string,
    private readonly hidden: readonly string[],
    private readonly limits: JailLimits,
  ) {
    mkdirSync(root, { recursive: true, mode: 0o755 });
    const node = realpathSync(process.execPath);
    this.readOnly = [...SYSTEM_PATHS, ...codePaths(CODE_ROOT)];
    // A Node outside the system's directories (nvm, a tarball) comes along with its install.
    if (!SYSTEM_PATHS.some((p) => node.startsWith(`${p}/`))) this.readOnly.push(dirname(dirname(node)));
  }

  /**
   * The command line that runs `command` confined as `who`, with `writable` (its instance and
   * disk directories) the only places it can write and `readable` (its kernel, its disk's
   * backing files) the only node files it can read besides.
   */
  wrap(
    command: readonly string[],
    who: VmIdentity,
    writable: readonly string[],
    readable: readonly string[],
  ): string[] {
    // Order matters: a later mount may sit inside an earlier one (a code checkout under /tmp, the
    // image cache inside the hidden state dir), never the other way round.
    const specs = ['tmp:/tmp'];
    for (const p of this.readOnly) {
      if (existsSync(p)) specs.push(`${lstatSync(p).isSymbolicLink() ? 'link' : 'ro'}:${p}`);
    }
    for (const p of DEVICES) specs.push(`dev:${p}`);
    specs.push('dev:/proc');
    for (const p of this.hidden) if (this.readOnly.some((r) => p.startsWith(`${r}/`))) specs.push(`tmp:${p}`);
    // One bind per file: a kernel image can also be its disk's backing file.
    for (const p of new Set(readable)) specs.push(`ro:${p}`);
    for (const p of writable) specs.push(`rw:${p}`);
    return [
      '/usr/bin/unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      BUILD_ROOT,
      'hypernova-jail',
      this.root,
      ...specs,
      '--',
      '/usr/bin/setpriv',
      `--reuid=${who.uid}`,
      `--regid=${who.gid}`,
      '--clear-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--',
      '/usr/bin/prlimit',
      `--nofile=${this.limits.openFiles}`,
      `--nproc=${this.limits.processes}`,
      '--core=0',
      '--',
      ...command,
    ];
  }

  /**
   * Gives the VM its directories and files. A directory stays root's, writable by the VM's group
   * and sticky (01770), so the VM can make its socket and files there but cannot touch the
   * agent's (instance.json, its own process log); its files (disk, serial log, saved state) are
   * its uid's, 0600.
   */
  static own(who: VmIdentity, dirs: readonly string[], files: readonly string[]): void {
    for (const dir of dirs) {
      chownSync(dir, 0, who.gid);
      chmodSync(dir, 0o1770);
    }
    for (const file of files) {
      if (!existsSync(file)) continue;
      chownSync(file, who.uid, who.gid);
      chmodSync(file, 0o600);
    }
  }
}

/** The code a VM process runs: the checkout's packages and node_modules, never its dot-directories (.git, cluster state). */
function codePaths(root: string): string[] {
  return readdirSync(root)
    .filter((name) => !name.startsWith('.'))
    .map((name) => join(root, name));
}

/** The backing files below a disk image, nearest first (what its VM process must read besides the disk). */
export function backingChain(disk: string): string[] {
  const chain: string[] = [];
  for (let path: string | undefined = disk; path !== undefined && existsSync(path) && chain.length < 16;) {
    if (detectFormat(path) !== 'qcow2') break;
    const img = Qcow2.open(path, { readOnly: true, ignoreBacking: true });
    path = img.backingPath;
    img.close();
    if (path !== undefined) chain.push(path);
  }
  return chain;
}

/** Whether VM processes can be confined here: root, with the tools at hand. */
export function canConfine(): boolean {
  return (
    process.getuid?.() === 0 &&
    ['/usr/bin/unshare', '/usr/bin/setpriv', '/usr/bin/prlimit', '/usr/sbin/chroot'].every((p) => existsSync(p))
  );
}

// Takes the lowest uid of [first, last] that no VM of this host holds, for `uuid` (or returns
// the one it already holds): atomic, so two launches never share one.
const ALLOCATE = new RedisScript(`
local held = redis.call('HGETALL', KEYS[1])
local used = {}
for i = 1, #held, 2 do
  if held[i + 1] == ARGV[3] then return tonumber(held[i]) end
  used[held[i]] = true
end
for uid = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  if not used[tostring(uid)] then
    redis.call('HSET', KEYS[1], uid, ARGV[3])
    return uid
  end
end
return false`);

// Frees a uid only if `uuid` still holds it.
const RELEASE = new RedisScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`);

/** The host's VM uids, recorded in Redis (like sVirt's MCS labels, one per VM). */
export class UidPool {
  constructor(
    private readonly redis: Redis,
    private readonly host: string,
    readonly first: number,
    readonly last: number,
    private readonly logger: Logger,
  ) {
    if (!(first > 0 && last >= first)) throw new Error(`bad VM uid range ${first}-${last}`);
  }

  async allocate(uuid: string): Promise<VmIdentity> {
    const uid = await ALLOCATE.run(this.redis, [redisKeys.hostVmUids(this.host)], [this.first, this.last, uuid]);
    if (typeof uid !== 'number') throw new Error(`no free VM uid in ${this.first}-${this.last} on ${this.host}`);
    return { uid, gid: uid };
  }

  async release(uuid: string, who: VmIdentity): Promise<void> {
    try {
      await RELEASE.run(this.redis, [redisKeys.hostVmUids(this.host)], [who.uid, uuid]);
    } catch (err) {
      // The record stays; the next allocate for this uuid reuses it, and the uid is lost only to this host.
      this.logger.warn({ instance: uuid, uid: who.uid, err: (err as Error).message }, 'cannot free the VM uid');
    }
  }
}

/**
 * COMPUTE_VM_UID_RANGE for the index-th of several agents on one machine (cluster up, tests):
 * each host allocates its uids alone, so agents sharing a kernel need ranges that never meet.
 */
export function agentUidRange(index: number): string {
  const first = 200000 + index * 1000;
  return `${first}-${first + 999}`;
}

/** Parses COMPUTE_VM_UID_RANGE ("FIRST-LAST"). */
export function parseUidRange(range: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(range.trim());
  if (!m) throw new Error(`COMPUTE_VM_UID_RANGE must be FIRST-LAST, not ${JSON.stringify(range)}`);
  return [Number(m[1]), Number(m[2])];
}

/** A host's confinement: the jail VM processes start in and the uids they get. */
export interface VmConfinement {
  jail: VmJail;
  uids: UidPool;
}

export interface ConfinementSettings {
  mode: string;
  uidRange: string;
  limits: JailLimits;
  stateDir: string;
}

/** The confinement `mode` asks for (auto, on, off), or undefined when VM processes run as the agent. */
export function createConfinement(
  s: ConfinementSettings,
  redis: Redis,
  host: string,
  logger: Logger,
): VmConfinement | undefined {
  if (!['auto', 'on', 'off'].includes(s.mode)) {
    throw new Error(`COMPUTE_VM_CONFINEMENT must be auto, on or off, not ${JSON.stringify(s.mode)}`);
  }
  if (s.mode === 'off') {
    logger.warn('VM processes run unconfined, as the agent (COMPUTE_VM_CONFINEMENT=off)');
    return undefined;
  }
  if (!canConfine()) {
    if (s.mode === 'on') throw new Error('COMPUTE_VM_CONFINEMENT=on needs root and util-linux (unshare, setpriv)');
    // Without root there is no other uid to give and no mount namespace to make: VM processes
    // share the agent's user, files and environment-free launch only.
    logger.warn('not root: VM processes run as the agent user, without their own uid or mount namespace');
    return undefined;
  }
  const [first, last] = parseUidRange(s.uidRange);
  const jail = new VmJail(join(s.stateDir, 'jail'), [s.stateDir], s.limits);
  return { jail, uids: new UidPool(redis, host, first, last, logger) };
}
