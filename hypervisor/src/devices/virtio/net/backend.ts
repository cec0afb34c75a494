// Where virtio-net frames go: a pluggable backend. Frames are whole Ethernet frames (from the
// destination MAC on, no FCS) without the virtio-net header. This issue ships an in-process
// L2 switch (link.ts); the cluster network can be another implementation of the same interface.

export interface NetBackend {
  /** A frame the guest transmitted. The backend may keep it: the device does not reuse it. */
  send(frame: Uint8Array): void;
  /** Registers the device's receive path; frames given to it are copied, the caller may reuse them. */
  onReceive(cb: (frame: Uint8Array) => void): void;
}

export const ETH_HEADER = 14;
export const MAC_LEN = 6;

/** Parses "52:54:00:12:34:56" (or "-" separated); throws RangeError unless it is a unicast MAC. */
export function parseMac(mac: string | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (typeof mac === 'string') {
    const parts = mac.split(/[:-]/);
    if (parts.length !== MAC_LEN || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
      throw new RangeError(`'${mac}' is not a MAC address (xx:xx:xx:xx:xx:xx)`);
    }
    bytes = Uint8Array.from(parts, (p) => parseInt(p, 16));
  } else {
    if (mac.length !== MAC_LEN) throw new RangeError(`a MAC address has 6 bytes, not ${mac.length}`);
    bytes = mac.slice();
  }
  if (bytes[0]! & 1) throw new RangeError(`${formatMac(bytes)} is a multicast address, not a NIC's`);
  return bytes;
}

export const formatMac = (b: Uint8Array): string =>
  Array.from(b.subarray(0, MAC_LEN), (x) => x.toString(16).padStart(2, '0')).join(':');
