// Small helpers shared by the repositories.
import type BetterSqlite3 from 'better-sqlite3';

export type Db = BetterSqlite3.Database;

/** Wall-clock milliseconds, the unit of every *_at column. */
export const now = (): number => Date.now();

/** Parses a JSON column that the schema guarantees is valid JSON. */
export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined) return fallback;
  return JSON.parse(text) as T;
}

/** A statement cache for SQL built at run time (the listing's filters); prepared once each. */
export class StatementCache {
  private readonly map = new Map<string, BetterSqlite3.Statement>();
  constructor(private readonly db: Db, private readonly max = 200) {}
  get(sql: string): BetterSqlite3.Statement {
    let st = this.map.get(sql);
    if (!st) {
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
      st = this.db.prepare(sql);
      this.map.set(sql, st);
    }
    return st;
  }
}
