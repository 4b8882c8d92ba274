import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Vm } from '@novacron/api';
import {
  cell,
  formatBytes,
  formatMiB,
  renderList,
  renderOne,
  renderTable,
  vmColumns,
  vmFields,
} from './output.js';

function vm(name: string, extra: Partial<Vm> = {}): Vm {
  return {
    id: `vm-${name}`,
    name,
    project: 'default',
    state: 'running',
    desiredState: 'running',
    host: 'host-a',
    image: 'tiny',
    imageId: 'i1',
    description: '',
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 2,
    kernelArgs: '',
    labels: {},
    stateReason: null,
    restartPolicy: 'never',
    pool: 'local',
    placement: {},
    restarts: 0,
    lastRestartAt: null,
    version: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

describe('tables', () => {
  it('aligns columns to the widest cell, without trailing blanks', () => {
    const vms = [
      vm('demo'),
      vm('web-server-01', { state: 'stopped', host: null, cpus: 16, memoryMiB: 4096 }),
    ];
    expect(renderTable(vmColumns, vms)).toBe(
      [
        'NAME           STATE    HOST    CPUS  MEMORY  IMAGE',
        'demo           running  host-a  1     256M    tiny',
        'web-server-01  stopped  -       16    4G      tiny',
        '',
      ].join('\n'),
    );
  });

  it('prints only the header for an empty list', () => {
    expect(renderList('table', [], vmColumns)).toBe('NAME  STATE  HOST  CPUS  MEMORY  IMAGE\n');
  });

  it('keeps control characters from the server off the terminal', () => {
    expect(cell('bad\u001b[31mred\nline')).toBe('bad?[31mred line');
    expect(cell(null)).toBe('-');
    expect(cell('')).toBe('-');
  });

  it('shows one object as aligned fields', () => {
    const text = renderOne('table', vm('demo', { stateReason: 'qemu exited' }), vmFields);
    expect(text.split('\n').slice(0, 6)).toEqual([
      'name:           demo',
      'id:             vm-demo',
      'project:        default',
      'state:          running',
      'desired state:  running',
      'state reason:   qemu exited',
    ]);
    expect(text).toContain('memory:         256M\n');
    expect(text).toContain('kernel args:    -\n');
  });
});

describe('json and yaml', () => {
  it('print the API objects exactly', () => {
    const demo = vm('demo');
    const vms = [demo, vm('other', { labels: { tier: 'web' } })];
    expect(JSON.parse(renderList('json', vms, vmColumns))).toEqual(vms);
    expect(parse(renderList('yaml', vms, vmColumns))).toEqual(vms);
    expect(JSON.parse(renderOne('json', demo, vmFields))).toEqual(demo);
  });
});

describe('sizes', () => {
  it('show memory with the suffixes the CLI accepts', () => {
    expect(formatMiB(256)).toBe('256M');
    expect(formatMiB(1536)).toBe('1536M');
    expect(formatMiB(2048)).toBe('2G');
    expect(formatMiB(1024 * 1024)).toBe('1T');
  });

  it('show byte counts in binary units', () => {
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1536)).toBe('1.5K');
    expect(formatBytes(31 * 1024 * 1024 + 300 * 1024)).toBe('31M');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3G');
  });
});
