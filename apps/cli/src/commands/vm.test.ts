import { describe, expect, it } from 'vitest';
import { vmCreateRequest } from './vm.js';

describe('vmCreateRequest', () => {
  it('turns size suffixes into the MiB and GiB the API takes', () => {
    expect(
      vmCreateRequest('demo', {
        image: 'tiny',
        cpus: '2',
        memory: '1.5G',
        disk: '2G',
        host: 'host-a',
        kernelArgs: 'workload=dirty dirty_mib_s=8 wss_mib=64',
        start: false,
      }),
    ).toEqual({
      name: 'demo',
      image: 'tiny',
      cpus: 2,
      memoryMiB: 1536,
      diskGiB: 2,
      host: 'host-a',
      kernelArgs: 'workload=dirty dirty_mib_s=8 wss_mib=64',
      start: false,
    });
    expect(vmCreateRequest('demo', { image: 'tiny', memory: '256', start: true })).toEqual({
      name: 'demo',
      image: 'tiny',
      memoryMiB: 256,
      start: true,
    });
  });

  it('refuses names with shell or path characters with INVALID_NAME', () => {
    for (const name of ['Demo', 'a/b', '../x', 'a;rm -rf', '$(id)', '-x', 'x'.repeat(64)]) {
      expect(() => vmCreateRequest(name, { image: 'tiny', start: true })).toThrow(
        expect.objectContaining({ code: 'INVALID_NAME' }),
      );
    }
  });

  it('refuses sizes it cannot read with INVALID_SIZE', () => {
    for (const memory of ['12X', 'lots', '-1G', '0.3M']) {
      expect(() => vmCreateRequest('demo', { image: 'tiny', memory, start: true })).toThrow(
        expect.objectContaining({ code: 'INVALID_SIZE' }),
      );
    }
    expect(() => vmCreateRequest('demo', { image: 'tiny', disk: '1500M', start: true })).toThrow(
      expect.objectContaining({ code: 'INVALID_SIZE' }),
    );
  });

  it('refuses a vCPU count that is not a whole number', () => {
    for (const cpus of ['0', 'two', '1.5', '-2']) {
      expect(() => vmCreateRequest('demo', { image: 'tiny', cpus, start: true })).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
  });
});
