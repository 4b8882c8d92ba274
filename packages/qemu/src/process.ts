import { readFile } from 'node:fs/promises';

/** The pid a QEMU wrote with `-pidfile`, or null when there is no such file. */
export async function readPidFile(path: string): Promise<number | null> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** The argument vector of a live process; null when it is gone or a zombie (empty cmdline). */
export async function processArguments(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return null;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return null;
  }
}

/**
 * True when `args` is the QEMU of VM `vmId` with this pidfile: a pid reused by another process
 * after QEMU died must not be taken for the VM.
 */
export function isQemuOfVm(args: readonly string[], vmId: string, pidFile: string): boolean {
  const program = args[0] ?? '';
  if (!/qemu-system-/.test(program.slice(program.lastIndexOf('/') + 1))) return false;
  const name = args[args.indexOf('-name') + 1] ?? '';
  const pidArg = args[args.indexOf('-pidfile') + 1] ?? '';
  return (name === `guest=${vmId}` || name.startsWith(`guest=${vmId},`)) && pidArg === pidFile;
}

/** The pid of the live QEMU of this VM according to its pidfile, or null. */
export async function findQemuPid(vmId: string, pidFile: string): Promise<number | null> {
  const pid = await readPidFile(pidFile);
  if (pid === null) return null;
  const args = await processArguments(pid);
  return args && isQemuOfVm(args, vmId, pidFile) ? pid : null;
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
