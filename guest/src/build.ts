/** `npm run guest:build`: builds whatever guest is not cached yet and prints where each is. */
import { ensureBaremetal, ensureLinuxGuest, ensureRootfs } from './index.js';

const linux = await ensureLinuxGuest();
console.log(`linux guest: ${linux.image}`);
console.log(`root filesystem: ${(await ensureRootfs()).image}`);
console.log(`bare-metal programs: ${await ensureBaremetal()}`);
