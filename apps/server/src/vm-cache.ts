import type { Vm } from '@novacron/api';
import type { Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';

/**
 * How long a VM read by a request is served again without reading the store. Every change a
 * store write makes to a VM goes out as a vm.* event, which drops it at once on this server;
 * the TTL bounds what a write through another replica leaves stale (docs/adr/0021-request-caches.md).
 */
export const VM_TTL_MS = 2000;
const MAX_ENTRIES = 10_000;
const MAX_PAGES = 1000;
/** Characters of page JSON kept at most (about 32 MiB of UTF-16): a full cache starts over. */
const MAX_PAGE_CHARS = 16 * 1024 * 1024;

/**
 * VMs by id, as the authorizer and `GET /api/v1/vms/{id}` read them. Dropped by the vm.* event
 * of their id; a read that overlapped any vm.* event is not kept, so an entry never holds what a
 * committed write replaced. Services read the store itself: their read-modify-write needs it.
 * Also the JSON of pages of `GET /api/v1/vms` asked for again, dropped by any vm.* event (ADR 26).
 */
export class VmCache {
  readonly #entries = new Map<string, { vm: Vm; staleAt: number; json?: string }>();
  readonly #pages = new Map<string, number>();
  readonly #pageJson = new Map<string, { json: string; staleAt: number }>();
  #pageChars = 0;
  #generation = 0;
  readonly #unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly ttlMs = VM_TTL_MS,
  ) {
    this.#unsubscribe = store.onEvent((events) => {
      for (const event of events) {
        if (event.subject?.kind !== 'vm') continue;
        this.#generation += 1;
        this.#entries.delete(event.subject.id);
        // Any VM's change may add it to, move it in or drop it from any page.
        this.#dropPages();
      }
    });
  }

  /** The VM with this id, or this name in the default project, as `store.vms.get` finds it. */
  async get(idOrName: string): Promise<Vm | undefined> {
    const entry = this.#entries.get(idOrName);
    if (entry !== undefined) {
      if (this.clock.now().getTime() < entry.staleAt) return entry.vm;
      this.#entries.delete(idOrName);
    }
    const generation = this.#generation;
    const vm = await this.store.vms.get(undefined, idOrName);
    // Names are not keys: a VM renamed or replaced under one name would stay found.
    if (vm !== undefined && vm.id === idOrName && generation === this.#generation) {
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
      this.#entries.set(vm.id, { vm, staleAt: this.clock.now().getTime() + this.ttlMs });
    }
    return vm;
  }

  /**
   * Whether the page `key` names was asked for within the TTL before now. Only such pages go
   * through the cache: a walk over many pages would fill it with VMs read once, and the churn
   * cost more than the reads (GC); a page asked for again and again is served from it.
   */
  admitPage(key: string): boolean {
    const now = this.clock.now().getTime();
    const last = this.#pages.get(key);
    if (this.#pages.size >= MAX_PAGES) this.#pages.clear();
    this.#pages.set(key, now);
    return last !== undefined && now - last < this.ttlMs;
  }

  /** The JSON of the page `key` names, kept by `keepPage`, unless a vm.* event or the TTL ended it. */
  page(key: string): string | undefined {
    const entry = this.#pageJson.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now().getTime() < entry.staleAt) return entry.json;
    this.#pageJson.delete(key);
    this.#pageChars -= entry.json.length;
    return undefined;
  }

  /** A mark to take before reading a page; `keepPage` keeps it only if no vm.* event came since. */
  mark(): number {
    return this.#generation;
  }

  keepPage(key: string, mark: number, json: string): void {
    if (mark !== this.#generation || json.length > MAX_PAGE_CHARS) return;
    if (this.#pageChars + json.length > MAX_PAGE_CHARS) this.#dropPages();
    const previous = this.#pageJson.get(key);
    if (previous !== undefined) this.#pageChars -= previous.json.length;
    this.#pageJson.set(key, { json, staleAt: this.clock.now().getTime() + this.ttlMs });
    this.#pageChars += json.length;
  }

  #dropPages(): void {
    this.#pageJson.clear();
    this.#pageChars = 0;
  }

  /**
   * The VMs with these ids in this order, those in the cache from it and the others in one read;
   * ids of VMs deleted meanwhile are left out.
   */
  async getMany(ids: readonly string[]): Promise<Vm[]> {
    const now = this.clock.now().getTime();
    const found = new Map<string, Vm>();
    const missing: string[] = [];
    for (const id of ids) {
      const entry = this.#entries.get(id);
      if (entry !== undefined && now < entry.staleAt) found.set(id, entry.vm);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const generation = this.#generation;
      const read = await this.store.vms.getMany(missing);
      const keep = generation === this.#generation;
      if (keep && this.#entries.size + read.length > MAX_ENTRIES) this.#entries.clear();
      for (const vm of read) {
        found.set(vm.id, vm);
        if (keep) this.#entries.set(vm.id, { vm, staleAt: now + this.ttlMs });
      }
    }
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  /** `vm` as `serialize` writes it, kept with its entry (a cached VM is never changed). */
  jsonOf(vm: Vm, serialize: (vm: Vm) => string): string {
    const entry = this.#entries.get(vm.id);
    if (entry?.vm !== vm) return serialize(vm);
    entry.json ??= serialize(vm);
    return entry.json;
  }

  close(): void {
    this.#unsubscribe();
    this.#entries.clear();
    this.#dropPages();
  }
}
