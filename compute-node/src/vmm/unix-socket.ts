// Listening on a unix socket path the way a supervised daemon must: a socket file left by a
// killed process is replaced, a live one is never stolen, and anything that is not a socket is
// never deleted.
import { lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Whether something accepts connections on `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Removes a stale socket file at `path`; throws if a live server owns it or it is not a socket. */
async function clearStale(path: string, what: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new Error(`${what} ${path} exists and is not a socket`);
  if (await isLive(path)) throw new Error(`${what} ${path} is in use by another process`);
  unlinkSync(path);
}

/** A server listening on `path` (stale socket files replaced). */
export async function listenUnix(path: string, what: string, onConnection: (s: Socket) => void): Promise<Server> {
  await clearStale(path, what);
  const server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`${what} ${path}: ${e.message}`)));
    server.listen(path, () => resolve());
  });
  return server;
}

/** Closes the server and removes its socket file (only if it is still ours: a socket). */
export function closeUnix(server: Server, path: string): void {
  server.close();
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone
  }
}
