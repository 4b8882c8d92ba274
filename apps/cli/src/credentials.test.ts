import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '@novacron/testkit';
import { FileCredentialStore } from './credentials.js';

const token = {
  username: 'admin',
  accessToken: 'access',
  refreshToken: 'refresh',
  expiresAt: '2026-01-01T01:00:00.000Z',
};

let dir: { path: string; remove(): Promise<void> };
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await dir.remove();
});

describe('FileCredentialStore', () => {
  it('keeps tokens per server in a file only its owner can read', async () => {
    const file = join(dir.path, 'config', 'novacron', 'credentials.json');
    const store = new FileCredentialStore(file);

    await store.save('http://127.0.0.1:8090/', token);
    await store.save('https://other:8090', { ...token, accessToken: 'other' });

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir.path, 'config', 'novacron'))).mode & 0o777).toBe(0o700);
    expect(await store.get('http://127.0.0.1:8090')).toEqual(token);
    expect((await new FileCredentialStore(file).get('https://other:8090/'))?.accessToken).toBe(
      'other',
    );
    expect(await store.get('http://127.0.0.1:9999')).toBeUndefined();
  });

  it('forgets one server on logout', async () => {
    const store = new FileCredentialStore(join(dir.path, 'credentials.json'));
    await store.save('http://127.0.0.1:8090', token);

    expect(await store.remove('http://127.0.0.1:8090')).toBe(true);
    expect(await store.remove('http://127.0.0.1:8090')).toBe(false);
    expect(await store.get('http://127.0.0.1:8090')).toBeUndefined();
  });

  it('reads a missing file as no credentials', async () => {
    const store = new FileCredentialStore(join(dir.path, 'absent.json'));
    expect(await store.get('http://127.0.0.1:8090')).toBeUndefined();
  });
});
