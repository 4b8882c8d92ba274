import type { AgentAppDeps, AgentFastify } from '../app.js';

/** GET /metrics: the Prometheus text exposition, behind the agent's mutual TLS like every route. */
export function registerMetricsRoute(app: AgentFastify, deps: AgentAppDeps): void {
  const { metrics } = deps;
  if (metrics === undefined) return;
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.text();
    return reply.type(contentType).send(body);
  });
}
