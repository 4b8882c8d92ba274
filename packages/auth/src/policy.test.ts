import { describe, expect, it } from 'vitest';
import { authorize, canDelegate, PERMISSIONS, visibleProjects, type Principal } from './policy.js';

const user = (bindings: Principal['bindings'], global = false): Principal => ({
  kind: 'user',
  userId: 'u1',
  username: 'alice',
  global,
  bindings,
});

describe('authorize', () => {
  it('lets a viewer read its project and nothing more', () => {
    const viewer = user([{ project: 'a', role: 'viewer' }]);
    expect(authorize(viewer, 'vm.read', 'a')).toEqual({ allow: true });
    expect(authorize(viewer, 'vm.create', 'a')).toMatchObject({
      allow: false,
      reason: 'forbidden',
    });
    expect(authorize(viewer, 'vm.read', 'b')).toMatchObject({ allow: false, reason: 'not-member' });
  });

  it('lets an operator change VMs of its project only', () => {
    const operator = user([{ project: 'a', role: 'operator' }]);
    expect(authorize(operator, 'vm.delete', 'a')).toEqual({ allow: true });
    expect(authorize(operator, 'vm.delete', 'b')).toMatchObject({ reason: 'not-member' });
    expect(authorize(operator, 'host.manage', null)).toMatchObject({ reason: 'forbidden' });
  });

  it('keeps cluster-wide permissions for the global admin', () => {
    const projectAdmin = user([{ project: 'a', role: 'admin' }]);
    for (const permission of ['user.manage', 'project.manage', 'audit.read'] as const) {
      expect(authorize(projectAdmin, permission, null).allow).toBe(false);
      expect(authorize(user([], true), permission, null).allow).toBe(true);
    }
  });

  it('allows public without a caller and nothing else', () => {
    for (const permission of PERMISSIONS) {
      expect(authorize(undefined, permission, 'a').allow).toBe(permission === 'public');
    }
  });

  it('lists only the projects where the role allows reading', () => {
    const both = user([
      { project: 'a', role: 'viewer' },
      { project: 'b', role: 'operator' },
    ]);
    expect(visibleProjects(both, 'vm.read')).toEqual(['a', 'b']);
    expect(visibleProjects(both, 'vm.create')).toEqual(['b']);
    expect(visibleProjects(user([], true), 'vm.read')).toBeUndefined();
  });

  it('delegates no more than the caller holds', () => {
    const operator = user([{ project: 'a', role: 'operator' }]);
    expect(canDelegate(operator, 'a', 'viewer')).toBe(true);
    expect(canDelegate(operator, 'a', 'admin')).toBe(false);
    expect(canDelegate(operator, 'b', 'viewer')).toBe(false);
    expect(canDelegate({ ...operator, kind: 'token' }, 'a', 'viewer')).toBe(false);
  });
});
