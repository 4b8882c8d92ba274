import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@novacron/telemetry';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS } from '../agent-runtime.js';
import { inNamespace, type TestbedLayout } from './netns.js';

/** The `novacron` command this process runs as, to start agents with. */
const cliBin = fileURLToPath(new URL('../../bin/novacron.js', import.meta.url));

export interface AgentSpec {
  host: TestbedLayout['hosts'][number];
  dataDir: string;
  serverUrl: string;
  /** Only for the first start; later starts reuse the identity in the data directory. */
  joinToken?: string | undefined;
  env: Record<string, string | undefined>;
}

/**
 * Runs one `novacron agent` process per host inside its network namespace and restarts one that
 * dies after `restartDelayMs` (long enough for the server to notice the host is gone).
 */
export class AgentSupervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly logger: Logger,
    private readonly restartDelayMs: number,
  ) {}

  async start(spec: AgentSpec): Promise<void> {
    await mkdir(spec.dataDir, { recursive: true, mode: 0o700 });
    const log = await open(join(spec.dataDir, 'agent.log'), 'a');
    const args = [
      cliBin,
      'agent',
      '--server',
      spec.serverUrl,
      '--name',
      spec.host.name,
      '--data-dir',
      spec.dataDir,
      '--address',
      spec.host.address,
      ...(spec.joinToken === undefined ? [] : ['--join', spec.joinToken]),
    ];
    const [command, commandArgs] = inNamespace(spec.host.namespace, process.execPath, [
      ...AGENT_NODE_FLAGS,
      ...args,
    ]);
    const child = spawn(command, commandArgs, {
      env: { ...spec.env, ...AGENT_MALLOC_ENV },
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    this.children.set(spec.host.name, child);
    child.once('exit', (code, signal) => {
      this.children.delete(spec.host.name);
      if (this.stopping) return;
      this.logger.warn(
        { host: spec.host.name, code, signal, restartInMs: this.restartDelayMs },
        'agent exited; restarting it',
      );
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.stopping) return;
        // A token is good once: a restarted agent uses the identity it stored when it joined.
        this.start({ ...spec, joinToken: undefined }).catch((error: unknown) =>
          this.logger.error({ host: spec.host.name, err: error }, 'agent restart failed'),
        );
      }, this.restartDelayMs);
      this.timers.add(timer);
    });
  }

  /** Stops every agent (SIGTERM, SIGKILL after 15 s); their VMs keep running. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
