import type { ClusterHeartbeat } from '@novacron/api';
import type { AgentLogger } from './logger.js';
import { describe, type ServerLink } from './server-link.js';

/**
 * Sends the agent's heartbeat to the server every `intervalMs` (the first at once): the host's
 * facts and every VM's observed state. A failed beat is logged once per outage and retried at
 * the next interval; the server marks the host unreachable if beats stop for long enough.
 */
export class HeartbeatLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failing = false;
  private accepted: (() => void) | undefined;
  /** Resolves once the server has accepted a heartbeat. */
  readonly firstAccepted: Promise<void>;

  constructor(
    private readonly options: {
      link: ServerLink;
      intervalMs: number;
      report: () => Promise<ClusterHeartbeat>;
      logger: AgentLogger;
    },
  ) {
    this.firstAccepted = new Promise((resolve) => (this.accepted = resolve));
  }

  start(): void {
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    this.running = this.beat().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
    });
  }

  private async beat(): Promise<void> {
    const { link, report, logger } = this.options;
    try {
      const reply = await link.heartbeat(await report());
      if (this.failing) logger.info({ server: link.serverUrl }, 'heartbeats accepted again');
      this.failing = false;
      this.accepted?.();
      this.accepted = undefined;
      if (reply.state === 'disabled') logger.debug({ host: reply.hostName }, 'host is disabled');
    } catch (error) {
      if (!this.failing) {
        logger.warn({ server: link.serverUrl, error: describe(error) }, 'heartbeat failed');
      }
      this.failing = true;
    }
  }
}
