import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import type { AgentVmSpec, VmState } from '@novacron/api';
import { writeFileAtomic } from '@novacron/qemu';
import { isValidVmId, vmFilesOf, type AgentPaths } from './paths.js';

/** What the agent last saw of a VM whose QEMU is not running: a clean stop or a crash. */
export interface RecordedExit {
  state: Extract<VmState, 'stopped' | 'error'>;
  reason: string | null;
  at: string;
}

/** The agent's per-VM state on disk: spec.json and status.json in each VM folder. */
export class VmStateDir {
  constructor(readonly paths: AgentPaths) {}

  files(id: string): ReturnType<typeof vmFilesOf> {
    return vmFilesOf(this.paths, id);
  }

  async writeSpec(spec: AgentVmSpec): Promise<void> {
    const files = this.files(spec.id);
    await mkdir(files.dir, { recursive: true });
    await writeFileAtomic(files.spec, `${JSON.stringify(spec, null, 2)}\n`);
  }

  async readSpec(id: string): Promise<AgentVmSpec | null> {
    try {
      return JSON.parse(await readFile(this.files(id).spec, 'utf8')) as AgentVmSpec;
    } catch {
      return null;
    }
  }

  async writeExit(id: string, exit: RecordedExit): Promise<void> {
    const files = this.files(id);
    await mkdir(files.dir, { recursive: true });
    await writeFileAtomic(files.status, `${JSON.stringify(exit)}\n`);
  }

  async readExit(id: string): Promise<RecordedExit | null> {
    try {
      return JSON.parse(await readFile(this.files(id).status, 'utf8')) as RecordedExit;
    } catch {
      return null;
    }
  }

  async clearExit(id: string): Promise<void> {
    await rm(this.files(id).status, { force: true });
  }

  /** Ids of every VM folder (folders with other names are ignored, never followed). */
  async listIds(): Promise<string[]> {
    try {
      const entries = await readdir(this.paths.vmsDir, { withFileTypes: true });
      return entries
        .filter((entry) => entry.isDirectory() && isValidVmId(entry.name))
        .map((entry) => entry.name)
        .sort();
    } catch {
      return [];
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.files(id).dir, { recursive: true, force: true });
  }
}
