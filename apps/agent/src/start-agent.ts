import { mkdir } from 'node:fs/promises';
import type { AgentHostInfo } from '@novacron/api';
import type { Config } from '@novacron/config';
import { DomainError } from '@novacron/domain';
import {
  checkHostPrerequisites,
  ensureTinyImage,
  qemuVersion,
  selectAccelerator,
  type ProbeImage,
} from '@novacron/qemu';
import { buildAgentApp } from './app.js';
import { measureHostInfo } from './host-info.js';
import type { AgentLogger } from './logger.js';
import { agentPaths } from './paths.js';
import { VmManager } from './vm-manager.js';
import { VmStateDir } from './vm-state-dir.js';

export interface StartAgentOptions {
  /** Uses agentHost, agentPort (0 = any free port), agentName, accel and dataDir. */
  config: Pick<Config, 'agentHost' | 'agentPort' | 'agentName' | 'accel' | 'dataDir'>;
  logger: AgentLogger;
  /**
   * One folder per image id holding `vmlinuz` and `initrd.img`. On one machine this is the
   * server's image store; agents that join pull images from the server instead (later).
   */
  imageDir: string;
  /** The guest that tests KVM when accel is auto; default: the tiny image, built on demand. */
  probeImage?: () => Promise<ProbeImage>;
  /** Cluster CPU model; default per accelerator. */
  cpuModel?: string;
}

export interface RunningAgent {
  url: string;
  info: AgentHostInfo;
  /** Stops the API and lets go of the VMs: QEMU processes keep running. */
  close(): Promise<void>;
}

/**
 * The host agent: checks host programs, picks the accelerator, re-attaches to the QEMUs still
 * running from an earlier agent, and serves the agent API.
 */
export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { config, logger } = options;
  const prerequisites = await checkHostPrerequisites();
  if (!prerequisites.ok) {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      prerequisites.message ?? 'missing host programs',
      {
        missing: prerequisites.missing,
        installCommand: prerequisites.installCommand,
      },
    );
  }

  const paths = agentPaths(config.dataDir);
  await mkdir(paths.vmsDir, { recursive: true });
  const verdict = await selectAccelerator({
    mode: config.accel,
    cacheFile: paths.accelCache,
    logger,
    probeImage:
      options.probeImage ??
      (() =>
        ensureTinyImage({ cacheDir: paths.packageCacheDir, outDir: paths.probeImageDir, logger })),
  });
  logger.info({ ...verdict }, 'accelerator selected');
  const info = measureHostInfo(config.agentName, verdict, (await qemuVersion()).version);

  const vms = new VmManager({
    stateDir: new VmStateDir(paths),
    imageDir: options.imageDir,
    accelerator: verdict.accelerator,
    logger,
    ...(options.cpuModel === undefined ? {} : { cpuModel: options.cpuModel }),
  });
  await vms.reattach();

  const app = buildAgentApp({ vms, hostInfo: info, logger });
  try {
    await app.listen({ host: config.agentHost, port: config.agentPort });
  } catch (error) {
    await vms.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.agentPort;
  const url = `http://${urlHost(config.agentHost)}:${port}`;
  logger.info({ url, host: info.name }, 'agent listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    info,
    close: () => {
      closing ??= (async () => {
        await app.close();
        await vms.close();
      })();
      return closing;
    },
  };
}

/** A host a client can dial: the wildcard addresses mean this machine. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
