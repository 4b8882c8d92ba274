// The "newc" (SVR4, no CRC) cpio format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Written here rather than with a
// cpio program because the host has none; entries get fixed owners and times, so the same inputs
// always give the same bytes.

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

interface Entry {
  name: string;
  mode: number;
  data: Uint8Array;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
}

export class CpioArchive {
  private readonly entries: Entry[] = [];
  private readonly names = new Set<string>();

  addDirectory(name: string, permissions = 0o755): this {
    return this.add({ name, mode: S_IFDIR | permissions, data: new Uint8Array(), nlink: 2 });
  }

  addFile(name: string, data: Uint8Array | string, permissions = 0o644): this {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.add({ name, mode: S_IFREG | permissions, data: bytes, nlink: 1 });
  }

  addSymlink(name: string, target: string): this {
    return this.add({ name, mode: S_IFLNK | 0o777, data: Buffer.from(target, 'utf8'), nlink: 1 });
  }

  addCharDevice(name: string, major: number, minor: number, permissions = 0o600): this {
    return this.add({
      name,
      mode: S_IFCHR | permissions,
      data: new Uint8Array(),
      nlink: 1,
      rdevMajor: major,
      rdevMinor: minor,
    });
  }

  has(name: string): boolean {
    return this.names.has(normalise(name));
  }

  /** The archive bytes, ending with the TRAILER!!! entry. */
  toBuffer(): Buffer {
    const chunks: Buffer[] = [];
    const all = [...this.entries, trailer()];
    all.forEach((entry, index) => {
      const name = Buffer.from(`${entry.name}\0`, 'utf8');
      const fields = [
        index + 1, // inode
        entry.mode,
        0, // uid
        0, // gid
        entry.nlink,
        0, // mtime
        entry.data.length,
        0, // dev major
        0, // dev minor
        entry.rdevMajor,
        entry.rdevMinor,
        name.length,
        0, // check
      ];
      const header = `070701${fields.map((value) => value.toString(16).padStart(8, '0')).join('')}`;
      chunks.push(Buffer.from(header, 'ascii'), name, padding(header.length + name.length));
      chunks.push(Buffer.from(entry.data), padding(entry.data.length));
    });
    return Buffer.concat(chunks);
  }

  private add(entry: Omit<Entry, 'rdevMajor' | 'rdevMinor'> & Partial<Entry>): this {
    const name = normalise(entry.name);
    if (name === '' || name.split('/').includes('..'))
      throw new Error(`bad cpio name '${entry.name}'`);
    if (this.names.has(name)) {
      const existing = this.entries.find((other) => other.name === name);
      // Asking twice for a directory is harmless; anything else twice is a bug in the recipe.
      if (existing && isDirectory(existing.mode) && isDirectory(entry.mode)) return this;
      throw new Error(`duplicate cpio entry '${name}'`);
    }
    const parent = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
    if (parent !== '' && !this.names.has(parent)) this.addDirectory(parent);
    this.names.add(name);
    this.entries.push({ rdevMajor: 0, rdevMinor: 0, ...entry, name });
    return this;
  }
}

function normalise(name: string): string {
  return name.replace(/^\/+/, '').replace(/\/+$/, '');
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function trailer(): Entry {
  return {
    name: 'TRAILER!!!',
    mode: 0,
    data: new Uint8Array(),
    nlink: 1,
    rdevMajor: 0,
    rdevMinor: 0,
  };
}

function isDirectory(mode: number): boolean {
  return (mode & 0o170000) === S_IFDIR;
}
