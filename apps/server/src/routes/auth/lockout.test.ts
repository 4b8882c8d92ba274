import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testing.js';

// Login throttling: after 5 failures a username is locked for 15 minutes, after 20 an address;
// an unknown username is treated exactly like a known one.

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

function login(username: string, password: string, remoteAddress = '192.0.2.1') {
  return server.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
    remoteAddress,
  });
}

describe('login lockout', () => {
  it('throttles a brute force on one user, from any address, then locks it out', async () => {
    for (let i = 0; i < 5; i++) {
      const wrong = await login('admin', `guess-${i}`, `192.0.2.${10 + i}`);
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toMatchObject({ error: { code: 'INVALID_CREDENTIALS' } });
    }
    // Locked: even the right password, from a fresh address, is refused without being checked.
    const locked = await login('admin', 'pw-123456', '198.51.100.7');
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({
      error: { code: 'LOGIN_LOCKED', details: { retryAfterSeconds: 900 } },
    });
    expect(locked.headers['retry-after']).toBe('900');
    // The lock itself is in the audit log, once, next to each refused login.
    const lockouts = await server.store.audit.list({ action: 'auth.lockout' });
    expect(lockouts.items).toHaveLength(1);
    expect(lockouts.items[0]).toMatchObject({
      actor: 'admin',
      result: 'LOGIN_LOCKED',
      sourceAddress: '192.0.2.14',
      details: { locked: 'username' },
    });
    const refused = await server.store.audit.list({ action: 'auth.login' });
    expect(refused.items.filter((e) => e.result === 'INVALID_CREDENTIALS')).toHaveLength(5);
    expect(refused.items.filter((e) => e.result === 'LOGIN_LOCKED')).toHaveLength(1);
    // Another user is not affected.
    await server.store.users.create({ username: 'dev', passwordHash: 'x', role: 'admin' });
    expect((await login('dev', 'nope', '198.51.100.7')).statusCode).toBe(401);
  });

  it('answers an unknown username exactly like a wrong password, lockout included', async () => {
    const answers = [];
    for (const username of ['admin', 'nobody']) {
      const trail = [];
      for (let i = 0; i < 6; i++) {
        const response = await login(username, 'wrong-password', `203.0.113.${i}`);
        const { error } = response.json<{ error: { code: string; message: string } }>();
        trail.push([response.statusCode, error.code, error.message.replace(/\d+ s/, 'N s')]);
      }
      answers.push(trail);
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.at(-1)?.[1]).toBe('LOGIN_LOCKED');
  });

  it('locks an address that tries many usernames', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await login(`user${i}`, 'x', '192.0.2.99')).statusCode).toBe(401);
    }
    const locked = await login('admin', 'pw-123456', '192.0.2.99');
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'LOGIN_LOCKED' } });
    expect((await login('admin', 'pw-123456', '192.0.2.98')).statusCode).toBe(200);
  });

  it('counts wrong second-factor codes toward the lockout', async () => {
    const session = await login('admin', 'pw-123456');
    const authorization = `Bearer ${session.json<{ accessToken: string }>().accessToken}`;
    await server.app.inject({
      method: 'POST',
      url: '/api/v1/auth/totp/enrol',
      headers: { authorization },
    });
    // Pending only: the factor is not active yet, so logins go through.
    expect((await login('admin', 'pw-123456')).statusCode).toBe(200);
    await server.store.secondFactors.activate(
      (await server.store.users.getByUsername('admin'))!.id,
      1,
    );
    for (let i = 0; i < 5; i++) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'admin', password: 'pw-123456', totpCode: '000000' },
        remoteAddress: '192.0.2.1',
      });
      expect(response.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
    }
    expect((await login('admin', 'pw-123456')).statusCode).toBe(429);
  });
});
