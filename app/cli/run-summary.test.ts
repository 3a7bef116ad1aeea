/** `dagwood run`'s last line and --json summary: warnings per node and in all, and each node's headline. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvaluationReport } from "../values/evaluation";
import { runOutcome, runWarnings } from "./format";
import { ROOT, startDagwood } from "./testing";

const dagwood = (...args: string[]) => startDagwood(args).done;

/** Penguins split, a logistic regression stopped after one L-BFGS iteration (it warns), its evaluation. */
const pipeline = (maxIter: number) => ({
  format: "dagwood.pipeline/1",
  name: "warn",
  params: {},
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "penguins.csv" } },
    {
      id: "split",
      block: "split",
      params: { strategy: "stratified", column: "species", testFraction: 0.25, seed: 7 },
    },
    { id: "logistic", block: "train.logistic", params: { target: "species", maxIter } },
    { id: "eval", block: "evaluate", params: {} },
  ],
  edges: [
    { from: "penguins.out", to: "split.in" },
    { from: "split.train", to: "logistic.train" },
    { from: "logistic.model", to: "eval.model" },
    { from: "split.test", to: "eval.data" },
  ],
});

describe("dagwood run: warnings and headlines", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-run-summary-"));
    copyFileSync(
      join(ROOT, "resources", "examples", "starter", "data", "penguins.csv"),
      join(dir, "penguins.csv"),
    );
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "run-summary-test" }\n');
    writeFileSync(join(dir, "warn.dag.json"), JSON.stringify(pipeline(1)));
    writeFileSync(join(dir, "quiet.dag.json"), JSON.stringify({ ...pipeline(200), name: "quiet" }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the last line says how many warnings the run logged; --json counts them per node and in all", async () => {
    const human = await dagwood("run", join(dir, "warn.dag.json"));
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/logistic warn: Logistic regression did not converge within maxIter \(1\)/);
    expect(human.stderr).toMatch(/Run \S+ succeeded with 1 warning in /);
    // The table gains a warnings column, filled for the node that warned.
    expect(human.stdout).toMatch(/node\s+block\s+status\s+time\s+rows\s+warnings\n/);
    expect(human.stdout).toMatch(/logistic\s+train\.logistic\s+ran\s+\S+ m?s\s+1\n/);
    expect(human.stdout).toMatch(/split\s+split\s+ran\s+\S+ m?s\s+258 \/ 86\n/);
    expect(human.stdout.trimEnd().split("\n").at(-1)).toMatch(
      /^succeeded with 1 warning in \S+ m?s \(run \S+\)$/,
    );

    // All cached now: the model still did not converge, and the run still says so.
    const json = await dagwood("run", join(dir, "warn.dag.json"), "--json");
    expect(json.code, json.stderr).toBe(0);
    const summary = JSON.parse(json.stdout);
    expect(summary.status).toBe("succeeded");
    expect(summary.warnings).toBe(1);
    const nodes = Object.fromEntries(
      (summary.nodes as { id: string; status: string; warnings: number }[]).map((n) => [
        n.id,
        [n.status, n.warnings],
      ]),
    );
    expect(nodes).toEqual({
      penguins: ["cached", 0],
      split: ["cached", 0],
      logistic: ["cached", 1],
      eval: ["cached", 0],
    });
    expect(json.stderr).toMatch(/logistic warn: \(cached\) Logistic regression did not converge/);
  });

  it("--json gives each node's headline: rows for tables, accuracy for evaluate, parity for train", async () => {
    const r = await dagwood("run", join(dir, "quiet.dag.json"), "--json");
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.warnings).toBe(0);
    const node = (id: string) => summary.nodes.find((n: { id: string }) => n.id === id);
    expect(node("split").outputs.train.rows + node("split").outputs.test.rows).toBe(344);
    expect(node("logistic").outputs.model.headline).toMatchObject({ kind: "parity", labelAgreement: 1 });
    expect(node("logistic").outputs.model.headline.maxAbsDiff).toBeLessThan(1e-9);
    const headline = node("eval").outputs.report.headline;
    expect(headline).toMatchObject({
      kind: "metric",
      name: "accuracy",
      rows: node("split").outputs.test.rows,
    });
    // Accuracy from the report's confusion matrix: its diagonal over all its cells.
    const report = JSON.parse(
      readFileSync(join(dir, ".dagwood", "artifacts", summary.runId, "eval", "report.json"), "utf8"),
    ) as EvaluationReport;
    const m = report.confusion!.matrix;
    const correct = m.reduce((s, row, i) => s + row[i]!, 0);
    const total = m.flat().reduce((s, v) => s + v, 0);
    expect(total).toBe(headline.rows);
    expect(headline.value).toBeCloseTo(correct / total, 12);

    const human = await dagwood("run", join(dir, "quiet.dag.json"));
    expect(human.stdout).toMatch(/node\s+block\s+status\s+time\s+rows\n/);
    expect(human.stdout.trimEnd().split("\n").at(-1), human.stderr).toMatch(
      /^succeeded in \S+ m?s \(run \S+\)$/,
    );
  });

  it("the outcome line: plural, singular, none; a summary folded from events sums its nodes", () => {
    expect(runOutcome("succeeded", 2)).toBe("succeeded with 2 warnings");
    expect(runOutcome("succeeded", 1)).toBe("succeeded with 1 warning");
    expect(runOutcome("failed", 1234)).toBe("failed with 1,234 warnings");
    expect(runOutcome("succeeded", 0)).toBe("succeeded");
    expect(runOutcome("succeeded", undefined)).toBe("succeeded");
    const nodes = [
      { id: "a", block: "b", status: "ran" as const, ms: 1, outputs: {}, warnings: 2 },
      { id: "c", block: "b", status: "cached" as const, ms: 1, outputs: {} },
    ];
    expect(runWarnings({ nodes })).toBe(2);
    expect(runWarnings({ nodes, warnings: 5 })).toBe(5);
  });
});
