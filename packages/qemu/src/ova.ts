import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError } from '@novacron/domain';

// OVA (VMware, VirtualBox): a tar holding an OVF descriptor, an optional manifest and the disks.
// Read here without `tar`: only plain files are accepted, no links, devices or folders, and
// nothing is written under a name from the archive, so no path can escape.

/** One plain file of a tar: where its bytes are. */
export interface TarEntry {
  name: string;
  offset: number;
  size: number;
}

const BLOCK = 512;
/** Bounds on what an OVA may hold besides its disks (the descriptor and manifest are small). */
const MAX_TAR_ENTRIES = 64;
const MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024;
const SAFE_NAME = /^[A-Za-z0-9._+-][A-Za-z0-9._+ -]{0,254}$/;

function invalid(message: string, details: Record<string, unknown> = {}): DomainError {
  return new DomainError('IMAGE_INVALID', message, details);
}

/** Whether the file starts like a POSIX tar (`ustar` magic at byte 257). */
export async function isTarFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const header = Buffer.alloc(BLOCK);
    const { bytesRead } = await handle.read(header, 0, BLOCK, 0);
    return bytesRead === BLOCK && header.toString('latin1', 257, 262) === 'ustar';
  } finally {
    await handle.close();
  }
}

/**
 * The plain files of a tar, in order. Refuses links, devices, folders, names with a path or
 * `..`, duplicate names, GNU long-name records, a bad header checksum and entries past the end.
 * pax extended headers may set `path` and `size` of the entry that follows.
 */
export async function readTarEntries(path: string): Promise<TarEntry[]> {
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const entries: TarEntry[] = [];
    const header = Buffer.alloc(BLOCK);
    let position = 0;
    let pax: Record<string, string> = {};
    for (;;) {
      const { bytesRead } = await handle.read(header, 0, BLOCK, position);
      if (bytesRead < BLOCK) throw invalid('the OVA ends inside a tar header');
      if (header.every((byte) => byte === 0)) break;
      checkHeaderChecksum(header);
      const type = String.fromCharCode(header[156] ?? 0);
      const size = Number(pax.size ?? parseTarNumber(header.subarray(124, 136)));
      const dataOffset = position + BLOCK;
      if (!Number.isSafeInteger(size) || size < 0 || dataOffset + size > fileSize) {
        throw invalid('a tar entry runs past the end of the OVA');
      }
      position = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'x') {
        if (size > 64 * 1024) throw invalid('a pax header is too large');
        const data = Buffer.alloc(size);
        await handle.read(data, 0, size, dataOffset);
        pax = parsePax(data.toString('utf8'));
        continue;
      }
      if (type === 'g') continue;
      const name = pax.path ?? entryName(header);
      pax = {};
      if (type !== '0' && type !== '\0') {
        throw invalid(`the OVA holds '${name}', which is not a plain file (type ${type})`, {
          entry: name,
        });
      }
      const bare = name.startsWith('./') ? name.slice(2) : name;
      if (!SAFE_NAME.test(bare) || bare === '.' || bare === '..') {
        throw invalid(`the OVA holds an entry with an unsafe name: '${name.slice(0, 100)}'`, {
          entry: name.slice(0, 255),
        });
      }
      if (entries.some((entry) => entry.name === bare)) {
        throw invalid(`the OVA holds '${bare}' twice`, { entry: bare });
      }
      entries.push({ name: bare, offset: dataOffset, size });
      if (entries.length > MAX_TAR_ENTRIES) throw invalid('the OVA holds too many files');
    }
    return entries;
  } finally {
    await handle.close();
  }
}

function entryName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const prefix =
    header.toString('latin1', 257, 262) === 'ustar' ? cString(header.subarray(345, 500)) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end === -1 ? bytes.length : end);
}

