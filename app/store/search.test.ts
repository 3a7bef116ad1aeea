import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTempStore,
  type MetadataStore,
  type RunCondition,
  type RunQuery,
  type StartRunInput,
} from "./metadata";
import type { Sql } from "./sql";

/**
 * Six runs of two pipelines:
 *   a1..a4 ("penguins"): gbdt.trees 50/100/200/"auto", eval.accuracy 0.80/0.90/0.85/none
 *   b1, b2 ("flights"): train.l2 0.1/1, eval.rmse 3/2
 */
function seed(store: MetadataStore): void {
  const start = (
    id: string,
    pipeline: string,
    i: number,
    resolvedParams: Record<string, unknown>,
    tags = {},
  ) =>
    store.startRun({
      id,
      pipeline,
      pipelinePath: null,
      pipelineHash: null,
      pipelineText: null,
      params: {},
      resolvedParams,
      startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      environment: {},
      user: null,
      tags,
    } satisfies StartRunInput);
  const metric = (runId: string, key: string, value: number) => {
    const [nodeId, name] = key.split(".") as [string, string];
    store.logMetric({ runId, nodeId, name, value, step: null });
  };
  start("a1", "penguins", 1, { "gbdt.trees": 50, "split.strategy": "random" }, { team: "red" });
  start("a2", "penguins", 2, { "gbdt.trees": 100, "split.strategy": "stratified" }, { team: "blue" });
  start("a3", "penguins", 3, { "gbdt.trees": 200, "split.strategy": "stratified" }, { team: "Blue-2" });
  start("a4", "penguins", 4, { "gbdt.trees": "auto", "split.strategy": "stratified", "gbdt.early": true });
  start("b1", "flights", 5, { "train.l2": 0.1 });
  start("b2", "flights", 6, { "train.l2": 1 });
  metric("a1", "eval.accuracy", 0.8);
  metric("a2", "eval.accuracy", 0.9);
  metric("a3", "eval.accuracy", 0.85);
  metric("b1", "eval.rmse", 3);
  metric("b2", "eval.rmse", 2);
  for (const id of ["a1", "a2", "a3", "b1"]) store.finishRun(id, "succeeded");
  store.finishRun("a4", "failed", "gbdt: boom");
}

/** A temporary store holding the runs above, made before each test of the enclosing describe and removed after it. */
function seededStoreEachTest(use: (store: MetadataStore) => void): void {
  let cleanup: () => void;
  beforeEach(() => {
    const temp = createTempStore();
    cleanup = temp.cleanup;
    seed(temp.store);
    use(temp.store);
  });
  afterEach(() => cleanup());
}

