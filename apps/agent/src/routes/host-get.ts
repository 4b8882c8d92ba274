import { AgentHostInfo } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../app.js';

export function registerHostGet(app: AgentFastify, deps: AgentAppDeps): void {
  app.get('/v1/host', { schema: { response: { 200: AgentHostInfo } } }, () => deps.hostInfo);
}
