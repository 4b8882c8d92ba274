/**
 * How an agent process is started, so that it stays small (docs/performance.md): a young
 * generation of 1 MiB semi-spaces instead of V8's 16 (the agent allocates little, and a large
 * young generation stays resident once grown), and glibc malloc returning freed memory instead
 * of keeping it after the peaks of a VM start. bin/novacron.js carries the same settings in its
 * `#!` line for an agent started by hand; keep both in step.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

export const AGENT_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
