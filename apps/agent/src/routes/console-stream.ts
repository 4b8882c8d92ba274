import { connect } from 'node:net';
import websocket from '@fastify/websocket';
import { IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { WebSocket } from 'ws';
import type { AgentAppDeps, AgentFastify } from '../app.js';

/** Bytes the WebSocket may hold unsent before the agent stops reading the console socket. */
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * GET /v1/vms/:id/console/serial and /v1/vms/:id/console/vnc: WebSockets bridging binary frames
 * to the VM's serial or VNC unix socket (docs/adr/0012-console.md). Mutual TLS and the
 * server-only check apply to the upgrade like to any agent request.
 */
export function registerVmConsoleStreams(app: AgentFastify, deps: AgentAppDeps): void {
  void app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  // Declared once @fastify/websocket has loaded, so its onRoute hook sees them.
  void app.register((plugin, _opts, done) => {
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>();
    for (const kind of ['serial', 'vnc'] as const) {
      scope.route({
        method: 'GET',
        url: `/v1/vms/:id/console/${kind}`,
        schema: { params: IdOrNameParams },
        // An unknown or stopped VM is refused before the upgrade, with the usual error body.
        preHandler: (request, _reply, hookDone) => {
          deps.vms.consoleSocket(request.params.id, kind);
          hookDone();
        },
        handler: () => {
          throw new DomainError('VALIDATION_FAILED', 'connect with Upgrade: websocket');
        },
        wsHandler: (socket, request) => {
          const path = deps.vms.consoleSocket(request.params.id, kind);
          bridgeUnixSocket(socket, path, (err) =>
            deps.logger.info({ err, vmId: request.params.id, kind }, 'console bridge ended'),
          );
        },
      });
    }
    done();
  });
}

/** Copies bytes both ways between a WebSocket and a unix socket until either side closes. */
export function bridgeUnixSocket(
  socket: WebSocket,
  path: string,
  onEnd: (error: string | undefined) => void = () => undefined,
): void {
  const unix = connect(path);
  let ended = false;
  const end = (code: number, reason: string, error?: string) => {
    if (ended) return;
    ended = true;
    unix.destroy();
    if (socket.readyState === socket.OPEN) socket.close(code, reason);
    onEnd(error);
  };
  unix.on('data', (chunk) => {
    socket.send(chunk, { binary: true }, () => {
      if (unix.isPaused() && socket.bufferedAmount < HIGH_WATER_BYTES) unix.resume();
    });
    if (socket.bufferedAmount >= HIGH_WATER_BYTES) unix.pause();
  });
  unix.on('error', (error) => end(1011, 'console socket failed', error.message));
  unix.on('close', () => end(1000, 'console closed'));
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    unix.write(
      Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data),
    );
  });
  socket.on('close', () => end(1000, 'client left'));
  socket.on('error', (error) => end(1011, 'websocket failed', error.message));
}
