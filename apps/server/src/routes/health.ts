import { Type } from 'typebox';
import type { ServerApp, ServerDeps } from '../deps.js';

const STORE_TIMEOUT_MS = 2000;

const ReadyStatus = Type.Object({
  status: Type.Enum(['ready', 'not-ready']),
  reason: Type.Optional(Type.String()),
});

/**
 * Whether the server has finished starting (and not begun stopping): the composition root says
 * so, /readyz reports it. A load balancer sends traffic only to a ready replica.
 */
export class Readiness {
  #reason: string | undefined = 'starting';

  /** Undefined when ready, else why not. */
  get notReadyReason(): string | undefined {
    return this.#reason;
  }

  ready(): void {
    this.#reason = undefined;
  }

  notReady(reason: string): void {
    this.#reason = reason;
  }
}

export function registerHealth(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: started, and the store answers',
        description:
          '200 when the server has finished starting and its store answers a query; 503 with the reason otherwise.',
        response: { 200: ReadyStatus, 503: ReadyStatus },
      },
    },
    async (request, reply) => {
      // An app built without a Readiness (tests) is ready once it answers.
      const starting = deps.readiness?.notReadyReason;
      if (starting !== undefined) {
        return reply.status(503).send({ status: 'not-ready', reason: starting });
      }
      const storeProblem = await probeStore(deps);
      if (storeProblem !== undefined) {
        // The probe is public: the details (addresses, users) go to the log only.
        request.log.warn({ problem: storeProblem }, 'readiness: the store does not answer');
        return reply.status(503).send({ status: 'not-ready', reason: 'the store does not answer' });
      }
      return { status: 'ready' as const };
    },
  );
}

/** Undefined when the store answers a query in time, else what went wrong. */
async function probeStore(deps: ServerDeps): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${STORE_TIMEOUT_MS} ms`), STORE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      deps.store.events.lastSeq().then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
