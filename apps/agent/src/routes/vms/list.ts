import { Type } from '@fastify/type-provider-typebox';
import { AgentVmStatus } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

export function registerVmList(app: AgentFastify, deps: AgentAppDeps): void {
  app.get('/v1/vms', { schema: { response: { 200: Type.Array(AgentVmStatus) } } }, () =>
    deps.vms.list(),
  );
}
