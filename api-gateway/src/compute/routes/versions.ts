// Nova's version documents (shared/openstack-api-contract.md §3): GET /compute/v2.1 is required
// by openstacksdk and the nova CLI for negotiation; GET /compute lists v2.0 and v2.1, and
// GET /compute/v2 answers the v2.0 document Tempest follows the links to.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { MAX_VERSION, MIN_VERSION } from '../microversion.js';

// With no microversion above 2.1 Nova's "Kilo style" empty strings are advertised: clients then send none.
const range = () =>
  MAX_VERSION.compare(MIN_VERSION) === 0
    ? { version: '', min_version: '' }
    : { version: `${MAX_VERSION}`, min_version: `${MIN_VERSION}` };

function v21(base: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    ...range(),
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/compute/v2.1/` }],
  };
}

function v20(base: string) {
  return {
    id: 'v2.0',
    status: 'SUPPORTED',
    version: '',
    min_version: '',
    updated: '2011-01-21T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/compute/v2/` }],
  };
}

const details = (doc: ReturnType<typeof v21>, type: string) => ({
  version: {
    ...doc,
    links: [...doc.links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
    'media-types': [{ base: 'application/json', type }],
  },
});

export function registerComputeVersions(app: FastifyInstance, gw: Gateway): void {
  app.get('/compute', async (request) => {
    const base = baseUrl(gw.config.publicUrl, request);
    return { versions: [v20(base), v21(base)] };
  });
  app.get('/compute/v2', async (request) =>
    details(v20(baseUrl(gw.config.publicUrl, request)), 'application/vnd.openstack.compute+json;version=2'),
  );
}

/** GET /compute/v2.1 itself, registered inside the versioned scope (it echoes the version headers). */
export function registerV21Document(app: FastifyInstance, gw: Gateway): void {
  app.get('/', { config: { public: true } }, async (request) =>
    details(v21(baseUrl(gw.config.publicUrl, request)), 'application/vnd.openstack.compute+json;version=2.1'),
  );
}
