import { AuditPage, AuditQuery } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerAuditList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/audit',
    {
      config: { permission: 'audit.read' },
      schema: {
        summary: 'Read the audit log, newest first (cluster admin)',
        description:
          'Every mutating call and every refused token: who, what, target, project, source address, result. Entries are appended, never changed.',
        querystring: AuditQuery,
        response: { 200: AuditPage },
      },
    },
    async (request) => {
      const { limit, cursor, user, action, since, until } = request.query;
      return deps.store.audit.list({
        limit: limit ?? 100,
        ...(cursor === undefined ? {} : { cursor }),
        ...(user === undefined ? {} : { actor: user }),
        ...(action === undefined ? {} : { action }),
        ...(since === undefined ? {} : { since: new Date(since).toISOString() }),
        ...(until === undefined ? {} : { until: new Date(until).toISOString() }),
      });
    },
  );
}
