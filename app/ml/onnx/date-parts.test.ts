import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { datePartsOf, TIMESTAMP_PARTS } from "../date-parts";
import { attr, OnnxGraphBuilder } from "./builder";
import { appendDateParts } from "./date-parts";

/** Instants from 1600 to 2400 with the calendar's traps: leap days, century years, the epoch's edges. */
function instants(): number[] {
  const out = [
    0,
    -1,
    Date.UTC(1969, 11, 31, 23, 59, 59, 999),
    Date.UTC(1900, 1, 28, 23),
    Date.UTC(1900, 2, 1),
    Date.UTC(2000, 1, 29, 12),
    Date.UTC(1600, 1, 29, 7),
    Date.UTC(1960, 1, 29, 23, 59),
    Date.UTC(2024, 1, 29),
    Date.UTC(2100, 2, 1, 1),
    -62135596800000, // 0001-01-01
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  ];
  let s = 99;
  for (let i = 0; i < 3000; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out.push(Date.UTC(1600, 0, 1) + Math.floor((s / 2 ** 31) * 800 * 365.2425 * 86_400_000));
  }
  return out;
}

describe("appendDateParts: date parts inside the ONNX graph", () => {
  it("gives the native parts bit for bit, and the calendar's (JS Date UTC getters), NaN for missing", async () => {
    const builder = new OnnxGraphBuilder();
    builder.input("at", "DOUBLE", [-1, 1]);
    const parts = appendDateParts(builder, "at", "at", TIMESTAMP_PARTS);
    builder.node("Concat", parts, ["parts"], { axis: attr.int(1) });
    builder.output("parts", "DOUBLE", [-1, TIMESTAMP_PARTS.length]);
    const session = await ort.InferenceSession.create(builder.encode());
    const values = [...instants(), Number.NaN];
    const out = await session.run({
      at: new ort.Tensor("float64", Float64Array.from(values), [values.length, 1]),
    });
    await session.release();
    const got = out.parts!.data as Float64Array;
    const native = new Float64Array(values.length * TIMESTAMP_PARTS.length);
    values.forEach((ms, r) => {
      datePartsOf(ms, TIMESTAMP_PARTS, native, r * TIMESTAMP_PARTS.length);
    });
    expect(Array.from(got)).toEqual(Array.from(native));
    values.slice(0, -1).forEach((ms, r) => {
      const d = new Date(ms);
      const want = [
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCDay() === 0 ? 7 : d.getUTCDay(),
        d.getUTCHours(),
      ];
      expect(Array.from(got.subarray(r * 5, r * 5 + 5)), d.toISOString()).toEqual(want);
    });
    expect(Array.from(got.subarray(-5))).toEqual([NaN, NaN, NaN, NaN, NaN]);
  });
});
