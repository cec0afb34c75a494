// An instance's directory on the node (like libvirt's /var/lib/nova/instances/<uuid>): what to
// boot and what its VM process is (instance.json), the control socket, the serial log, the
// qcow2 overlay disk, and the saved state while suspended. instance.json is what lets a
// restarted agent find and re-adopt its VMs. The disk may live in a directory of its own on an
// instances path other nodes share; everything else is this host's and stays in the state dir.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the node keeps an instance as, across VM process lifetimes and agent restarts. */
export type LocalState =
  /** Should have a VM process (running or paused). */
  | 'active'
  /** No VM process: stopped by request or powered off by the guest. */
  | 'shutoff'
  /** No VM process; its state is saved in the directory. */
  | 'suspended'
  /** No VM process: it died unexpectedly (see fault). */
  | 'crashed'
  /** A VM process waiting for a live migration's stream; the instance is not ours until it completes. */
  | 'incoming';

export interface InstanceMeta {
  uuid: string;
  name: string;
  projectId: string;
  flavor: { id: string; name: string; vcpus: number; ramMb: number; diskGb: number };
  imageId: string;
  /** Cached kernel file the VM boots. */
  kernel: string;
  append: string;
  state: LocalState;
  fault?: string;
  createdAtMs: number;
  /** When the current VM process started; 0 without one. */
  launchedAtMs: number;
  /** The current VM process, identified by pid and start time (pids get reused). */
  pid?: number;
  pidStart?: string;
  /** While 'incoming': the migration bringing it here. */
  migrationId?: string;
  /** The uid (and gid) the VM process runs as when confined. */
  uid?: number;
  /** Directory of the disk when it is not this one (an instances path of its own, maybe shared). */
  diskDir?: string;
  /** While 'incoming' without block migration: the disk is the source's (shared storage), and discarding the instance leaves it. */
  sourceDisk?: boolean;
}

/** Longest unix socket path (sun_path is 108 bytes on Linux, with the terminating NUL). */
export const MAX_SOCKET_PATH = 107;

export class InstanceDir {
  constructor(
    readonly path: string,
    readonly diskDir = path,
  ) {}

  get metaFile(): string {
    return join(this.path, 'instance.json');
  }
  get controlSocket(): string {
    return join(this.path, 'qmp.sock');
  }
  get serialLog(): string {
    return join(this.path, 'console.log');
  }
  get disk(): string {
    return join(this.diskDir, 'disk.qcow2');
  }
  get savedState(): string {
    return join(this.path, 'suspended.state');
  }
  /** The VM process's own stdout/stderr (its logs). */
  get processLog(): string {
    return join(this.path, 'vm.log');
  }

  create(): void {
    mkdirSync(this.path, { recursive: true });
    mkdirSync(this.diskDir, { recursive: true });
  }

  readMeta(): InstanceMeta {
    return JSON.parse(readFileSync(this.metaFile, 'utf8')) as InstanceMeta;
  }

  /** Written aside and renamed, so a crash leaves the old or the new file, never half of one. */
  writeMeta(meta: InstanceMeta): void {
    const tmp = `${this.metaFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(meta, null, 2));
    renameSync(tmp, this.metaFile);
  }

  /** Removes the instance from this host; with keepDisk its disk stays (another host uses it). */
  remove(keepDisk = false): void {
    // Sharing the directory with the disk, only instance.json must go for the instance to be gone from here.
    if (keepDisk && this.diskDir === this.path) rmSync(this.metaFile, { force: true });
    else rmSync(this.path, { recursive: true, force: true });
    if (!keepDisk) rmSync(this.diskDir, { recursive: true, force: true });
  }
}

/** The instance directories under `root` that hold an instance.json. */
export function listInstanceDirs(root: string): InstanceDir[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const path = join(root, n);
    try {
      return [new InstanceDir(path, new InstanceDir(path).readMeta().diskDir)];
    } catch {
      return [];
    }
  });
}
