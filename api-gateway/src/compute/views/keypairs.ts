// Nova keypair bodies: list items and the create/show bodies (type from 2.2).
import type { Keypair } from '../keypairs.js';
import type { Microversion } from '../microversion.js';
import { isoMicros } from './links.js';

const typed = (k: Keypair, mv: Microversion) => (mv.atLeast(2) ? { type: k.type } : {});

export const keypairListItem = (k: Keypair, mv: Microversion) => ({
  keypair: { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, ...typed(k, mv) },
});

/** The create response (with the private key of a generated pair, shown this once). */
export const keypairCreated = (k: Keypair, mv: Microversion, privateKey?: string) => ({
  keypair: {
    name: k.name,
    public_key: k.publicKey,
    fingerprint: k.fingerprint,
    user_id: k.userId,
    ...typed(k, mv),
    ...(privateKey ? { private_key: privateKey } : {}),
  },
});

export const keypairDetail = (k: Keypair, mv: Microversion) => ({
  keypair: {
    name: k.name,
    public_key: k.publicKey,
    fingerprint: k.fingerprint,
    user_id: k.userId,
    created_at: isoMicros(k.createdAt),
    updated_at: null,
    deleted_at: null,
    deleted: false,
    id: k.id,
    ...typed(k, mv),
  },
});