describe("searchRuns", () => {
  let store: MetadataStore;
  seededStoreEachTest((seeded) => {
    store = seeded;
  });
  const ids = (q: RunQuery) => store.searchRuns(q).runs.map((r) => r.id);

  it("lists newest first by default, with total, key lists and every latest metric", () => {
    const page = store.searchRuns({});
    expect(page.runs.map((r) => r.id)).toEqual(["b2", "b1", "a4", "a3", "a2", "a1"]);
    expect(page.total).toBe(6);
    expect(page.paramKeys).toEqual(["gbdt.early", "gbdt.trees", "split.strategy", "train.l2"]);
    expect(page.metricKeys).toEqual(["eval.accuracy", "eval.rmse"]);
    expect(page.runs[5]).toMatchObject({
      metrics: { "eval.accuracy": 0.8 },
      resolvedParams: {},
      tags: { team: "red" },
    });
  });

  it("filters by pipeline and status; key lists cover only the matching runs", () => {
    const page = store.searchRuns({ pipeline: "flights" });
    expect(page.runs.map((r) => r.id)).toEqual(["b2", "b1"]);
    expect(page.paramKeys).toEqual(["train.l2"]);
    expect(page.metricKeys).toEqual(["eval.rmse"]);
    expect(ids({ status: ["failed", "running"] })).toEqual(["b2", "a4"]);
    expect(ids({ pipeline: "nope" })).toEqual([]);
    expect(store.searchRuns({ pipeline: "nope" })).toEqual({
      runs: [],
      total: 0,
      paramKeys: [],
      metricKeys: [],
    });
  });

  it("compares numbers numerically and text as text", () => {
    // Numerically 50 < 100 < 200; as text "100" < "200" < "50".
    expect(ids({ where: [{ field: "param", key: "gbdt.trees", op: ">", value: 60 }] })).toEqual(["a3", "a2"]);
    expect(ids({ where: [{ field: "param", key: "gbdt.trees", op: "<=", value: "100" }] })).toEqual([
      "a2",
      "a1",
    ]);
    expect(ids({ where: [{ field: "param", key: "gbdt.trees", op: "=", value: 100 }] })).toEqual(["a2"]);
    expect(ids({ where: [{ field: "param", key: "gbdt.trees", op: "=", value: "auto" }] })).toEqual(["a4"]);
    expect(ids({ where: [{ field: "param", key: "gbdt.trees", op: "!=", value: 100 }] })).toEqual([
      "a4",
      "a3",
      "a1",
    ]);
    expect(
      ids({ where: [{ field: "param", key: "split.strategy", op: "contains", value: "STRAT" }] }),
    ).toEqual(["a4", "a3", "a2"]);
    expect(ids({ where: [{ field: "param", key: "gbdt.early", op: "=", value: true }] })).toEqual(["a4"]);
    expect(ids({ where: [{ field: "param", key: "no.such", op: "=", value: 1 }] })).toEqual([]);
  });

  it("combines metric, param and tag conditions (all must hold)", () => {
    const q: RunQuery = {
      pipeline: "penguins",
      where: [
        { field: "metric", key: "eval.accuracy", op: ">=", value: 0.85 },
        { field: "param", key: "split.strategy", op: "=", value: "stratified" },
        { field: "tag", key: "team", op: "contains", value: "blue" },
      ],
    };
    expect(ids(q)).toEqual(["a3", "a2"]);
    expect(ids({ where: [{ field: "metric", key: "eval.accuracy", op: "<", value: "0.85" }] })).toEqual([
      "a1",
    ]);
    expect(ids({ where: [{ field: "tag", key: "team", op: "=", value: "red" }] })).toEqual(["a1"]);
    expect(ids({ where: [{ field: "tag", key: "team", op: "!=", value: "red" }] })).toEqual(["a3", "a2"]);
  });

  it("filters by the user and the machine a run was started by", () => {
    const sql = (store as unknown as { sql: Sql }).sql;
    const set = (id: string, user: string | null, host: string | null) =>
      sql.run('UPDATE runs SET "user" = ?, host = ? WHERE id = ?', user, host, id);
    set("a1", "ana", "lab-1");
    set("a2", "ana", "lab-2");
    set("b1", "bo", "lab-1");
    set("b2", null, null);
    expect(ids({ user: "ana" })).toEqual(["a2", "a1"]);
    expect(ids({ host: "lab-1" })).toEqual(["b1", "a1"]);
    expect(ids({ user: "ana", host: "lab-1" })).toEqual(["a1"]);
    expect(ids({ user: "ana", pipeline: "flights" })).toEqual([]);
    expect(ids({ user: "nobody" })).toEqual([]);
    // Data, not SQL; and not a pattern.
    expect(ids({ user: "' OR 1=1 --" })).toEqual([]);
    expect(ids({ host: "lab-%" })).toEqual([]);
    expect(store.searchRuns({ user: "ana" }).total).toBe(2);
    expect(store.getRun("a1")).toMatchObject({ user: "ana", host: "lab-1" });
    expect(() => store.searchRuns({ user: 7 as unknown as string })).toThrow(/user must be text; got 7/);
  });

  it("a new run records this machine as its host", () => {
    expect(store.getRun("a1")!.host).toBe(hostname());
    expect(ids({ host: hostname() })).toHaveLength(6);
  });

  it("compares tags with numbers numerically; a tag that is not a number matches only '!='", () => {
    for (const [id, v] of [
      ["a1", "10"],
      ["a2", "9.5"],
      ["a3", "abc"],
      ["b1", " 2e1 "],
      ["b2", ""],
    ] as const) {
      store.setTags(id, { size: v });
    }
    const tag = (op: RunCondition["op"], value: number | string) =>
      ids({ where: [{ field: "tag", key: "size", op, value }] });
    expect(tag(">", 9)).toEqual(["b1", "a2", "a1"]);
    expect(tag(">", "9")).toEqual(["b1", "a2", "a1"]);
    expect(tag(">", -1)).toEqual(["b1", "a2", "a1"]);
    expect(tag("<=", 10)).toEqual(["a2", "a1"]);
    expect(tag("=", 20)).toEqual(["b1"]);
    expect(tag("!=", 10)).toEqual(["b2", "b1", "a3", "a2"]);
    // Text compares as text: "9.5" > "10".
    expect(tag("=", "abc")).toEqual(["a3"]);
    // a4 has no such tag: no comparison holds for it.
    expect(tag("!=", "abc")).toEqual(["b2", "b1", "a2", "a1"]);
  });

  it("finds a run by the params a search chose, which replace the pipeline's", () => {
    const l2 = (value: number) => ids({ where: [{ field: "param", key: "train.l2", op: "=", value }] });
    expect(l2(10)).toEqual([]);
    store.recordChosenParams("b2", "train", { l2: 10, maxIter: 50 });
    expect(l2(10)).toEqual(["b2"]);
    expect(l2(1)).toEqual([]);
    expect(store.resolvedParams("b2")).toMatchObject({
      "train.l2": 10,
      "train.maxIter": 50,
      "train.search.chosen": ["l2", "maxIter"],
    });
    expect(
      store.searchRuns({ paramKeys: ["train.maxIter"] }).runs.find((r) => r.id === "b2")?.resolvedParams,
    ).toEqual({
      "train.maxIter": 50,
    });
    expect(() => store.recordChosenParams("nope", "train", { l2: 1 })).toThrow(/not found/);
  });

  it("treats keys and values as data, never as SQL", () => {
    const evil = "x' OR 1=1; DROP TABLE runs; --";
    expect(ids({ where: [{ field: "param", key: evil, op: "=", value: evil }] })).toEqual([]);
    expect(ids({ where: [{ field: "tag", key: "team", op: "contains", value: "%" }] })).toEqual([]);
    expect(ids({ orderBy: { field: "metric", key: evil } })).toHaveLength(6);
    expect(store.searchRuns({}).total).toBe(6);
  });

  it("sorts by a metric or a param (missing values last, either direction), duration, status, pipeline", () => {
    expect(
      ids({ pipeline: "penguins", orderBy: { field: "metric", key: "eval.accuracy", desc: true } }),
    ).toEqual(["a2", "a3", "a1", "a4"]);
    expect(ids({ pipeline: "penguins", orderBy: { field: "metric", key: "eval.accuracy" } })).toEqual([
      "a1",
      "a3",
      "a2",
      "a4",
    ]);
    // Numbers before text; runs without the param last.
    expect(ids({ orderBy: { field: "param", key: "gbdt.trees", desc: true } })).toEqual([
      "a3",
      "a2",
      "a1",
      "a4",
      "b2",
      "b1",
    ]);
    expect(ids({ orderBy: { field: "status" } })[0]).toBe("a4");
    expect(ids({ orderBy: { field: "pipeline" } }).slice(0, 2)).toEqual(["b2", "b1"]);
    expect(ids({ orderBy: { field: "duration" } }).at(-1)).toBe("b2");
    expect(ids({ orderBy: { field: "startedAt" } })[0]).toBe("a1");
  });

  it("pages with limit and offset; total counts every match", () => {
    const page = store.searchRuns({ limit: 2, offset: 2 });
    expect(page.runs.map((r) => r.id)).toEqual(["a4", "a3"]);
    expect(page.total).toBe(6);
    expect(store.searchRuns({ limit: 2, offset: 6 }).runs).toEqual([]);
  });

  it("returns the requested params and metrics per row", () => {
    const row = store.searchRuns({
      pipeline: "penguins",
      paramKeys: ["gbdt.trees", "no.such"],
      metricKeys: ["eval.accuracy"],
      limit: 1,
      orderBy: { field: "startedAt" },
    }).runs[0]!;
    expect(row.resolvedParams).toEqual({ "gbdt.trees": 50 });
    expect(row.metrics).toEqual({ "eval.accuracy": 0.8 });
    expect(store.searchRuns({ metricKeys: [], limit: 1 }).runs[0]!.metrics).toEqual({});
  });

  it("refuses bad queries with a message that says what to change", () => {
    expect(() => store.searchRuns({ limit: 0 })).toThrow(/1 to 1000 runs per page/);
    expect(() => store.searchRuns({ limit: 1001 })).toThrow(/1 to 1000/);
    expect(() => store.searchRuns({ offset: -1 })).toThrow(/offset must be 0 or more/);
    expect(() => store.searchRuns({ orderBy: { field: "metric" } })).toThrow(/needs a key/);
    expect(() =>
      store.searchRuns({ where: [{ field: "metric", key: "eval.accuracy", op: ">", value: "high" }] }),
    ).toThrow(/compared with a number/);
    expect(() =>
      store.searchRuns({ where: [{ field: "metric", key: "eval.accuracy", op: "contains", value: 1 }] }),
    ).toThrow(/metrics are numbers/);
    expect(() =>
      store.searchRuns({ where: [{ field: "param", key: "gbdt.early", op: ">", value: true }] }),
    ).toThrow(/only be compared with = or !=/);
  });

  it("refuses an operator or field outside the fixed lists, whatever the caller passed", () => {
    const injected = "= 1 OR 1 = 1 OR p.value";
    const query = (c: Record<string, unknown>) => ({ where: [c as unknown as RunCondition] });
    expect(() =>
      store.searchRuns(query({ field: "param", key: "gbdt.trees", op: injected, value: 1 })),
    ).toThrow(`unknown operator "${injected}"; use one of = != < <= > >= contains`);
    expect(() => store.searchRuns(query({ field: "tag", key: "team", op: "LIKE", value: "%" }))).toThrow(
      /unknown operator "LIKE"/,
    );
    expect(() =>
      store.searchRuns(query({ field: "runs; DROP TABLE runs", key: "k", op: "=", value: 1 })),
    ).toThrow(/unknown field "runs; DROP TABLE runs"; use "param", "metric" or "tag"/);
    expect(() => store.searchRuns(query({ field: "param", key: 5, op: "=", value: 1 }))).toThrow(
      /key must be text/,
    );
    expect(store.searchRuns({}).total).toBe(6);
  });
});

