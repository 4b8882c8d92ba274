import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { EVENT_STREAM_CLOSE_CODES, EventStreamQuery } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { authenticateToken } from '../../authenticate.js';
import { eventVisibility } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import {
  DEFAULT_EVENT_STREAM_OPTIONS,
  EventStreamConnection,
  type EventStreamOptions,
} from './connection.js';
import { selectEventTypes, splitPatterns } from './event-types.js';

export const EVENTS_PATH = '/api/v1/events';

const DESCRIPTION = `WebSocket (JSON text frames). Send \`{"type":"auth","token":"<access token>"}\` first (a token in the URL is refused), then optionally \`{"type":"subscribe","types":["vm.*"],"since":N,"project":"default"}\`; the query takes the same filters. The server answers \`{"type":"subscribed",...}\`, replays the stored events with seq > since, then streams new ones, each an Event object, in seq order with no gap and no duplicate. Reconnect with since = the last seq received to resume. Live types (metrics.sample, migration.progress; \`*\` includes them) come as \`{"type":"live","event":{...},"dropped":N}\` once the replay is done: no seq, never stored or replayed, and dropped rather than queued for a reader that is behind (\`dropped\` counts them). Close codes: 4400 bad message, 4401 unauthenticated, 4429 reader too slow (resume with since), 1001 server stopping. Frames: the EventStreamClientMessage and EventStreamServerMessage schemas.`;

/** GET /api/v1/events: the event stream (ARCHITECTURE.md §6). */
export function registerEventStream(
  app: ServerApp,
  deps: Pick<ServerDeps, 'store' | 'tokens' | 'clock' | 'logger' | 'live'>,
  options: Partial<EventStreamOptions> = {},
): void {
  const settings = { ...DEFAULT_EVENT_STREAM_OPTIONS, ...options };
  const connections = new Set<EventStreamConnection>();
  // The caller sees the events of its projects only (authorization.ts).
  const authenticate = async (token: string) =>
    eventVisibility(await authenticateToken(deps, token));
  // On the root and added now, so it runs before @fastify/websocket's own preClose, which would
  // close every socket without a code: clients learn why and that resuming will work.
  app.addHook('preClose', (hookDone) => {
    for (const connection of connections) {
      connection.close(
        EVENT_STREAM_CLOSE_CODES.GOING_AWAY,
        'server stopping; reconnect with since',
      );
    }
    hookDone();
  });
  // A WebSocket route must be declared once @fastify/websocket has loaded (its onRoute hook
  // turns the route into an upgrade), so it lives in a plugin registered after it.
  void app.register((plugin, _opts, done) => {
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>();
    scope.route({
      method: 'GET',
      url: EVENTS_PATH,
      config: { permission: 'event.read' },
      schema: {
        summary: 'Stream events (WebSocket)',
        description: DESCRIPTION,
        querystring: EventStreamQuery,
      },
      // Bad filters are refused before the upgrade, as a 400 with the usual error body.
      preHandler: (request, _reply, hookDone) => {
        selectEventTypes(splitPatterns(request.query.types));
        hookDone();
      },
      handler: () => {
        throw new DomainError(
          'VALIDATION_FAILED',
          `${EVENTS_PATH} is a WebSocket: connect with Upgrade: websocket`,
        );
      },
      wsHandler: (socket, request) => {
        const connection = new EventStreamConnection(
          socket,
          { ...deps, authenticate },
          {
            ...selectEventTypes(splitPatterns(request.query.types)),
            since: request.query.since,
            project: request.query.project,
          },
          settings,
          () => connections.delete(connection),
        );
        connections.add(connection);
        // Tokens in URLs end up in logs and browser history.
        const query = new URL(request.url, 'http://localhost').searchParams;
        if (query.has('token') || query.has('access_token')) {
          connection.fail(
            'UNAUTHENTICATED',
            'a token in the URL is refused; send {"type":"auth","token":...} as the first message',
            EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED,
          );
        }
      },
    });
    done();
  });
}
