// @peculiar/x509 resolves its algorithms through tsyringe, which refuses to load unless
// `Reflect.getMetadata` exists (it is meant to come from the `reflect-metadata` package, which is
// not a dependency here). tsyringe only stores and reads metadata by key, and x509's classes carry
// none from the compiler, so this minimal store is all it needs. Import it before @peculiar/x509.

type MetadataStore = Map<unknown, unknown>;
const stores = new WeakMap<object, Map<PropertyKey | undefined, MetadataStore>>();

function storeOf(target: object, property: PropertyKey | undefined, create: boolean) {
  let byProperty = stores.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    stores.set(target, byProperty);
  }
  let store = byProperty.get(property);
  if (!store && create) {
    store = new Map();
    byProperty.set(property, store);
  }
  return store;
}

function getOwnMetadata(key: unknown, target: object, property?: PropertyKey): unknown {
  return storeOf(target, property, false)?.get(key);
}

function getMetadata(key: unknown, target: object, property?: PropertyKey): unknown {
  for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
    const store = storeOf(t, property, false);
    if (store?.has(key)) return store.get(key);
  }
  return undefined;
}

function defineMetadata(key: unknown, value: unknown, target: object, property?: PropertyKey) {
  storeOf(target, property, true)?.set(key, value);
}

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') {
  Object.assign(reflect, { getMetadata, getOwnMetadata, defineMetadata });
}
