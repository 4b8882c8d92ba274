import { createServer } from 'node:http';
import { DomainError } from '@novacron/domain';
import type { ServerApp } from '../../deps.js';
import { errorBody } from '../../errors.js';
import { EVENTS_PATH } from './watch.js';

export interface EventsListener {
  /** The port it listens on (the kernel's choice when asked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

function pathOf(url: string | undefined): string {
  return (url ?? '').split('?', 1)[0] ?? '';
}

/**
 * The extra listener on NOVACRON_WS_PORT: the same event stream as the API port, for clients of
 * the seed that expect it there. It serves GET /api/v1/events only, through the app's own routing,
 * so auth, validation and limits are the same on both ports.
 */
export async function listenEvents(
  app: ServerApp,
  host: string,
  port: number,
): Promise<EventsListener> {
  const notFound = (path: string) =>
    JSON.stringify(
      errorBody(
        new DomainError('ROUTE_NOT_FOUND', `this port serves only ${EVENTS_PATH}, not ${path}`),
      ),
    );
  const server = createServer((request, response) => {
    const path = pathOf(request.url);
    if (path === EVENTS_PATH) {
      app.routing(request, response);
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
    response.end(notFound(path.slice(0, 200)));
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('upgrade', (request, socket, head) => {
    if (pathOf(request.url) === EVENTS_PATH) {
      // @fastify/websocket upgrades what the app's own server hands it.
      app.server.emit('upgrade', request, socket, head);
      return;
    }
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
