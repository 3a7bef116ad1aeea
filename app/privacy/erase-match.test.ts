/**
 * Which stored values are the subject's, for `--value 123`: only 123 itself (as a number of any type, or the
 * text "123", or its keyed hash), never "0123", "123.0" as text, " 123", 1230 or NULL — so an erase removes
 * no other subject's rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import type { InferenceLogEntry } from "../serving/observability";
import { eraseFromEntry, matchSql } from "./erase";

const subject = { column: "customer_id", value: "123", hash: "hmac:00112233445566778899aabbccddeeff" };

describe("the subject's values in DuckDB columns of each type", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
  });
  afterAll(async () => {
    await p.close();
  });

  it.each([
    ["VARCHAR", `['123', '0123', '123.0', ' 123', '1230', NULL, '${subject.hash}']`, 2],
    ["BIGINT", "[123, 1230, 12, NULL, -123]", 1],
    ["INTEGER", "[123, 1230, NULL]", 1],
    ["HUGEINT", "[123, 1230, NULL]", 1],
    ["DOUBLE", "[123.0, 123.5, 1230.0, NULL]", 1],
    ["FLOAT", "[123.0, 123.5, NULL]", 1],
    ["DECIMAL(10,2)", "[123.00, 12.30, 123.01, NULL]", 1],
    ["DATE", "[DATE '2020-01-01', NULL]", 0],
  ])("%s: %s holds %i of the subject's rows", async (type, values, expected) => {
    const t = await p.table(
      `m_${type.replace(/\W/g, "_")}`,
      `SELECT CAST(v AS ${type}) AS customer_id FROM (SELECT unnest(${values}) AS v)`,
    );
    // The type as DuckDB reports it, as an erase reads it (DESCRIBE, duckdb_columns()).
    const where = matchSql("customer_id", t.columns[0]!.type, subject);
    const n =
      where === null ? 0 : Number((await p.sql.one(`SELECT count(*) AS n FROM ${t.name} WHERE ${where}`)).n);
    expect(n).toBe(expected);
    // What an erase keeps: every other row, NULLs too.
    const kept =
      where === null
        ? t.rows
        : Number((await p.sql.one(`SELECT count(*) AS n FROM ${t.name} WHERE (${where}) IS NOT TRUE`)).n);
    expect(kept).toBe(t.rows! - expected);
  });
});

describe("the subject's rows of a logged request", () => {
  const entry = (ids: unknown[]): InferenceLogEntry =>
    ({
      seq: 1,
      time: "2026-01-01T00:00:00.000Z",
      model: "churn",
      version: 1,
      inputs: [
        { name: "customer_id", datatype: "BYTES", shape: [ids.length], data: ids },
        { name: "pair", datatype: "FP64", shape: [ids.length, 2], data: ids.flatMap((_, i) => [i, i + 0.5]) },
      ],
      outputs: [{ name: "label", datatype: "BYTES", shape: [ids.length], data: ids.map((_, i) => `l${i}`) }],
    }) as unknown as InferenceLogEntry;

  it("removes only the rows holding 123 (as a number, text or its hash), with their values in every tensor", () => {
    const out = eraseFromEntry(entry(["0123", 123, null, "123.0", subject.hash, " 123", "123"]), subject);
    expect(out.rows).toBe(3);
    expect(out.entry!.inputs[0]).toEqual({
      name: "customer_id",
      datatype: "BYTES",
      shape: [4],
      data: ["0123", null, "123.0", " 123"],
    });
    expect(out.entry!.inputs[1]!.data).toEqual([0, 0.5, 2, 2.5, 3, 3.5, 5, 5.5]);
    expect(out.entry!.outputs[0]!.data).toEqual(["l0", "l2", "l3", "l5"]);
  });

  it("leaves an entry without the subject as it was (the same object)", () => {
    const e = entry([1230, "0123", null]);
    expect(eraseFromEntry(e, subject)).toEqual({ entry: e, rows: 0 });
  });
});
