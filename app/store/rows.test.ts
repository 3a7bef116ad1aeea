import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "./metadata";
import { flattenParams, insertRows, rowsJson } from "./rows";
import type { Sql, SqlParam } from "./sql";

describe("flattenParams", () => {
  it("names nested plain objects by path, keeps arrays, null and empty objects as values, drops undefined", () => {
    expect(
      flattenParams("n", {
        a: 1,
        b: { c: "x", d: { e: null, u: undefined } },
        f: [1, { g: 2 }],
        h: {},
        i: undefined,
      }),
    ).toEqual({ "n.a": 1, "n.b.c": "x", "n.b.d.e": null, "n.f": [1, { g: 2 }], "n.h": {} });
    expect(flattenParams("n", {})).toEqual({});
    expect(flattenParams("n", undefined)).toEqual({});
  });

  describe("as the store records params", () => {
    let store: SqliteMetadataStore;
    let cleanup: () => void;
    beforeEach(() => {
      ({ store, cleanup } = createTempStore());
      store.startRun({
        id: "parent",
        pipeline: "p",
        pipelinePath: null,
        pipelineHash: null,
        pipelineText: null,
        params: {},
        resolvedParams: flattenParams("gbdt", { trees: 100, maxDepth: undefined }),
        startedAt: new Date().toISOString(),
        environment: {},
        user: "ana",
      });
    });
    afterEach(() => cleanup());

    it("an undefined param is absent from a run and a trial alike, as from their JSON records", () => {
      const trial = store.recordTrial({
        parentRunId: "parent",
        nodeId: "gbdt",
        index: 0,
        params: { trees: 50, maxDepth: undefined, tree: { bins: undefined, leaves: 8 } },
        metrics: { cv_accuracy: 0.9 },
      });
      expect(store.resolvedParams("parent")).toEqual({ "gbdt.trees": 100 });
      expect(store.resolvedParams(trial)).toEqual({ "gbdt.trees": 50, "gbdt.tree.leaves": 8 });
    });
  });
});

describe("insertRows", () => {
  let temp: ReturnType<typeof createTempStore>;
  let sql: Sql;
  beforeEach(() => {
    temp = createTempStore();
    sql = (temp.store as unknown as { sql: Sql }).sql;
    sql.exec(
      sql.dialect === "postgres"
        ? "CREATE TABLE probe (k TEXT PRIMARY KEY, f DOUBLE PRECISION, i BIGINT, b BYTEA, t TEXT)"
        : "CREATE TABLE probe (k TEXT PRIMARY KEY, f REAL, i INTEGER, b BLOB, t TEXT)",
    );
  });
  afterEach(() => temp.cleanup());
  const TYPES = ["text", "float8", "bigint", "bytea", "text"];

  it("writes every value back exactly, in batches of any size, and upserts through its tail", () => {
    const floats = [
      0.1,
      -0,
      1e-310,
      1.7976931348623157e308,
      Math.PI,
      1 / 3,
      Number.POSITIVE_INFINITY,
      -Infinity,
    ];
    const rows: SqlParam[][] = Array.from({ length: 250 }, (_, i) => [
      `k${String(i).padStart(3, "0")}`,
      i < floats.length ? floats[i]! : i / 7,
      i === 0 ? Number.MAX_SAFE_INTEGER : -i,
      i === 1 ? null : Buffer.from([0, 255, i % 256, 10]),
      i === 2 ? 'quote \' and \\ and "json" and é' : i === 3 ? null : `t${i}`,
    ]);
    insertRows(sql, "INSERT INTO probe (k, f, i, b, t)", rows, "", TYPES);
    const back = sql.rows("SELECT k, f, i, b, t FROM probe ORDER BY k");
    expect(back).toHaveLength(250);
    for (let i = 0; i < 250; i++) {
      const [k, f, n, b, t] = back[i]!;
      const want = rows[i]!;
      expect(k).toBe(want[0]);
      expect(Object.is(f, want[1]) || (f === 0 && want[1] === 0)).toBe(true);
      expect(n).toBe(want[2]);
      expect(b === null ? null : Buffer.from(b as Uint8Array)).toEqual(want[3]);
      expect(t).toBe(want[4]);
    }
    // The tail: an upsert that rewrites some rows, and booleans as 1/0.
    insertRows(
      sql,
      "INSERT INTO probe (k, f, i, b, t)",
      [
        ["k000", 2.5, 1, null, "again"],
        ["new", Number.NaN, 0, null, null],
      ],
      "ON CONFLICT (k) DO UPDATE SET f = excluded.f, t = excluded.t",
      TYPES,
    );
    expect(sql.rows("SELECT f, t FROM probe WHERE k = 'k000'")).toEqual([[2.5, "again"]]);
    expect(sql.value("SELECT count(*) FROM probe")).toBe(251);
    // A NaN: SQLite keeps it as NULL (the store keeps is_nan beside metric values); PostgreSQL as NaN.
    const nan = sql.value<number | null>("SELECT f FROM probe WHERE k = 'new'");
    expect(nan === null || Number.isNaN(nan)).toBe(true);
  });

  it("refuses a type list that does not match the rows (PostgreSQL), and writes nothing for no rows", () => {
    insertRows(sql, "INSERT INTO probe (k, f, i, b, t)", [], "", TYPES);
    expect(sql.value("SELECT count(*) FROM probe")).toBe(0);
    if (sql.dialect === "postgres") {
      expect(() => insertRows(sql, "INSERT INTO probe (k, f)", [["a", 1]], "", TYPES)).toThrow(
        /5 types for 2 columns/,
      );
    }
  });
});

describe("rowsJson", () => {
  it("keeps what JSON cannot: non-finite numbers as text, bytes as bytea hex, booleans as 1/0", () => {
    expect(
      rowsJson([
        [
          Number.NaN,
          Number.POSITIVE_INFINITY,
          -Infinity,
          true,
          false,
          12n,
          Buffer.from([1, 171]),
          null,
          "x",
          0.1,
        ],
      ]),
    ).toBe('[["NaN","Infinity","-Infinity",1,0,"12","\\\\x01ab",null,"x",0.1]]');
  });
});
