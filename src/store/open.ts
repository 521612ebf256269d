/**
 * Opening a store: the one module outside src/store's interior that names
 * the implementation. ./store.ts is the storage API (types only); callers
 * get a Store from here and use nothing else of ./store-impl.ts.
 */
import { StoreImpl } from './store-impl.js';
import type { Store, StoreOptions } from './store.js';

/** Open the store (creates data_dir/journal.sqlite, index/ and spool/ as needed). */
export async function openStore(opts: StoreOptions): Promise<Store> {
  return new StoreImpl(opts);
}
