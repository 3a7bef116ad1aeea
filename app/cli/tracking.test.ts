import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../store/metadata";
import type { RunRecord } from "../store/types";
import { PENGUINS_CSV, penguinTreePipeline } from "../tracking/testing";
import { type CliResult, startDagwood } from "./testing";
import {
  checkKeys,
  defaultMetricColumns,
  editDistance,
  nearestKey,
  parseCondition,
  parseModelRef,
  parseSort,
  renderComparison,
} from "./tracking";

const PIPELINE = penguinTreePipeline({ csvPath: "penguins.csv" });

function dagwood(cwd: string, ...args: string[]): Promise<CliResult> {
  return startDagwood(args, { cwd, env: { ...process.env, DAGWOOD_USER: "cli-tester" } }).done;
}

describe("dagwood runs and models", { timeout: 90_000 }, () => {
  let dir: string;
  let deep: string;
  let shallow: string;
  const cli = (...args: string[]) => dagwood(dir, ...args);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-cli-tracking-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "cli-tracking" }\n');
    writeFileSync(join(dir, "penguins.csv"), readFileSync(PENGUINS_CSV));
    writeFileSync(join(dir, "tree.dag.json"), JSON.stringify(PIPELINE));
    const first = await cli("run", "tree.dag.json", "--json");
    expect(first.code, first.stderr).toBe(0);
    deep = JSON.parse(first.stdout).runId;
    const second = await cli("run", "tree.dag.json", "--json", "--param", "depth=2");
    expect(second.code, second.stderr).toBe(0);
    shallow = JSON.parse(second.stdout).runId;
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists runs as a table or JSON, filtered by params and metrics and sorted by a metric", async () => {
    const table = await cli("runs", "list");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^id\s+pipeline\s+status\s+started\s+by\s+duration\s+evaluate\./);
    expect(table.stdout).toContain(deep);
    expect(table.stdout).toContain(shallow);
    expect(table.stdout).toMatch(/1–2 of 2 runs/);

    const filtered = await cli("runs", "list", "--where", "tree.maxDepth=2", "--json");
    expect(filtered.code).toBe(0);
    const page = JSON.parse(filtered.stdout);
    expect(page.runs.map((r: { id: string }) => r.id)).toEqual([shallow]);
    expect(page.runs[0].resolvedParams).toEqual({ "tree.maxDepth": 2 });

    const metric = await cli(
      "runs",
      "list",
      "--where",
      "evaluate.accuracy>0.5",
      "--where",
      "param:tree.maxDepth>=3",
    );
    expect(metric.stdout).toContain(deep);
    expect(metric.stdout).not.toContain(shallow);
    expect(metric.stdout).toMatch(/tree\.maxDepth/);

    for (const order of ["evaluate.log_loss", "-evaluate.log_loss"]) {
      const sorted = JSON.parse((await cli("runs", "list", "--sort", order, "--json")).stdout);
      const losses = sorted.runs.map(
        (r: { metrics: Record<string, number> }) => r.metrics["evaluate.log_loss"],
      );
      expect(losses).toEqual([...losses].sort((a, b) => (order.startsWith("-") ? b - a : a - b)));
    }
    const paged = await cli("runs", "list", "--limit", "1", "--offset", "1");
    expect(paged.stdout).toMatch(/2–2 of 2 runs/);
    expect((await cli("runs", "list", "--status", "failed")).stdout).toBe("No runs match.\n");
  });

  it("shows a run, and compares runs with the equal params folded", async () => {
    const show = await cli("runs", "show", shallow);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^Run ${shallow}\\s+penguin-tree\\s+succeeded`));
    expect(show.stdout).toMatch(/by cli-tester/);
    expect(show.stdout).toMatch(/tree\.maxDepth\s+2/);
    expect(show.stdout).toMatch(/penguins\s+penguins\.csv\s+[0-9a-f]{16}\s+344/);
    expect(show.stdout).toMatch(/tree\s+model\/model\.onnx\s+model\.onnx/);
    expect(
      JSON.parse((await cli("runs", "show", shallow, "--json")).stdout).resolvedParams["tree.maxDepth"],
    ).toBe(2);

    const compare = await cli("runs", "compare", deep, shallow);
    expect(compare.code).toBe(0);
    expect(compare.stdout).toMatch(/Params that differ \(1\)/);
    expect(compare.stdout).toMatch(/tree\.maxDepth\s+3\s+2/);
    expect(compare.stdout).toMatch(/\(\d+ equal params not shown; --all lists them\)/);
    expect(compare.stdout).toMatch(/evaluate\.accuracy\s+0\.\d+\s+0\.\d+/);
    const all = await cli("runs", "compare", deep, shallow, "--all");
    expect(all.stdout).toMatch(/\* tree\.maxDepth/);
    expect(all.stdout).toMatch(/split\.seed\s+7\s+7/);
    const json = JSON.parse((await cli("runs", "compare", deep, shallow, "--json")).stdout);
    expect(json.differingNodes).toEqual(["tree"]);
  });

  it("exports a run inside the project, refusing an existing folder", async () => {
    const r = await cli("runs", "export", deep, "--out", "exported-run");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Exported run .* to exported-run\//);
    expect(JSON.parse(readFileSync(join(dir, "exported-run", "run.json"), "utf8")).run.id).toBe(deep);
    expect(readFileSync(join(dir, "exported-run", "metrics.csv"), "utf8")).toMatch(
      /^node,name,step,value,ts\n/,
    );
    const again = await cli("runs", "export", deep, "--out", "exported-run");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists and is not empty/);
    for (const refused of [".", ".dagwood/x"]) {
      const r = await cli("runs", "export", deep, "--out", refused);
      expect(r.code, refused).toBe(1);
      expect(r.stderr, refused).toMatch(/that is the project folder or its \.dagwood state/);
    }
  });

  it("exports runs relative to the current folder and models inside the project, never over files", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "dagwood-export-elsewhere-"));
    try {
      mkdirSync(join(dir, "from-here"), { recursive: true });
      const rel = await dagwood(
        join(dir, "from-here"),
        "runs",
        "export",
        deep,
        "--out",
        "r",
        "--project",
        dir,
      );
      expect(rel.code, rel.stderr).toBe(0);
      expect(existsSync(join(dir, "from-here", "r", "run.json"))).toBe(true);

      const out = join(elsewhere, "run");
      const outside = await dagwood(elsewhere, "runs", "export", deep, "--out", "run", "--project", dir);
      expect(outside.code, outside.stderr).toBe(0);
      expect(outside.stdout).toContain(`to ${out}/`);
      expect(JSON.parse(readFileSync(join(out, "run.json"), "utf8")).run.id).toBe(deep);
      const again = await dagwood(elsewhere, "runs", "export", deep, "--out", "run", "--project", dir);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/exists and is not empty/);

      // models export: a relative --out lies in the project, as the README says, wherever the command runs.
      const model = await dagwood(
        elsewhere,
        "models",
        "export",
        "penguins:1",
        "--out",
        "exports/m",
        "--project",
        dir,
      );
      expect(model.code, model.stderr).toBe(0);
      expect(existsSync(join(dir, "exports", "m", "model.onnx"))).toBe(true);
      expect(existsSync(join(elsewhere, "exports"))).toBe(false);
      const leaving = await dagwood(
        elsewhere,
        "models",
        "export",
        "penguins:1",
        "--out",
        "../m",
        "--project",
        dir,
      );
      expect(leaving.code).toBe(1);
      expect(leaving.stderr).toMatch(/must be inside the project folder/);
      // A full path may name a folder outside it.
      const absolute = await dagwood(
        dir,
        "models",
        "export",
        "penguins:1",
        "--out",
        join(elsewhere, "m"),
        "--project",
        dir,
      );
      expect(absolute.code, absolute.stderr).toBe(0);
      expect(existsSync(join(elsewhere, "m", "model.onnx"))).toBe(true);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("refuses a --where or --sort key no run has, naming the nearest one (exit 2)", async () => {
    const typo = await cli("runs", "list", "--where", "tree.maxDepht=2");
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Unknown key "tree\.maxDepht"\. Did you mean "tree\.maxDepth"\?/);
    const sort = await cli("runs", "list", "--sort", "-evaluate.acuracy");
    expect(sort.code).toBe(2);
    expect(sort.stderr).toMatch(/Unknown key "evaluate\.acuracy"\. Did you mean "evaluate\.accuracy"\?/);
    const bare = await cli("runs", "list", "--sort", "accuracy");
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/Did you mean "evaluate\.accuracy"\?/);
    const metric = await cli("runs", "list", "--where", "metric:tree.maxDepth>1");
    expect(metric.code).toBe(2);
    expect(metric.stderr).toMatch(/Unknown metric key "tree\.maxDepth"\. Did you mean "[\w.]+"\?/);
    // Tags are free-form: an unknown tag matches nothing rather than failing.
    expect((await cli("runs", "list", "--where", "tag:team=x")).code).toBe(0);
  });

  it("prints help for every command and subcommand", async () => {
    const alias = await cli("models", "alias", "--help");
    expect(alias.code).toBe(0);
    expect(alias.stdout).toMatch(/^Usage:\n {2}dagwood models alias <name> <alias> <version>/);
    expect(alias.stdout).not.toMatch(/dagwood runs list/);
    for (const args of [["run"], ["runs", "list"], ["runs", "export"], ["models", "update"], ["validate"]]) {
      const r = await cli(...args, "--help");
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).toContain(`dagwood ${args.join(" ")}`);
    }
  });

  it("updates a model's description, owner and tags", async () => {
    const r = await cli(
      "models",
      "update",
      "penguins",
      "--description",
      "Species from measurements",
      "--owner",
      "data-team",
      "--tag",
      "team=bio",
      "--tag",
      "tier=gold",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Updated penguins: owner data-team, tags team=bio, tier=gold/);
    const removed = await cli("models", "update", "penguins", "--tag", "tier=", "--json");
    expect(JSON.parse(removed.stdout)).toMatchObject({
      owner: "data-team",
      description: "Species from measurements",
      tags: { team: "bio" },
    });
    expect(JSON.parse(removed.stdout).tags).not.toHaveProperty("tier");
    expect((await cli("models", "show", "penguins")).stdout).toMatch(/^Model penguins {2}owner data-team/);
    for (const args of [["penguins"], ["penguins", "--tag", "novalue"], ["../x", "--owner", "a"]]) {
      const bad = await cli("models", "update", ...args);
      expect(bad.code, args.join(" ")).toBe(2);
    }
    const missing = await cli("models", "update", "nope", "--owner", "a");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope/);
  });

  it("lists and shows models, moves aliases with history, and exports a version", async () => {
    const list = await cli("models", "list");
    expect(list.stdout).toMatch(/penguins\s+2\s+v2\s+challenger→v2/);
    expect(JSON.parse((await cli("models", "list", "--json")).stdout)[0].name).toBe("penguins");

    const set = await cli("models", "alias", "penguins", "champion", "1");
    expect(set.code).toBe(0);
    expect(set.stdout).toBe("penguins: alias champion set on v1\n");
    const moved = await cli("models", "alias", "penguins", "champion", "v2");
    expect(moved.stdout).toBe("penguins: alias champion moved v1 → v2\n");

    const show = await cli("models", "show", "penguins");
    expect(show.stdout).toMatch(/aliases: (challenger → v2, champion → v2|champion → v2, challenger → v2)/);
    expect(show.stdout).toMatch(/v2\s+ready/);
    expect(show.stdout).toMatch(/cli-tester\s+alias champion moved v1 → v2/);
    expect(show.stdout).toMatch(/dataset\s+penguins\.csv\s+sha256 [0-9a-f]{64}/);
    const version = await cli("models", "show", "penguins@champion");
    expect(version.stdout).toMatch(/^penguins v2 \(ready\)/);
    expect(version.stdout).toMatch(new RegExp(`from node tree of run ${shallow}`));
    expect(version.stdout).toMatch(/tree\.maxDepth=2/);
    expect(JSON.parse((await cli("models", "show", "penguins:1", "--json")).stdout).runId).toBe(deep);

    const exported = await cli("models", "export", "penguins@champion");
    expect(exported.code, exported.stderr).toBe(0);
    const folder = join(dir, "exports", "penguins-v2");
    const mlmodel = JSON.parse(readFileSync(join(folder, "MLmodel.json"), "utf8"));
    expect(mlmodel.registered_model.version).toBe(2);
    const v2 = JSON.parse((await cli("models", "show", "penguins:2", "--json")).stdout);
    expect(readFileSync(join(folder, "model.onnx")).equals(readFileSync(join(dir, v2.onnxPath)))).toBe(true);

    const removed = await cli("models", "alias", "penguins", "champion", "--remove");
    expect(removed.stdout).toBe("penguins: alias champion removed from v2\n");
  });

  it("exits 1 for what is not there or refused, 2 for bad arguments", async () => {
    const noRun = await cli("runs", "show", "20990101T000000-000000");
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toMatch(/No run 20990101T000000-000000/);
    const noVersion = await cli("models", "alias", "penguins", "champion", "9");
    expect(noVersion.code).toBe(1);
    expect(noVersion.stderr).toMatch(/Model "penguins" has no version 9 \(its latest is v2\)/);
    expect((await cli("models", "show", "nope")).code).toBe(1);
    expect((await cli("models", "export", "penguins@prod")).stderr).toMatch(/no alias "prod"/);
    expect((await cli("models", "alias", "penguins", "champion", "--remove")).code).toBe(1);

    const badAlias = await cli("models", "alias", "penguins", "3x", "1");
    expect(badAlias.code).toBe(2);
    expect(badAlias.stderr).toMatch(/alias: an alias/);
    expect(badAlias.stderr).toMatch(/Usage:/);
    for (const args of [
      ["runs"],
      ["runs", "frob"],
      ["runs", "show"],
      ["runs", "compare", deep],
      ["runs", "list", "--where", "nonsense"],
      ["runs", "list", "--where", "evaluate.accuracy~high"],
      ["runs", "list", "--status", "done"],
      ["runs", "list", "--limit", "0"],
      ["models", "show", "../x"],
      ["models", "export", "penguins"],
      ["models", "alias", "penguins", "champion"],
      ["models", "alias", "penguins", "champion", "two"],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/Usage:/);
    }
    const elsewhere = mkdtempSync(join(tmpdir(), "dagwood-empty-"));
    try {
      const none = await dagwood(elsewhere, "runs", "list");
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/No Dagwood runs in .*: run a pipeline there first/);
      expect(existsSync(join(elsewhere, ".dagwood"))).toBe(false);
      expect((await dagwood(elsewhere, "runs", "list", "--project", dir)).code).toBe(0);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
    mkdirSync(join(dir, "sub"));
    expect((await dagwood(join(dir, "sub"), "runs", "list")).code).toBe(0);
  });

  it("shows the retraining loop in a version's lineage: the alert its run answered, the alerts while it served", async () => {
    // As app/monitoring/loop.ts leaves a loop: raised on v1, retrained by the run that registered v2, promoted.
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      const loop = store.createMonitorLoop({
        monitor: "penguins-shift",
        model: "penguins",
        target: "local",
        action: "retrain",
        window: { start: "2026-12-03T11:00:00.000Z", end: "2026-12-03T12:00:00.000Z" },
        reasons: ["drift: 3 of 4 columns drifted"],
        champion: 1,
        message: "drift on penguins v1",
        auditId: null,
      })!;
      store.updateMonitorLoop(loop.id, { stage: "alerted" }, { stage: "retraining", runId: shallow });
      store.updateMonitorLoop(
        loop.id,
        { stage: "retraining" },
        {
          stage: "promoted",
          challenger: 2,
          outcome: "promoted v2: accuracy 0.95 vs 0.71 on 40 labelled rows",
        },
      );
    } finally {
      store.close();
    }
    const v2 = await cli("models", "show", "penguins:2");
    expect(v2.code, v2.stderr).toBe(0);
    const lines = v2.stdout.split("\n");
    const runLine = lines.findIndex((l) => l.startsWith("  run       "));
    expect(lines[runLine + 1]).toBe(
      "  after     alert #1 of monitor penguins-shift, window 2026-12-03 11:00:00 – 2026-12-03 12:00:00 UTC: drift: 3 of 4 columns drifted (on v1)",
    );
    expect(v2.stdout).not.toContain("Alerts while it served");
    const v1 = await cli("models", "show", "penguins:1");
    expect(v1.stdout).not.toMatch(/^ {2}after /m);
    expect(v1.stdout).toContain(
      [
        "Alerts while it served",
        "  alert #1 of monitor penguins-shift, window 2026-12-03 11:00:00 – 2026-12-03 12:00:00 UTC: drift: 3 of 4 columns drifted",
        "    promoted: promoted v2: accuracy 0.95 vs 0.71 on 40 labelled rows",
      ].join("\n"),
    );
  });
});

describe("runs list columns and key suggestions", () => {
  it("shows quality metrics first, then the keys most runs have", () => {
    const runs: { metrics: Record<string, number> }[] = [
      { metrics: { "split.train_rows": 1, "eval.accuracy": 0.9, "tree.onnx_max_abs_diff": 0, "a.rare": 1 } },
      {
        metrics: {
          "split.train_rows": 1,
          "eval.accuracy": 0.8,
          "tree.onnx_max_abs_diff": 0,
          "eval.f1_macro": 1,
        },
      },
      { metrics: { "split.train_rows": 1, "tree.onnx_max_abs_diff": 0 } },
    ];
    expect(defaultMetricColumns(runs, 4)).toEqual([
      "eval.accuracy",
      "eval.f1_macro",
      "split.train_rows",
      "tree.onnx_max_abs_diff",
    ]);
    expect(defaultMetricColumns([], 4)).toEqual([]);
  });

  it("suggests a key ending in the bare name first, else the nearest by edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "ab")).toBe(2);
    const keys = ["evaluate.accuracy", "tree.maxDepth", "split.seed"];
    expect(nearestKey("accuracy", keys)).toBe("evaluate.accuracy");
    expect(nearestKey("tree.maxdepth", keys)).toBe("tree.maxDepth");
    expect(nearestKey("x", [])).toBeUndefined();
    expect(() =>
      checkKeys([{ field: "param", key: "nope", explicit: true }], { metricKeys: [], paramKeys: [] }),
    ).toThrow(/Unknown param key "nope": no matching run has it/);
    expect(() =>
      checkKeys([{ field: "tag", key: "nope" }, { field: "startedAt" }], { metricKeys: [], paramKeys: [] }),
    ).not.toThrow();
  });
});

describe("argument parsing", () => {
  const metrics = ["evaluate.accuracy"];
  it("decides metric or param by the known metric keys, and honors prefixes", () => {
    expect(parseCondition("evaluate.accuracy>0.9", metrics)).toEqual({
      field: "metric",
      key: "evaluate.accuracy",
      op: ">",
      value: 0.9,
    });
    expect(parseCondition("train.maxDepth = 6", metrics)).toEqual({
      field: "param",
      key: "train.maxDepth",
      op: "=",
      value: 6,
    });
    expect(parseCondition("split.strategy==stratified", metrics)).toMatchObject({
      op: "=",
      value: "stratified",
    });
    expect(parseCondition("clean.dedupe=true", metrics)).toMatchObject({ value: true });
    expect(parseCondition("tag:owner~ana", metrics)).toEqual({
      field: "tag",
      key: "owner",
      op: "contains",
      value: "ana",
    });
    expect(parseCondition("tag:build=007", metrics)).toMatchObject({ value: "007" });
    expect(parseCondition("param:evaluate.accuracy<=1", metrics)).toMatchObject({ field: "param" });
    expect(parseCondition("ingest.path='a b.csv'", metrics)).toMatchObject({ value: "a b.csv" });
    expect(() => parseCondition("evaluate.accuracy=high", metrics)).toThrow(
      /is a metric; compare it with a number/,
    );
    expect(() => parseCondition("evaluate.accuracy>", metrics)).toThrow(/write key, operator and value/);
    expect(() => parseCondition("=3", metrics)).toThrow(/write key, operator and value/);
  });

  it("parses sorts and model references", () => {
    expect(parseSort("-evaluate.accuracy", metrics)).toEqual({
      field: "metric",
      key: "evaluate.accuracy",
      desc: true,
    });
    expect(parseSort("tree.maxDepth", metrics)).toEqual({
      field: "param",
      key: "tree.maxDepth",
      desc: false,
    });
    expect(parseSort("-duration", metrics)).toEqual({ field: "duration", desc: true });
    expect(() => parseSort("-", metrics)).toThrow(/--sort/);
    expect(parseModelRef("penguins")).toEqual({ name: "penguins" });
    expect(parseModelRef("penguins@champion")).toEqual({ name: "penguins", ref: "champion" });
    expect(parseModelRef("penguins.v2:12")).toEqual({ name: "penguins.v2", ref: 12 });
    expect(() => parseModelRef("penguins:0")).toThrow(/versions start at 1/);
    expect(() => parseModelRef("a@b@c")).toThrow(/not a model reference/);
    expect(() => parseModelRef("../x")).toThrow(/not a model reference/);
  });
});

describe("comparison text", () => {
  const run = (id: string): RunRecord => ({
    id,
    pipeline: "p",
    pipelinePath: null,
    pipelineHash: null,
    status: "succeeded",
    params: {},
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: null,
    durationMs: 1500,
    error: null,
    environment: {},
    user: null,
    host: null,
    parentRunId: null,
    kind: "pipeline",
    tags: {},
    note: null,
  });
  const comparison = {
    runs: [run("r1"), run("r2")],
    params: [
      { key: "mlp.epochs", values: [10, 20], differs: true },
      { key: "mlp.seed", values: [7, 7], differs: false },
      { key: "split.seed", values: [7, 7], differs: false },
    ],
    metrics: [{ key: "eval.accuracy", values: [0.91234, Number.NaN] }],
    curves: [
      {
        key: "mlp.loss",
        series: [
          {
            runId: "r1",
            points: [
              [0, 1.2],
              [1, 0.3],
              [2, 0.5],
            ] as [number, number][],
          },
          { runId: "r2", points: [] },
        ],
      },
    ],
    differingNodes: ["mlp"],
    paramsRecorded: [true, true],
    pipeline: null,
  };

  it("folds equal params into a count, and summarizes curves as first → last, min", () => {
    const text = renderComparison(comparison, false);
    expect(text).toMatch(
      /Params that differ \(1\)\n.*\n.*\n {2}mlp\.epochs\s+10\s+20\n {2}\(2 equal params not shown; --all lists them\)/,
    );
    expect(text).not.toMatch(/split\.seed/);
    expect(text).toMatch(/eval\.accuracy\s+0\.9123\s+NaN/);
    expect(text).toMatch(/mlp\.loss\s+1\.2 → 0\.5, min 0\.3\s+—/);
    expect(text).toMatch(/duration\s+1\.5 s\s+1\.5 s/);
    const all = renderComparison(comparison, true);
    expect(all).toMatch(/Params \(3, 1 differ\)/);
    expect(all).toMatch(/\* mlp\.epochs/);
    expect(all).toMatch(/ split\.seed\s+7\s+7/);
    expect(all).not.toMatch(/not shown/);
  });
});
