// Every NATS subject the services use, in one place. Variable parts go through token() so a
// host or id containing '.', '*', '>' or spaces cannot split or widen a subject.

/** Makes `s` a single subject token: anything but [A-Za-z0-9_-] is %-escaped. */
export function token(s: string): string {
  if (s === '') throw new Error('empty NATS subject token');
  return s.replace(/[^A-Za-z0-9_-]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

const P = 'hn';

export const subjects = {
  /** Instance state changes (vm_state/task_state/power_state), published after Redis is written. */
  instanceEvents: (uuid: string) => `${P}.instance.${token(uuid)}.events`,
  allInstanceEvents: `${P}.instance.*.events`,
  /** Host up/down/enabled changes and capacity updates. */
  hostEvents: (host: string) => `${P}.host.${token(host)}.events`,
  allHostEvents: `${P}.host.*.events`,
  /** Serial console output of an instance, as the VM produces it. */
  console: (uuid: string) => `${P}.console.${token(uuid)}`,
  /** Prefix of one live migration's subjects (control, pages, acks, progress live under it). */
  migration: (id: string) => `${P}.migration.${token(id)}`,
} as const;

/** JetStream object store holding the image files the nodes pull into their caches. */
export const IMAGE_OBJECT_STORE = 'hn-images';
