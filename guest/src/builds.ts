/**
 * Builds, once, the guests the VMM and the tests boot, and says where they are.
 *
 * Builds live outside the work tree, in `${HYPERNOVA_CACHE:-~/.cache/hypernova}/guest/`,
 * one directory per build named by a hash of everything the build reads (sources,
 * scripts, toolchain and kernel source versions): change any of them and the next
 * call builds afresh; otherwise the cached result is returned at once.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** guest/ in the source tree (this file runs as guest/dist/src/builds.js). */
export const guestDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const LINUX_SOURCE_PACKAGE = 'linux-source-6.1';

export interface LinuxGuest {
  /** The kernel Image (with its initramfs built in), to load at 0x8040_0000. */
  image: string;
  /** The cache key, e.g. `linux-0123456789abcdef`. */
  key: string;
  /** The build directory: Image, vmlinux (symbols), config, bin/ (the guest programs). */
  dir: string;
}

/** The cache root for guest builds. */
export function guestCacheDir(): string {
  return join(process.env.HYPERNOVA_CACHE ?? join(homedir(), '.cache', 'hypernova'), 'guest');
}

/** Builds the Linux guest unless a build of the same inputs is cached. */
export async function ensureLinuxGuest(): Promise<LinuxGuest> {
  const sourceVersion = packageVersion(LINUX_SOURCE_PACKAGE);
  const script = join(guestDir, 'build-kernel.sh');
  const key = `linux-${hashInputs(
    [script, ...sourceFiles(join(guestDir, 'kernel')), ...sourceFiles(join(guestDir, 'init'))],
    [`${LINUX_SOURCE_PACKAGE} ${sourceVersion}`, compilerVersion('riscv64-linux-gnu-gcc')],
  )}`;
  const cache = guestCacheDir();
  const dir = join(cache, key);
  // Object files are kept per kernel source version, so a changed fragment or init
  // rebuilds incrementally; the lock covers them, as all kernel builds share them.
  const work = join(cache, 'work', `${LINUX_SOURCE_PACKAGE}-${sourceVersion}`);
  await buildOnce(dir, join(cache, 'linux.lock'), ['bash', script, dir, work]);
  return { image: join(dir, 'Image'), key, dir };
}

export interface Rootfs {
  /** The ext2 image (raw): /sbin/init and the test programs in /bin, for `root=/dev/vda rw rdinit=/none`. */
  image: string;
  /** The cache key, e.g. `rootfs-0123456789abcdef`. */
  key: string;
  /** The Linux guest whose programs the image holds. */
  linux: LinuxGuest;
}

/**
 * Builds the root filesystem image (guest/rootfs/build-rootfs.sh) from the programs of
 * the Linux guest build, unless cached. The image is a read-only input: boot it through
 * a copy-on-write overlay or a copy.
 */
export async function ensureRootfs(): Promise<Rootfs> {
  const linux = await ensureLinuxGuest();
  const src = join(guestDir, 'rootfs');
  const key = `rootfs-${hashInputs(sourceFiles(src), [linux.key, e2fsprogsVersion()])}`;
  const cache = guestCacheDir();
  const dir = join(cache, key);
  await buildOnce(dir, join(cache, 'rootfs.lock'), ['bash', join(src, 'build-rootfs.sh'), dir, join(linux.dir, 'bin')]);
  return { image: join(dir, 'rootfs.ext2'), key, linux };
}

/**
 * Builds the bare-metal programs (tests, SBI firmware, benchmark) with
 * `make -C guest/baremetal OUT=<dir>` unless cached, and returns that directory.
 */
export async function ensureBaremetal(): Promise<string> {
  const src = join(guestDir, 'baremetal');
  if (!existsSync(join(src, 'Makefile'))) throw new Error(`${src}/Makefile not found`);
  const key = `baremetal-${hashInputs(sourceFiles(src), [compilerVersion('riscv64-unknown-elf-gcc')])}`;
  const cache = guestCacheDir();
  const dir = join(cache, key);
  // make writes OUT piecemeal: build aside and rename, so OUT appears complete or not at all.
  const make = 'rm -rf "$1.tmp" && make -s -C "$2" OUT="$1.tmp" && mv "$1.tmp" "$1"';
  await buildOnce(dir, join(cache, 'baremetal.lock'), ['sh', '-c', make, 'sh', dir, src]);
  return dir;
}

/**
 * Runs `command` (which must create `out`) unless `out` exists, holding an exclusive
 * flock(1) on `lock`: concurrent processes build once, the others wait and reuse the
 * result, and a crashed build releases the lock with its process.
 */
async function buildOnce(out: string, lock: string, command: string[]): Promise<void> {
  if (existsSync(out)) return;
  mkdirSync(dirname(lock), { recursive: true });
  process.stderr.write(`guest: ${out} not cached; building (or waiting for a build under way)\n`);
  const started = Date.now();
  await run('flock', [lock, 'sh', '-c', 'test -e "$0" || exec "$@"', out, ...command]);
  process.stderr.write(`guest: ${out} ready after ${Math.round((Date.now() - started) / 1000)} s\n`);
}

/** Runs a command with its output on our stderr (stdout stays clean for callers). */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

/** A short hash of files (by path relative to guest/, and content) and extra strings. */
function hashInputs(files: string[], extra: string[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort()) {
    hash
      .update(`${relative(guestDir, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  }
  for (const s of extra) hash.update(`${s}\0`);
  return hash.digest('hex').slice(0, 16);
}

/**
 * The source files under a folder: what git would commit (tracked or not ignored,
 * so in-tree build outputs do not change the key), or every file outside a git
 * checkout (e.g. a Docker build context).
 */
function sourceFiles(dir: string): string[] {
  let listed: string[];
  try {
    listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '.'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\0')
      .filter((f) => f !== '')
      .map((f) => join(dir, f));
  } catch {
    listed = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  }
  // git lists files deleted from the work tree but still in the index.
  return listed.filter((f) => existsSync(f));
}

function packageVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`Debian package ${pkg} is not installed: run scripts/install-deps.sh`);
  }
}

function compilerVersion(compiler: string): string {
  try {
    return execFileSync(compiler, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    throw new Error(`${compiler} not found: run scripts/install-deps.sh`);
  }
}

/** e2fsprogs' version line (mke2fs prints it on stderr; Debian keeps it in /sbin, off a user's PATH). */
function e2fsprogsVersion(): string {
  const r = spawnSync('mkfs.ext2', ['-V'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
  });
  if (r.error || r.status !== 0)
    throw new Error('mkfs.ext2 not found (package e2fsprogs): run scripts/install-deps.sh');
  return `${r.stdout}${r.stderr}`.split('\n')[0]!;
}
