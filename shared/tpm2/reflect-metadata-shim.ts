/**
 * The few `Reflect` metadata functions @peculiar/x509 needs. It uses tsyringe internally, and tsyringe
 * throws at import time unless a reflect-metadata polyfill is present ("tsyringe requires a reflect
 * polyfill"), then reads/writes constructor metadata for its six `@injectable()` classes. Rather than add
 * a global polyfill dependency, this module supplies exactly that surface (define/get/getOwn/has and the
 * `Reflect.metadata` decorator factory that compiled TypeScript calls). It never replaces an existing
 * implementation, so a real `reflect-metadata` imported earlier wins. Import it BEFORE @peculiar/x509.
 */

type Key = unknown;
type Target = object;

const store = new WeakMap<Target, Map<Key, Map<Key, unknown>>>();

function ownMap(target: Target, property: Key, create: boolean): Map<Key, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty.get(property);
  if (!entries && create) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
}

function getOwnMetadata(key: Key, target: Target, property?: Key): unknown {
  return ownMap(target, property, false)?.get(key);
}

function getMetadata(key: Key, target: Target, property?: Key): unknown {
  for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
    const m = ownMap(t, property, false);
    if (m?.has(key)) return m.get(key);
  }
  return undefined;
}

function defineMetadata(key: Key, value: unknown, target: Target, property?: Key): void {
  ownMap(target, property, true)?.set(key, value);
}

const shim = {
  getOwnMetadata,
  getMetadata,
  defineMetadata,
  hasOwnMetadata: (key: Key, target: Target, property?: Key): boolean =>
    ownMap(target, property, false)?.has(key) ?? false,
  hasMetadata: (key: Key, target: Target, property?: Key): boolean =>
    getMetadata(key, target, property) !== undefined,
  metadata:
    (key: Key, value: unknown) =>
    (target: Target, property?: Key): void =>
      defineMetadata(key, value, target, property),
};

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') {
  for (const [name, fn] of Object.entries(shim)) reflect[name] = fn;
}
