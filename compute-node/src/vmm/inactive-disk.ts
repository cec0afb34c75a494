// A disk on storage another host still writes (the source of a live migration without block
// migration), as QEMU keeps its images inactive under -incoming: the virtio-blk device is built
// from the declared size, but the image is not opened, so none of its metadata (our qcow2 code
// caches L1, L2 and refcount tables) is read before the source has paused the guest and flushed
// the image. activate() opens it; until then any I/O fails.
import {
  allocatedExtents,
  BlockError,
  openDisk,
  serialFromPath,
  type BlockBackend,
  type DirtyLog,
  type Extent,
} from '@hypernova/hypervisor';
import type { DiskSpec } from './options.js';

export class InactiveDisk implements BlockBackend {
  readonly readOnly: boolean;
  readonly id: string;
  private image: BlockBackend | undefined;
  private closed = false;

  constructor(
    private readonly spec: DiskSpec,
    readonly sizeBytes: number,
  ) {
    this.readOnly = spec.readOnly;
    // What openDisk would name it, so GET_ID answers the same before and after a migration.
    this.id = serialFromPath(spec.path);
  }

  get active(): boolean {
    return this.image !== undefined;
  }

  /** Opens the image; it must be the disk the guest was given (size, read-only). Idempotent. */
  activate(): void {
    if (this.image) return;
    if (this.closed) throw new BlockError('ECLOSED', 'disk closed', this.spec.path);
    const image = openDisk(this.spec.path, { format: this.spec.format, readOnly: this.spec.readOnly });
    if (image.sizeBytes !== this.sizeBytes) {
      image.close();
      throw new BlockError(
        'EFORMAT',
        `image is ${image.sizeBytes} bytes, the guest was given ${this.sizeBytes}`,
        this.spec.path,
      );
    }
    this.image = image;
  }

  private get open(): BlockBackend {
    if (!this.image)
      throw new BlockError('ECLOSED', 'disk not open yet (an incoming migration opens it at its end)', this.spec.path);
    return this.image;
  }

  get dirtyLog(): DirtyLog | undefined {
    return this.image?.dirtyLog;
  }

  read(offset: number, dst: Uint8Array): void {
    this.open.read(offset, dst);
  }

  write(offset: number, src: Uint8Array): void {
    this.open.write(offset, src);
  }

  flush(): void {
    // Never opened, never written: nothing to flush.
    this.image?.flush();
  }

  discard(offset: number, length: number): void {
    this.open.discard?.(offset, length);
  }

  writeZeroes(offset: number, length: number, mayUnmap: boolean): void {
    const image = this.open;
    if (!image.writeZeroes) throw new BlockError('EUNSUPPORTED', 'write-zeroes not supported', this.spec.path);
    image.writeZeroes(offset, length, mayUnmap);
  }

  allocatedExtents(): Extent[] {
    return allocatedExtents(this.open);
  }

  close(): void {
    this.closed = true;
    this.image?.close();
    this.image = undefined;
  }
}
