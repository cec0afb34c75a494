// Saved-state files on the host: written atomically (a reader, or a crash, sees the old file or
// the complete new one, never a partial one), and read back with errors that say which file.
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes `data` to `path` through a temporary file in the same directory, fsync and rename. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    // The temporary file may never have been created; any other failure to remove it is told too.
    const left = await unlink(tmp).then(
      () => '',
      (u: unknown) => (codeOf(u) === 'ENOENT' ? '' : ` (and ${tmp} is left behind: ${codeOf(u)})`),
    );
    throw new Error(`cannot write ${path}: ${codeOf(e)}${left}`);
  }
  // The rename itself is durable once the directory is; some file systems cannot sync a directory.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync().catch((e: unknown) => {
      if (codeOf(e) !== 'EINVAL' && codeOf(e) !== 'ENOTSUP') throw e;
    });
  } finally {
    await dir.close();
  }
}

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Largest state file accepted: 2 GiB of RAM plus headers (anything bigger is not ours). */
const MAX_STATE_FILE = 2 ** 31 + (64 << 20);

export async function readStateFile(path: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_STATE_FILE) throw new Error(`${st.size} bytes is larger than any snapshot`);
    return await readFile(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${codeOf(e)}`);
  }
}
