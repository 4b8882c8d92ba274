import type { ServerApp, ServerDeps } from '../../deps.js';
import { registerConsoleProxy } from './console.js';

/** GET /api/v1/vms/{idOrName}/vnc: the VM's VNC display as an RFB byte stream (ADR 12). */
export function registerVmVnc(app: ServerApp, deps: ServerDeps): void {
  registerConsoleProxy(app, deps, 'vnc');
}
