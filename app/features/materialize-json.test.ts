/**
 * A materialisation has DuckDB write each row's entity key and feature values
 * as JSON text (materialize.ts latestRowsSql). These tests hold that text to
 * what JavaScript wrote before: the key byte for byte as JSON.stringify of the
 * join-key values (what a lookup asks for), the values as JSON.parse gives
 * back JSON.stringify's text of them, on tricky data. The expectations are
 * written out by hand here, not computed by the code under test.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { literal } from "../data/sql";
import { createTestProject, type TestProject } from "../engine/testing";
import { type MaterializeTarget, materialize } from "./materialize";
import { RedisOnlineStore } from "./online/redis";
import { SqliteOnlineStore } from "./online/sqlite";
import { startTestRedis, type TestRedis } from "./online/testing";
import { loadFeatureRepo } from "./repo";
import { FEATURES_FORMAT, type FeatureValue, type OnlineStore } from "./types";

const WINDOW = { start: new Date("2026-01-01T00:00:00Z"), end: new Date("2026-01-02T00:00:00Z") };

/** Join keys of three types; each row's key as JSON.stringify writes it (Int64 past 2^53 as text). */
const KEYS: { s: string; n: bigint; b: boolean; json: string }[] = [
  { s: "plain", n: 1n, b: true, json: '["plain",1,true]' },
  { s: 'q"uote\\back/slash', n: -1n, b: false, json: '["q\\"uote\\\\back/slash",-1,false]' },
  {
    s: "é😀\u2028\u2029\u007f\u0080\u009f\ufeff",
    n: 0n,
    b: true,
    json: '["é😀\u2028\u2029\u007f\u0080\u009f\ufeff",0,true]',
  },
  { s: "", n: 9007199254740991n, b: true, json: '["",9007199254740991,true]' },
  { s: "big", n: 9007199254740992n, b: true, json: '["big","9007199254740992",true]' },
  { s: "neg", n: -9007199254740992n, b: false, json: '["neg","-9007199254740992",false]' },
  { s: "max", n: 9223372036854775807n, b: false, json: '["max","9223372036854775807",false]' },
  // Control characters: JSON.stringify writes \b \t \n \f \r and \u00xx in lower case.
  {
    s: "c\u0001\b\t\n\u000b\f\r\u001f\u0000",
    n: 2n,
    b: true,
    json: '["c\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\\u0000",2,true]',
  },
  { s: "\\u001F", n: 3n, b: true, json: '["\\\\u001F",3,true]' },
];

/** Feature values by row: [DuckDB SQL literal, the value a lookup must give]. */
const DOUBLES: [string, FeatureValue][] = [
  ["0.1", 0.1],
  ["1e21", 1e21],
  ["1e20", 1e20],
  ["'-0.0'", 0],
  ["'nan'", null],
  ["'inf'", null],
  ["'-inf'", null],
  ["5e-324", 5e-324],
  ["1.7976931348623157e308", 1.7976931348623157e308],
  ["1.5e-7", 1.5e-7],
  ["3.0", 3],
  ["NULL", null],
];
const FLOATS: [string, FeatureValue][] = [
  ["0.3", Math.fround(0.3)],
  ["'inf'", null],
  ["'-0.0'", 0],
  ["16777217", 16777216],
  ["NULL", null],
];
const INTS: [string, FeatureValue][] = [
  ["9007199254740991", 9007199254740991],
  ["9007199254740992", "9007199254740992"],
  ["-9007199254740991", -9007199254740991],
  ["-9007199254740992", "-9007199254740992"],
  ["(-9223372036854775807 - 1)", "-9223372036854775808"],
  ["0", 0],
  ["NULL", null],
];
const STRINGS: [string, FeatureValue][] = [
  [`'a"b\\c/d'`, 'a"b\\c/d'],
  ["'é😀' || chr(8232) || chr(0) || chr(1) || chr(31) || chr(127)", "é😀\u2028\u0000\u0001\u001f\u007f"],
  ["''", ""],
  ["'null'", "null"],
  ["NULL", null],
];
const BOOLS: [string, FeatureValue][] = [
  ["true", true],
  ["false", false],
  ["NULL", null],
];
const TIMES: [string, FeatureValue][] = [
  ["TIMESTAMP '2026-01-01 00:00:01.5'", Date.parse("2026-01-01T00:00:01.500Z")],
  ["TIMESTAMP '1969-12-31 23:59:59.999'", -1],
  ["NULL", null],
];
const ROWS = 12;

