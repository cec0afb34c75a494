// The base URL clients reach the gateway at, for the catalog and links: API_PUBLIC_URL when set
// (behind a proxy or in a container), else what the client used to reach this request.
import type { FastifyRequest } from 'fastify';

export function baseUrl(publicUrl: string, request: FastifyRequest): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}
