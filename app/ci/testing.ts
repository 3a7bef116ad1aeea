/**
 * For the tests of `dagwood test` and `dagwood ci`: a small temporary project
 * with a "full" data file, a fixture of it, and a pipeline ingest → SQL →
 * split → tree → evaluate → gate → register (→ deploy in `deploy.dag.json`).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Rows of a table whose label is x + y / 2 > 0.75: a deeper tree learns it better than a stump. */
export function labelledCsv(rows: number, seed: number): string {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const lines = ["x,y,cat,label"];
  for (let i = 0; i < rows; i++) {
    const x = next();
    const y = next();
    lines.push(
      `${x.toFixed(4)},${y.toFixed(4)},${i % 3 === 0 ? "a" : "b"},${x + y / 2 > 0.75 ? "high" : "low"}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

interface TestPipeline {
  format: string;
  name: string;
  params: Record<string, unknown>;
  nodes: { id: string; block: string; params: Record<string, unknown> }[];
  edges: { from: string; to: string }[];
}

export const PIPELINE: TestPipeline = {
  format: "dagwood.pipeline/1",
  name: "small",
  params: { minAccuracy: 0.5, seed: 3 },
  nodes: [
    { id: "src", block: "ingest.file", params: { path: "data/full.csv" } },
    { id: "feat", block: "transform.sql", params: { query: "SELECT x, y, cat, label FROM input" } },
    {
      id: "split",
      block: "split",
      params: { strategy: "stratified", column: "label", testFraction: 0.25, seed: "${seed}" },
    },
    { id: "tree", block: "train.tree", params: { target: "label", maxDepth: 3, seed: "${seed}" } },
    { id: "eval", block: "evaluate", params: {} },
    { id: "gate", block: "gate", params: { metric: "accuracy", op: ">=", threshold: "${minAccuracy}" } },
    { id: "register", block: "register", params: { name: "small-model" } },
  ],
  edges: [
    { from: "src.out", to: "feat.in" },
    { from: "feat.out", to: "split.in" },
    { from: "split.train", to: "tree.train" },
    { from: "tree.model", to: "eval.model" },
    { from: "split.test", to: "eval.data" },
    { from: "eval.report", to: "gate.report" },
    { from: "tree.model", to: "register.model" },
    { from: "gate.report", to: "register.report" },
  ],
};

/** The rows of data/full.csv and of the fixture tests/fixtures/small.csv. */
export const FULL_ROWS = 400;
export const SMALL_ROWS = 24;

/** A new project folder: dagwood.json, data/full.csv, tests/fixtures/small.csv, small.dag.json. */
export function makeCiProject(prefix = "dagwood-ci-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "tests", "fixtures"), { recursive: true });
  mkdirSync(join(dir, "expectations"));
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "small", targets: {} }));
  writeFileSync(join(dir, "data", "full.csv"), labelledCsv(FULL_ROWS, 1));
  writeFileSync(join(dir, "tests", "fixtures", "small.csv"), labelledCsv(SMALL_ROWS, 2));
  writeFileSync(join(dir, "small.dag.json"), JSON.stringify(PIPELINE, null, 2));
  return dir;
}

/** Writes `tests/<name>.test.json` with `body` (the format filled in), answering its path. */
export function writeTest(dir: string, name: string, body: Record<string, unknown>): string {
  const file = join(dir, "tests", `${name}.test.json`);
  writeFileSync(
    file,
    JSON.stringify({ format: "dagwood.test/1", pipeline: "small.dag.json", ...body }, null, 2),
  );
  return file;
}