/** A DuckDB expression of the text `s`, its control characters as chr(n) (a NUL cannot be in a literal). */
function sqlText(s: string): string {
  const parts: string[] = [];
  let run = "";
  for (const ch of s) {
    if (ch.charCodeAt(0) >= 0x20) {
      run += ch;
      continue;
    }
    if (run) parts.push(literal(run));
    run = "";
    parts.push(`chr(${ch.charCodeAt(0)})`);
  }
  if (run) parts.push(literal(run));
  return parts.length ? `(${parts.join(" || ")})` : "''";
}
/** The DOUBLE key of row i (0.1 × 3 is 0.30000000000000004). */
const pointKey = (i: number) => [1.5, 0.1, 1e21, -2, 7][i % 5]! * (1 + Math.floor(i / 5));
const pick = <T>(list: T[], i: number): T => list[i % list.length]!;

let p: TestProject;
let redis: TestRedis | undefined;
const stores: OnlineStore[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

beforeEach(async () => {
  p = await createTestProject();
  mkdirSync(join(p.dir, "features"));
  writeFileSync(
    join(p.dir, "features", "tricky.json"),
    JSON.stringify({
      format: FEATURES_FORMAT,
      entities: [
        { name: "thing", joinKeys: ["s", "n", "b"] },
        { name: "point", joinKeys: ["x"] },
        { name: "device", joinKeys: ["u"] },
      ],
      featureViews: [
        {
          name: "keyed",
          entities: ["thing"],
          ttl: "0",
          source: { path: "data/keyed.parquet", timestampField: "ts" },
          features: [{ name: "row", type: "Int64" }],
        },
        {
          name: "devices",
          entities: ["device"],
          ttl: "0",
          source: { path: "data/devices.parquet", timestampField: "ts" },
          features: [{ name: "row", type: "Int64" }],
        },
        {
          name: "typed",
          entities: ["point"],
          ttl: "0",
          source: { path: "data/typed.parquet", timestampField: "ts" },
          features: [
            { name: "d", type: "Float64" },
            { name: "f", type: "Float32" },
            { name: "i", type: "Int64" },
            { name: "s", type: "String" },
            { name: "b", type: "Bool" },
            { name: "t", type: "UnixTimestamp" },
          ],
        },
      ],
    }),
  );
  const keyed = KEYS.map(
    (k, i) =>
      `(${sqlText(k.s)}, ${k.n}::BIGINT, ${k.b}, TIMESTAMP '2026-01-01 01:00:00' + INTERVAL (${i}) SECOND, ${i})`,
  );
  await p.sql.run(
    `COPY (SELECT * FROM (VALUES ${keyed.join(", ")}) t(s, n, b, ts, "row"))
       TO ${literal(join(p.dir, "data", "keyed.parquet"))} (FORMAT parquet)`,
  );
  await p.sql.run(
    `COPY (SELECT * FROM (VALUES ('6f1c0a52-39d4-4c8e-9d65-0f5c2b7e8a10'::UUID, TIMESTAMP '2026-01-01 03:00:00', 0),
                                 ('00000000-0000-0000-0000-000000000000'::UUID, TIMESTAMP '2026-01-01 03:00:00', 1)) t(u, ts, "row"))
       TO ${literal(join(p.dir, "data", "devices.parquet"))} (FORMAT parquet)`,
  );
  // Keys that are DOUBLEs: JavaScript writes them (entityKey), not DuckDB.
  const typed = Array.from(
    { length: ROWS },
    (_, i) =>
      `(${pointKey(i)}::DOUBLE, TIMESTAMP '2026-01-01 02:00:00', (${pick(DOUBLES, i)[0]})::DOUBLE, (${pick(FLOATS, i)[0]})::FLOAT, (${pick(INTS, i)[0]})::BIGINT, (${pick(STRINGS, i)[0]})::VARCHAR, ${pick(BOOLS, i)[0]}::BOOLEAN, ${pick(TIMES, i)[0]}::TIMESTAMP)`,
  );
  await p.sql.run(
    `COPY (SELECT * FROM (VALUES ${typed.join(", ")}) t(x, ts, d, f, i, s, b, t))
       TO ${literal(join(p.dir, "data", "typed.parquet"))} (FORMAT parquet)`,
  );
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await p.close();
});

function target(store: OnlineStore): MaterializeTarget {
  return { projectDir: p.dir, allowedDirs: [p.dir], repo: loadRepo(), store, sql: p.sql };
}
const loadRepo = () => loadFeatureRepo(p.dir);
const sqlitePath = () => join(p.dir, ".dagwood-online.sqlite");

const backends = [
  { name: "sqlite", open: () => new SqliteOnlineStore(sqlitePath()) },
  { name: "redis", open: () => new RedisOnlineStore({ url: redis!.url, keyPrefix: `j${Math.random()}` }) },
];

describe.each(backends)("DuckDB's JSON text in the $name store", (backend) => {
  const open = () => {
    const s = backend.open();
    stores.push(s);
    return s;
  };

  it("keys each row exactly as JSON.stringify writes its join-key values, so a lookup finds it", async () => {
    const store = open();
    await materialize(target(store), { ...WINDOW, views: ["keyed"] });
    const got = await store.get(
      "keyed",
      KEYS.map((k) => k.json),
      ["row"],
    );
    expect(got.map((g) => g?.values.row ?? null)).toEqual(KEYS.map((_, i) => i));
    if (backend.name === "sqlite") {
      // No other keys were written: the stored texts are the expected ones, byte for byte.
      const db = new Database(sqlitePath(), { readonly: true });
      const stored = db
        .prepare<[], { key: string }>("SELECT key FROM online_rows WHERE view = 'keyed' ORDER BY key")
        .all()
        .map((r) => r.key);
      db.close();
      expect(stored).toEqual(KEYS.map((k) => k.json).sort());
    }
  });

  it("keys a UUID join key by its text, as the JavaScript value DuckDB gives for it", async () => {
    const store = open();
    await materialize(target(store), { ...WINDOW, views: ["devices"] });
    const got = await store.get(
      "devices",
      ['["6f1c0a52-39d4-4c8e-9d65-0f5c2b7e8a10"]', '["00000000-0000-0000-0000-000000000000"]'],
      ["row"],
    );
    expect(got.map((g) => g?.values.row ?? null)).toEqual([0, 1]);
  });

  it("gives back every value as JSON.stringify's text of it did: floats, -0, NaN and ±∞, Int64 past 2^53, unicode, nulls", async () => {
    const store = open();
    await materialize(target(store), { ...WINDOW, views: ["typed"] });
    const keys = Array.from({ length: ROWS }, (_, i) => `[${JSON.stringify(pointKey(i))}]`);
    const got = await store.get("typed", keys, ["d", "f", "i", "s", "b", "t"]);
    const expected = keys.map((_, i) => ({
      eventTs: Date.parse("2026-01-01T02:00:00Z"),
      values: {
        d: pick(DOUBLES, i)[1],
        f: pick(FLOATS, i)[1],
        i: pick(INTS, i)[1],
        s: pick(STRINGS, i)[1],
        b: pick(BOOLS, i)[1],
        t: pick(TIMES, i)[1],
      },
    }));
    // toEqual tells 0 from -0 (Object.is).
    expect(got).toEqual(expected);
    expect(Object.is((got[3]!.values as Record<string, unknown>).d, 0)).toBe(true);
  });
});
