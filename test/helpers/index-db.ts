/**
 * Reading a store's SQLite file from outside the store, read-only, while or
 * after it works: what a kill test looks at to know how far a job got.
 */
import Database from 'better-sqlite3';

/** Each query (one count) run on `file` opened read-only; the file must exist. */
export function countRows<K extends string>(file: string, queries: Record<K, string>): Record<K, number> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const out = {} as Record<K, number>;
    for (const k of Object.keys(queries) as K[]) out[k] = db.prepare(queries[k]).pluck().get() as number;
    return out;
  } finally {
    db.close();
  }
}