/** Octal, or GNU base-256 for large sizes (high bit of the first byte set). */
function parseTarNumber(field: Buffer): number {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const text = cString(field).trim();
  if (!/^[0-7]*$/.test(text)) throw invalid('a tar header has a malformed number');
  return text === '' ? 0 : parseInt(text, 8);
}

function checkHeaderChecksum(header: Buffer): void {
  const stored = parseTarNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  if (sum !== stored) throw invalid('the OVA is not a valid tar (header checksum mismatch)');
}

function parsePax(text: string): Record<string, string> {
  const records: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const match = /^(\d+) ([^=]+)=/.exec(rest);
    if (!match?.[1] || !match[2]) throw invalid('a pax header is malformed');
    const length = Number(match[1]);
    const record = Buffer.from(rest, 'utf8').subarray(0, length).toString('utf8');
    if (length <= match[0].length || !record.endsWith('\n'))
      throw invalid('a pax header is malformed');
    records[match[2]] = record.slice(match[0].length, -1);
    rest = rest.slice(record.length);
  }
  return records;
}

/** What an OVF descriptor says of the virtual machine. */
export interface OvfDescriptor {
  /** Files of its disks, in the order the hardware lists them; the first one boots. */
  diskFiles: string[];
  cpus: number | null;
  memoryMiB: number | null;
}

/**
 * Reads an OVF descriptor (DMTF DSP0243) without a general XML parser: the File references, the
 * DiskSection's disks and the hardware Items of resource type 17 (disk drives) that name them.
 * Attributes are matched whatever their namespace prefix. The boot disk is the first disk drive
 * the hardware lists, else the first disk of the DiskSection.
 */
export function parseOvf(xml: string): OvfDescriptor {
  if (!/<(\w+:)?Envelope[\s>]/.test(xml))
    throw invalid('the OVA descriptor is not an OVF Envelope');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw invalid('the OVF descriptor may not declare entities');
  const files = new Map<string, string>();
  for (const tag of xml.match(/<(\w+:)?File\b[^>]*>/g) ?? []) {
    const id = attribute(tag, 'id');
    const href = attribute(tag, 'href');
    if (id !== undefined && href !== undefined) files.set(id, href);
  }
  const disks = new Map<string, string>();
  for (const tag of xml.match(/<(\w+:)?Disk\b[^>]*>/g) ?? []) {
    const diskId = attribute(tag, 'diskId');
    const fileRef = attribute(tag, 'fileRef');
    if (diskId === undefined || fileRef === undefined) continue;
    const href = files.get(fileRef);
    if (href === undefined) throw invalid(`OVF disk ${diskId} names no known file`);
    disks.set(diskId, href);
  }
  if (disks.size === 0) throw invalid('the OVF descriptor lists no disk with a file');
  const ordered: string[] = [];
  let cpus: number | null = null;
  let memoryMiB: number | null = null;
  for (const item of xml.match(/<(\w+:)?Item\b[\s\S]*?<\/(\w+:)?Item>/g) ?? []) {
    const type = element(item, 'ResourceType');
    if (type === '17') {
      const resource = element(item, 'HostResource');
      const diskId = /^ovf:\/disk\/(.+)$/.exec(resource ?? '')?.[1];
      const href = diskId === undefined ? undefined : disks.get(diskId);
      if (href !== undefined && !ordered.includes(href)) ordered.push(href);
    } else if (type === '3') {
      cpus = positiveInteger(element(item, 'VirtualQuantity'));
    } else if (type === '4') {
      const quantity = positiveInteger(element(item, 'VirtualQuantity'));
      const units = element(item, 'AllocationUnits') ?? 'byte * 2^20';
      const factor = /2\^30/.test(units) ? 1024 : /2\^20/.test(units) ? 1 : null;
      memoryMiB = quantity !== null && factor !== null ? quantity * factor : null;
    }
  }
  for (const href of disks.values()) if (!ordered.includes(href)) ordered.push(href);
  return { diskFiles: ordered, cpus, memoryMiB };
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s(?:\\w+:)?${name}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(tag);
  const value = match?.[2] ?? match?.[3];
  return value === undefined ? undefined : unescapeXml(value);
}

