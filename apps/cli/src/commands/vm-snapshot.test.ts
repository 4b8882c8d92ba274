import { describe, expect, it } from 'vitest';
import { snapshotName, vmCloneRequest } from './vm-snapshot.js';

describe('vm clone and snapshot arguments', () => {
  it('builds the clone request from the flags', () => {
    expect(vmCloneRequest('web-2', { start: true })).toEqual({ name: 'web-2' });
    expect(
      vmCloneRequest('web-2', {
        start: false,
        snapshot: 'before-upgrade',
        full: true,
        label: ['tier=web'],
        description: 'copy',
      }),
    ).toEqual({
      name: 'web-2',
      snapshot: 'before-upgrade',
      full: true,
      start: false,
      labels: { tier: 'web' },
      description: 'copy',
    });
  });

  it('refuses a bad VM or snapshot name before anything is sent', () => {
    expect(() => vmCloneRequest('Web_2', { start: true })).toThrow(
      expect.objectContaining({ code: 'INVALID_NAME' }),
    );
    for (const bad of ['1', '-x', 'a b', 'a/..', 'a.b', 'x'.repeat(64), '']) {
      expect(() => snapshotName(bad)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
    expect(snapshotName('before-upgrade_2')).toBe('before-upgrade_2');
  });
});
