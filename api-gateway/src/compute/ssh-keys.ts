// Public keys for os-keypairs: OpenSSH public keys parsed and checked the way Nova's key loader
// does (a key that does not decode is a 400), x509 certificates (type x509 from 2.2), Nova's
// fingerprints, and generation of an RSA keypair when the client sends no public key.
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { badRequest } from '../http/errors.js';

export type KeyType = 'ssh' | 'x509';

/** A hex digest as Nova prints fingerprints: "aa:bb:cc:...". */
const colons = (hex: string) => hex.match(/../g)?.join(':') ?? '';

/** Reads the SSH wire format: uint32 length-prefixed strings and mpints. */
class WireReader {
  private at = 0;

  constructor(private readonly buf: Buffer) {}

  string(): Buffer {
    if (this.at + 4 > this.buf.length) throw new Error('truncated');
    const len = this.buf.readUInt32BE(this.at);
    if (len > this.buf.length - this.at - 4) throw new Error('truncated');
    const out = this.buf.subarray(this.at + 4, this.at + 4 + len);
    this.at += 4 + len;
    return out;
  }

  done(): boolean {
    return this.at === this.buf.length;
  }
}

/** An mpint's magnitude as unpadded base64url, as JWK wants it. */
const jwkInt = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i).toString('base64url');
};

const EC_CURVES: Record<string, { crv: string; size: number }> = {
  nistp256: { crv: 'P-256', size: 32 },
  nistp384: { crv: 'P-384', size: 48 },
  nistp521: { crv: 'P-521', size: 66 },
};

/** Checks that the blob is a well-formed key of `type` that Node's crypto accepts. */
function checkSshBlob(type: string, blob: Buffer): void {
  const r = new WireReader(blob);
  if (r.string().toString('latin1') !== type) throw new Error('key type mismatch');
  if (type === 'ssh-rsa') {
    const e = r.string();
    const n = r.string();
    if (!r.done()) throw new Error('trailing data');
    const key = createPublicKey({ key: { kty: 'RSA', e: jwkInt(e), n: jwkInt(n) }, format: 'jwk' });
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) throw new Error('RSA key too short');
  } else if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (!r.done() || pk.length !== 32) throw new Error('bad ed25519 key');
    createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }, format: 'jwk' });
  } else if (type.startsWith('ecdsa-sha2-')) {
    const curveName = r.string().toString('latin1');
    const curve = EC_CURVES[curveName];
    const point = r.string();
    if (!curve || type !== `ecdsa-sha2-${curveName}` || !r.done()) throw new Error('bad ecdsa key');
    if (point.length !== 1 + 2 * curve.size || point[0] !== 4) throw new Error('bad ecdsa point');
    const x = point.subarray(1, 1 + curve.size).toString('base64url');
    const y = point.subarray(1 + curve.size).toString('base64url');
    createPublicKey({ key: { kty: 'EC', crv: curve.crv, x, y }, format: 'jwk' });
  } else {
    throw new Error(`unsupported key type ${type}`);
  }
}

/** Nova's fingerprint of a public key (400 when the key is not valid). */
export function fingerprint(publicKey: string, type: KeyType): string {
  if (type === 'x509') {
    try {
      const cert = new X509Certificate(publicKey);
      return colons(createHash('sha1').update(cert.raw).digest('hex'));
    } catch {
      throw badRequest('Keypair data is invalid: failed to generate fingerprint');
    }
  }
  const parts = publicKey.trim().split(/\s+/);
  try {
    if (parts.length < 2) throw new Error('not "type base64 [comment]"');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) throw new Error('not base64');
    const blob = Buffer.from(parts[1], 'base64');
    checkSshBlob(parts[0], blob);
    return colons(createHash('md5').update(blob).digest('hex'));
  } catch {
    throw badRequest('Keypair data is invalid: failed to generate fingerprint');
  }
}

/** A fresh RSA keypair: the OpenSSH public key and the PEM private key Nova returns once. */
export function generateKeypair(comment: string): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const mpint = (b64: string) => {
    const b = Buffer.from(b64, 'base64url');
    // An mpint is signed: a set top bit needs a leading zero byte.
    return b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
  };
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([
    field(Buffer.from('ssh-rsa')),
    field(mpint(jwk.e as string)),
    field(mpint(jwk.n as string)),
  ]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
  };
}
