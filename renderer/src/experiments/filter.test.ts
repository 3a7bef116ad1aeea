import { describe, expect, it } from "vitest";
import { conditionText, parseFilter, parseValue } from "./filter";

const known = {
  params: new Set(["train.maxDepth", "split.strategy", "metric.x"]),
  metrics: new Set(["evaluate.accuracy", "evaluate.f1"]),
};

describe("parseFilter", () => {
  it("reads metric and param conditions joined by and / commas", () => {
    const parsed = parseFilter(
      "evaluate.accuracy > 0.9 and train.maxDepth = 6, split.strategy != random",
      known,
    );
    expect(parsed).toEqual({
      ok: true,
      conditions: [
        { field: "metric", key: "evaluate.accuracy", op: ">", value: 0.9 },
        { field: "param", key: "train.maxDepth", op: "=", value: 6 },
        { field: "param", key: "split.strategy", op: "!=", value: "random" },
      ],
    });
  });

  it("reads two-character operators whole", () => {
    const parsed = parseFilter("evaluate.f1>=0.5 && evaluate.accuracy <= 1", known);
    expect(parsed.ok && parsed.conditions.map((c) => c.op)).toEqual([">=", "<="]);
  });

  it("reads tags, explicit prefixes, contains, quotes and booleans", () => {
    const parsed = parseFilter(
      'tag.team = "data science", metric:new.loss < 3, param:new.flag = true, split.strategy contains strat',
      known,
    );
    expect(parsed).toEqual({
      ok: true,
      conditions: [
        { field: "tag", key: "team", op: "=", value: "data science" },
        { field: "metric", key: "new.loss", op: "<", value: 3 },
        { field: "param", key: "new.flag", op: "=", value: true },
        { field: "param", key: "split.strategy", op: "contains", value: "strat" },
      ],
    });
  });

  it("prefers a known key over a prefix reading of it", () => {
    const parsed = parseFilter("metric.x = 1", known);
    expect(parsed).toEqual({
      ok: true,
      conditions: [{ field: "param", key: "metric.x", op: "=", value: 1 }],
    });
  });

  it("is no condition when empty", () => {
    expect(parseFilter("   ", known)).toEqual({ ok: true, conditions: [] });
  });

  it("says what is wrong with a bad clause", () => {
    const noOp = parseFilter("evaluate.accuracy", known);
    expect(noOp.ok === false && noOp.error).toMatch(/has no comparison/);
    const noValue = parseFilter("evaluate.accuracy >", known);
    expect(noValue.ok === false && noValue.error).toMatch(/has no value/);
    const notNumber = parseFilter("evaluate.accuracy > high", known);
    expect(notNumber.ok === false && notNumber.error).toMatch(/compares numbers, and "high" is not one/);
    const unknown = parseFilter("train.depth = 3", known);
    expect(unknown.ok === false && unknown.error).toMatch(/"train.depth" is neither a param nor a metric/);
    expect(unknown.ok === false && unknown.error).toMatch(/param:train.depth/);
  });
});

describe("parseValue and conditionText", () => {
  it("keeps text that only looks numeric when quoted", () => {
    expect(parseValue('"6"')).toBe("6");
    expect(parseValue("6")).toBe(6);
    expect(parseValue("")).toBe("");
  });

  it("writes a condition back so that it parses to the same", () => {
    const c = { field: "tag", key: "team", op: "=", value: "data science" } as const;
    expect(conditionText(c)).toBe('tag.team = "data science"');
    expect(parseFilter(conditionText(c), known)).toEqual({ ok: true, conditions: [c] });
  });
});
