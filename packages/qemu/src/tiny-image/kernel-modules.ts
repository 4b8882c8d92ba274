/** What the builder knows of one loadable module of the kernel package. */
export interface KernelModule {
  name: string;
  /** Path of the `.ko`, `.ko.xz` or `.ko.zst` inside the unpacked package. */
  path: string;
  depends: string[];
}

/** Module names use `_` and `-` interchangeably; the kernel treats them as the same. */
export function moduleName(fileName: string): string {
  return fileName.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');
}

/** The `depends=` field of a module's .modinfo section (a NUL-separated key=value list). */
export function readModuleDepends(ko: Uint8Array): string[] {
  const bytes = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength);
  const marker = Buffer.from('\0depends=', 'ascii');
  const at = bytes.indexOf(marker);
  if (at < 0) return [];
  const start = at + marker.length;
  const end = bytes.indexOf(0, start);
  const value = bytes.subarray(start, end < 0 ? bytes.length : end).toString('ascii');
  return value === '' ? [] : value.split(',').map(moduleName);
}

/**
 * The load order for `wanted`: every module after the modules it depends on, otherwise in the
 * order asked for. Built-in modules are left out; an unknown one is an error naming it.
 */
export function moduleLoadOrder(
  wanted: readonly string[],
  modules: ReadonlyMap<string, KernelModule>,
  builtin: ReadonlySet<string>,
): KernelModule[] {
  const order: KernelModule[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const visit = (raw: string, neededBy: string | null): void => {
    const name = moduleName(raw);
    if (placed.has(name) || builtin.has(name)) return;
    const module = modules.get(name);
    if (!module) {
      const why = neededBy ? ` (needed by ${neededBy})` : '';
      throw new Error(`kernel module ${name}${why} is neither built in nor in the package`);
    }
    if (visiting.has(name)) throw new Error(`kernel module dependency cycle at ${name}`);
    visiting.add(name);
    for (const dependency of module.depends) visit(dependency, name);
    visiting.delete(name);
    placed.add(name);
    order.push(module);
  };
  for (const name of wanted) visit(name, null);
  return order;
}
