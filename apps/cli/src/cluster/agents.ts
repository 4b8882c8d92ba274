import { spawn } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@novacron/telemetry';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS } from '../agent-runtime.js';
import { isAlive, readLivePid } from '../pid-file.js';
import { inNamespace, type TestbedLayout } from './netns.js';

/** The `novacron` command this process runs as, to start agents with. */
const cliBin = fileURLToPath(new URL('../../bin/novacron.js', import.meta.url));
/** Where a host's agent pid is kept, so that `up` started again after a crash finds it. */
const PID_FILE = 'agent.pid';
/** How often an adopted agent (not our child: no exit event) is checked for life. */
const ADOPTED_POLL_MS = 1000;

export interface AgentSpec {
  host: TestbedLayout['hosts'][number];
  dataDir: string;
  serverUrl: string;
  /** Only for the first start; later starts reuse the identity in the data directory. */
  joinToken?: string | undefined;
  env: Record<string, string | undefined>;
}

/** One supervised agent process: spawned by us, or adopted from an `up` that died. */
interface Supervised {
  pid: number;
  exited: Promise<void>;
}

/**
 * Runs one `novacron agent` process per host inside its network namespace and restarts one that
 * dies after `restartDelayMs` (long enough for the server to notice the host is gone). An agent
 * still running from an `up` that was killed is adopted, not started twice: agents and their
 * guests outlive the server, as on real hosts.
 */
export class AgentSupervisor {
  private readonly agents = new Map<string, Supervised>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly logger: Logger,
    private readonly restartDelayMs: number,
  ) {}

  async start(spec: AgentSpec): Promise<void> {
    await mkdir(spec.dataDir, { recursive: true, mode: 0o700 });
    const adopted = await runningAgent(spec.dataDir);
    const agent = adopted === null ? await this.spawn(spec) : watchAdopted(adopted);
    if (adopted !== null) {
      this.logger.info({ host: spec.host.name, pid: adopted }, 'agent still running; adopted');
    }
    this.agents.set(spec.host.name, agent);
    void agent.exited.then(() => {
      this.agents.delete(spec.host.name);
      if (this.stopping) return;
      this.logger.warn(
        { host: spec.host.name, pid: agent.pid, restartInMs: this.restartDelayMs },
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
      [...this.agents.values()].map(async (agent) => {
        const kill = setTimeout(() => signal(agent.pid, 'SIGKILL'), 15_000);
        signal(agent.pid, 'SIGTERM');
        await agent.exited;
        clearTimeout(kill);
      }),
    );
  }

  private async spawn(spec: AgentSpec): Promise<Supervised> {
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
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // `ip netns exec` execs the agent in place: the child's pid is the agent's.
    if (child.pid !== undefined) await writeFile(join(spec.dataDir, PID_FILE), `${child.pid}\n`);
    return { pid: child.pid ?? -1, exited };
  }
}

/** The pid of this host's agent if one runs (its pid file names a live `novacron agent` of this folder). */
async function runningAgent(dataDir: string): Promise<number | null> {
  const pid = await readLivePid(join(dataDir, PID_FILE));
  if (pid === undefined) return null;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const args = cmdline.split('\0');
  const dirAt = args.indexOf('--data-dir');
  return args.includes('agent') && dirAt >= 0 && args[dirAt + 1] === dataDir ? pid : null;
}

function watchAdopted(pid: number): Supervised {
  const exited = (async () => {
    while (isAlive(pid)) await sleep(ADOPTED_POLL_MS);
  })();
  return { pid, exited };
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