describe("compareRuns", () => {
  let store: MetadataStore;
  seededStoreEachTest((seeded) => {
    store = seeded;
  });

  it("puts differing params first, folds equal ones after, names the differing nodes", () => {
    const c = store.compareRuns(["a2", "a3"]);
    expect(c.runs.map((r) => r.id)).toEqual(["a2", "a3"]);
    expect(c.params).toEqual([
      { key: "gbdt.trees", values: [100, 200], differs: true },
      { key: "split.strategy", values: ["stratified", "stratified"], differs: false },
    ]);
    expect(c.differingNodes).toEqual(["gbdt"]);
    expect(c.metrics).toEqual([{ key: "eval.accuracy", values: [0.9, 0.85] }]);
    expect(c.curves).toEqual([]);
  });

  it("a param present in only some runs differs, and is null where absent", () => {
    const c = store.compareRuns(["a3", "a4", "b1"]);
    expect(c.params.find((p) => p.key === "gbdt.early")).toEqual({
      key: "gbdt.early",
      values: [null, true, null],
      differs: true,
    });
    expect(c.differingNodes).toEqual(["gbdt", "split", "train"]);
    expect(c.metrics.find((m) => m.key === "eval.rmse")?.values).toEqual([null, null, 3]);
  });

  it("returns training curves sorted by step, per run, in the order asked", () => {
    store.logMetrics([
      { runId: "a1", nodeId: "mlp", name: "loss", value: 0.5, step: 2 },
      { runId: "a1", nodeId: "mlp", name: "loss", value: 0.9, step: 1 },
      { runId: "a2", nodeId: "mlp", name: "loss", value: Number.NaN, step: 1 },
      // Logged twice without steps: a curve too, indexed by order.
      { runId: "a2", nodeId: "eval", name: "f1", value: 0.1, step: null },
      { runId: "a2", nodeId: "eval", name: "f1", value: 0.2, step: null },
    ]);
    const c = store.compareRuns(["a2", "a1"]);
    expect(c.curves.map((k) => k.key)).toEqual(["eval.f1", "mlp.loss"]);
    const loss = c.curves.find((k) => k.key === "mlp.loss")!;
    expect(loss.series.map((s) => s.runId)).toEqual(["a2", "a1"]);
    expect(loss.series[1]!.points).toEqual([
      [1, 0.9],
      [2, 0.5],
    ]);
    expect(loss.series[0]!.points[0]![1]).toBeNaN();
    expect(c.curves[0]!.series).toEqual([
      {
        runId: "a2",
        points: [
          [0, 0.1],
          [1, 0.2],
        ],
      },
    ]);
    // eval.accuracy was logged once without a step: a value, not a curve.
    expect(c.curves.some((k) => k.key === "eval.accuracy")).toBe(false);
  });

  it("keeps every point of long curves logged in batches of any size and one at a time", () => {
    const point = (step: number) => ({
      runId: "b1",
      nodeId: "train",
      name: "loss",
      value: 1 / (step + 1),
      step,
    });
    // 250 in one batch (multi-row inserts plus a remainder), 3 single points, then 347 more: 600 in all,
    // crossing the packed chunks' boundaries at 256 and 512.
    store.logMetrics(Array.from({ length: 250 }, (_, s) => point(s)));
    for (let s = 250; s < 253; s++) store.logMetric(point(s));
    store.logMetrics(Array.from({ length: 347 }, (_, s) => point(253 + s)));
    const logged = store.metrics("b1").filter((m) => m.name === "loss");
    expect(logged.map((m) => m.step)).toEqual(Array.from({ length: 600 }, (_, s) => s));
    const curve = store.compareRuns(["b1"]).curves.find((c) => c.key === "train.loss")!;
    expect(curve.series[0]!.points).toEqual(Array.from({ length: 600 }, (_, s) => [s, 1 / (s + 1)]));
    expect(
      store.searchRuns({ pipeline: "flights", limit: 1, orderBy: { field: "startedAt" } }).runs[0]!.metrics,
    ).toEqual({
      "eval.rmse": 3,
      "train.loss": 1 / 600,
    });
  });

  it("names unknown runs, and refuses empty or oversized comparisons", () => {
    expect(() => store.compareRuns(["a1", "ghost", "gone"])).toThrow(/no run "ghost", "gone"/);
    expect(() => store.compareRuns([])).toThrow(/at least one run/);
    expect(() => store.compareRuns(Array.from({ length: 101 }, (_, i) => `r${i}`))).toThrow(
      /At most 100 runs/,
    );
    expect(store.compareRuns(["a1", "a1"]).runs).toHaveLength(1);
  });
});
