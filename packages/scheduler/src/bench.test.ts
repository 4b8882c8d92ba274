import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The scheduler benchmark at a small size as a smoke test: its independent checker finds no
// invalid placement and no wrong refusal. Figures are for bench/, never asserted here. It runs
// the built package (dist), as `npm run bench:scheduler` does; `npm run check` builds first.
const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('bench:scheduler at a small size', () => {
  it('finds 0 invalid placements and 0 wrong refusals', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bench/scheduler.mjs', '--hosts', '200', '--vms', '4000', '--peer-vms', '500', '--json'],
      { cwd: root },
    );
    const report = JSON.parse(stdout) as {
      vms: number;
      grouped: number;
      sampled: { invalid: number; wronglyRefused: number; refused: number };
      peer: { complete: { invalid: number }; sampled: { invalid: number } };
    };
    expect(report.vms).toBe(4000);
    expect(report.grouped).toBeGreaterThan(0);
    expect(report.sampled.invalid).toBe(0);
    expect(report.sampled.wronglyRefused).toBe(0);
    expect(report.peer.complete.invalid).toBe(0);
    expect(report.peer.sampled.invalid).toBe(0);
  }, 60_000);
});