function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<(?:\\w+:)?${name}\\b[^>]*>([^<]*)</(?:\\w+:)?${name}>`).exec(xml);
  return match?.[1] === undefined ? undefined : unescapeXml(match[1].trim());
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function positiveInteger(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return null;
  const value = Number(text);
  return value > 0 ? value : null;
}

/** `SHA256(disk.vmdk)= hex` (or SHA1) lines of an OVA manifest, by file name. */
export function parseOvaManifest(text: string): Map<string, { algorithm: string; hex: string }> {
  const digests = new Map<string, { algorithm: string; hex: string }>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^(SHA1|SHA256|SHA512)\s*\(([^)]+)\)\s*=\s*([0-9a-fA-F]+)\s*$/.exec(line.trim());
    if (match?.[1] && match[2] && match[3]) {
      digests.set(match[2], { algorithm: match[1].toLowerCase(), hex: match[3].toLowerCase() });
    }
  }
  return digests;
}

/** What extracting an OVA found. */
export interface OvaContents {
  descriptor: OvfDescriptor;
  /** The boot disk's file name inside the OVA. */
  bootDisk: string;
  bootDiskBytes: number;
}

/**
 * Reads the OVA's descriptor and checks that its boot disk is in it, without extracting: what an
 * upload is checked with before anything is stored.
 */
export async function inspectOva(
  path: string,
): Promise<OvaContents & { entry: TarEntry; entries: TarEntry[] }> {
  const entries = await readTarEntries(path);
  const descriptors = entries.filter((entry) => entry.name.toLowerCase().endsWith('.ovf'));
  if (descriptors.length !== 1 || descriptors[0] === undefined) {
    throw invalid(`an OVA holds exactly one .ovf descriptor; this one holds ${descriptors.length}`);
  }
  const descriptor = parseOvf(await readEntry(path, descriptors[0]));
  const bootDisk = descriptor.diskFiles[0] ?? '';
  const entry = entries.find((candidate) => candidate.name === bootDisk);
  if (entry === undefined || entry.size === 0) {
    throw invalid(`the OVF's boot disk '${bootDisk.slice(0, 100)}' is not in the OVA`, {
      disk: bootDisk.slice(0, 255),
    });
  }
  return { descriptor, bootDisk, bootDiskBytes: entry.size, entry, entries };
}

/**
 * Copies the OVA's boot disk to `target` (a name of ours), checking it against the OVA's
 * manifest when there is one. Returns what the descriptor said.
 */
export async function extractOvaBootDisk(
  path: string,
  target: string,
  signal?: AbortSignal,
): Promise<OvaContents> {
  const { entry, entries, ...contents } = await inspectOva(path);
  const manifestEntry = entries.find((candidate) => candidate.name.toLowerCase().endsWith('.mf'));
  const expected =
    manifestEntry === undefined
      ? undefined
      : parseOvaManifest(await readEntry(path, manifestEntry)).get(entry.name);
  const hash = createHash(expected?.algorithm ?? 'sha256');
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(
    createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1 }),
    meter,
    createWriteStream(target),
    { signal: signal ?? new AbortController().signal },
  );
  if (expected !== undefined && hash.digest('hex') !== expected.hex) {
    throw new DomainError('IMAGE_CORRUPT', `${entry.name} does not match the OVA's manifest`, {
      disk: entry.name,
    });
  }
  return contents;
}

async function readEntry(path: string, entry: TarEntry): Promise<string> {
  if (entry.size > MAX_DESCRIPTOR_BYTES) throw invalid(`${entry.name} is too large`);
  const handle = await open(path, 'r');
  try {
    const data = Buffer.alloc(entry.size);
    await handle.read(data, 0, entry.size, entry.offset);
    return data.toString('utf8');
  } finally {
    await handle.close();
  }
}
