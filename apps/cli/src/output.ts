import { stringify } from 'yaml';
import type { Host, Image, Operation, Vm } from '@novacron/api';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function toYaml(value: unknown): string {
  return stringify(value);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/** Server strings reach a terminal: control characters could move the cursor or recolour it. */
export function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value)
    .replace(/\s+/g, ' ')
    .replace(/[\p{Cc}]/gu, '?');
}

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = [
    columns.map((c) => c.header),
    ...rows.map((row) => columns.map((c) => cell(c.value(row)))),
  ];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]?.length ?? 0)));
  return cells
    .map((line) =>
      line
        .map((text, i) => (i === line.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** One object as `label:  value` lines, for `get`. */
export function renderFields(
  fields: readonly (readonly [string, string | number | null])[],
): string {
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${cell(value)}\n`).join('');
}

/** 256 -> `256M`, 2048 -> `2G`: the same suffixes the CLI accepts. */
export function formatMiB(mib: number): string {
  if (mib >= 1024 * 1024 && mib % (1024 * 1024) === 0) return `${mib / (1024 * 1024)}T`;
  if (mib >= 1024 && mib % 1024 === 0) return `${mib / 1024}G`;
  return `${mib}M`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${shown}${units[unit]}`;
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export const vmColumns: readonly Column<Vm>[] = [
  { header: 'NAME', value: (vm) => vm.name },
  { header: 'STATE', value: (vm) => vm.state },
  { header: 'HOST', value: (vm) => vm.host ?? '-' },
  { header: 'CPUS', value: (vm) => String(vm.cpus) },
  { header: 'MEMORY', value: (vm) => formatMiB(vm.memoryMiB) },
  { header: 'IMAGE', value: (vm) => vm.image },
];

export function vmFields(vm: Vm): [string, string | number | null][] {
  return [
    ['name', vm.name],
    ['id', vm.id],
    ['project', vm.project],
    ['state', vm.state],
    ['desired state', vm.desiredState],
    ['state reason', vm.stateReason],
    ['host', vm.host],
    ['image', vm.image],
    ['cpus', vm.cpus],
    ['memory', formatMiB(vm.memoryMiB)],
    ['disk', `${vm.diskGiB}G`],
    ['pool', vm.pool],
    ['kernel args', vm.kernelArgs],
    ['labels', formatLabels(vm.labels)],
    ['description', vm.description],
    ['restart', vm.restartPolicy],
    ['restarts', vm.restarts],
    ['last restart', vm.lastRestartAt],
    // Shown only when they apply: most VMs are neither templates nor linked clones.
    ...(vm.template === true ? [['template', 'yes'] as [string, string]] : []),
    ...(vm.baseVm ? [['linked to', vm.baseVm] as [string, string]] : []),
    ['version', vm.version],
    ['created', vm.createdAt],
    ['updated', vm.updatedAt],
  ];
}

/** A host's state, and whether it is cordoned (it takes no new VMs while it keeps its own). */
export function hostState(host: Host): string {
  if (host.maintenance) return `${host.state},maintenance`;
  return host.cordoned ? `${host.state},cordoned` : host.state;
}

export const hostColumns: readonly Column<Host>[] = [
  { header: 'NAME', value: (host) => host.name },
  { header: 'STATE', value: hostState },
  { header: 'CPUS', value: (host) => String(host.cpus) },
  { header: 'MEMORY', value: (host) => formatMiB(host.memoryMiB) },
  { header: 'ACCEL', value: (host) => host.accelerator ?? '-' },
  { header: 'QEMU', value: (host) => host.qemuVersion },
];

export function hostFields(host: Host): [string, string | number | null][] {
  return [
    ['name', host.name],
    ['id', host.id],
    ['state', host.state],
    ['cordoned', host.cordoned ? 'yes' : 'no'],
    ['maintenance', host.maintenance ? 'yes' : 'no'],
    ['agent url', host.agentUrl],
    ['cpus', host.cpus],
    ['memory', formatMiB(host.memoryMiB)],
    ['accelerator', host.accelerator],
    ['accelerator reason', host.acceleratorReason],
    ['qemu', host.qemuVersion],
    ['labels', formatLabels(host.labels)],
    ['last heartbeat', host.lastHeartbeatAt],
    ['created', host.createdAt],
    ['updated', host.updatedAt],
  ];
}

export const imageColumns: readonly Column<Image>[] = [
  { header: 'NAME', value: (image) => image.name },
  { header: 'PROJECT', value: (image) => image.project },
  { header: 'KIND', value: (image) => image.kind },
  { header: 'STATUS', value: (image) => image.status },
  { header: 'SIZE', value: (image) => formatBytes(image.sizeBytes) },
];

export function imageFields(image: Image): [string, string | number | null][] {
  return [
    ['name', image.name],
    ['id', image.id],
    ['project', image.project],
    ['kind', image.kind],
    ['status', image.status],
    ['builtin', image.builtin ? 'yes' : 'no'],
    ['size', formatBytes(image.sizeBytes)],
    ['default kernel args', image.defaultKernelArgs],
    ['sha256', image.sha256],
    ['created', image.createdAt],
    ['updated', image.updatedAt],
  ];
}

function operationError(operation: Operation): string | null {
  return operation.error ? `${operation.error.code}: ${operation.error.message}` : null;
}

export const operationColumns: readonly Column<Operation>[] = [
  { header: 'ID', value: (op) => op.id },
  { header: 'KIND', value: (op) => op.kind },
  { header: 'TARGET', value: (op) => `${op.target.type} ${op.target.name}` },
  { header: 'STATUS', value: (op) => op.status },
  { header: 'PHASE', value: (op) => op.phase },
  { header: 'PROGRESS', value: (op) => `${Math.round(op.progress)}%` },
  { header: 'ERROR', value: (op) => operationError(op) ?? '-' },
];

export function operationFields(operation: Operation): [string, string | number | null][] {
  return [
    ['id', operation.id],
    ['kind', operation.kind],
    ['target', `${operation.target.type} ${operation.target.name} (${operation.target.id})`],
    ['status', operation.status],
    ['phase', operation.phase],
    ['progress', `${Math.round(operation.progress)}%`],
    ['error', operationError(operation)],
    ['result', operation.result === null ? null : JSON.stringify(operation.result)],
    ['created', operation.createdAt],
    ['updated', operation.updatedAt],
  ];
}

/** A list in the chosen format: json and yaml print the API objects as they came. */
export function renderList<T>(
  format: OutputFormat,
  items: readonly T[],
  columns: readonly Column<T>[],
): string {
  switch (format) {
    case 'json':
      return toJson(items);
    case 'yaml':
      return toYaml(items);
    case 'table':
      return renderTable(columns, items);
  }
}

/** One object in the chosen format; `table` shows its fields one per line. */
export function renderOne<T>(
  format: OutputFormat,
  item: T,
  fields: (item: T) => readonly (readonly [string, string | number | null])[],
): string {
  switch (format) {
    case 'json':
      return toJson(item);
    case 'yaml':
      return toYaml(item);
    case 'table':
      return renderFields(fields(item));
  }
}

/** The short line an action prints when it does not wait. */
export function operationLine(operation: Operation): string {
  return `operation ${operation.id} ${operation.kind} ${operation.status} (${operation.target.type} ${operation.target.name})\n`;
}
