// The OpenAPI 3.1 document's @fastify/swagger options (named components keep their $id). The app
// registers swagger with them; openapi-document.ts builds the app and returns the live document.

import type { SwaggerOptions } from '@fastify/swagger';
import { readFileSync } from 'node:fs';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function openapiOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'landfall',
        version: version(),
        description:
          "Where does this packet land? Upload a Kubernetes node's netfilter state (iptables-save, ip6tables-save, ipvsadm-save -n, ipset save) and ask what the kernel does with a packet: the KUBE-SVC/KUBE-SEP chains it walks, the endpoint it is DNATed to and with what probability, masquerade, verdict. Errors are application/problem+json (RFC 9457) with a stable `code`.",
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: the docs page and clients resolve it against wherever the server really listens.
      servers: [{ url: '/', description: 'this server' }],
      tags: [
        { name: 'rulesets', description: 'Upload and inspect node dumps' },
        { name: 'explain', description: 'Follow packets' },
        { name: 'ops', description: 'Health, readiness, metrics' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Required on /v1 when LANDFALL_TOKEN is set' },
        },
      },
    },
    // Keep each registered schema's $id as its component name (the default renames them def-N).
    refResolver: {
      buildLocalReference(json, _baseUri, _fragment, i) {
        return typeof json.$id === 'string' ? json.$id : `def-${i}`;
      },
    },
    transform: ({ schema, url }) => {
      // Mark /v1 routes as (optionally) bearer-protected.
      const s = { ...(schema as Record<string, unknown>) };
      if (url.startsWith('/v1/')) s.security = [{ bearer: [] }, {}];
      return { schema: s as never, url };
    },
  };
}
