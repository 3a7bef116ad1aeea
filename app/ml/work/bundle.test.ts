/**
 * The work pool from the esbuild bundle (dist/cli, built by the tests'
 * global setup): the CLI scores in worker threads started from the bundled
 * entry dist/cli/work-worker.js (there is no in-thread fallback, so a run
 * that scores proves the bundled worker loaded), and that entry does not load
 * DuckDB.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, startDagwood } from "../../cli/testing";

const DIST = join(ROOT, "dist", "cli");

/** Every package the bundled module `file` imports, through its chunks, at load time or lazily. */
function packagesImported(file: string, seen = new Set<string>(), packages = new Set<string>()): Set<string> {
  if (seen.has(file)) return packages;
  seen.add(file);
  const text = readFileSync(join(DIST, file), "utf8");
  for (const m of text.matchAll(/(?:\bimport|\bfrom)\s*\(?\s*"([^"]+)"/g)) {
    const spec = m[1]!;
    if (spec.startsWith("./")) packagesImported(spec.slice(2), seen, packages);
    else packages.add(spec);
  }
  return packages;
}

describe("work workers from the bundle", { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-work-bundle-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("ships the worker entry beside the CLI bundle, without DuckDB", () => {
    expect(existsSync(join(DIST, "work-worker.js"))).toBe(true);
    const packages = packagesImported("work-worker.js");
    expect([...packages].filter((p) => p.includes("duckdb"))).toEqual([]);
    expect(packages.has("node:worker_threads")).toBe(true);
  });

  it("runs predict, evaluate and explain through the CLI, scoring in the bundled workers", async () => {
    copyFileSync(
      join(ROOT, "resources", "examples", "starter", "data", "penguins.csv"),
      join(dir, "penguins.csv"),
    );
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "work-bundle" }));
    const pipeline = {
      format: "dagwood.pipeline/1",
      name: "score-in-workers",
      nodes: [
        { id: "penguins", block: "ingest.file", params: { path: "penguins.csv" } },
        {
          id: "rows",
          block: "transform.sql",
          params: {
            query: "SELECT species, beak_length_mm, beak_depth_mm, flipper_length_mm, island FROM input",
          },
        },
        { id: "tree", block: "train.tree", params: { target: "species" } },
        { id: "scores", block: "predict", params: {} },
        { id: "eval", block: "evaluate", params: {} },
        { id: "why", block: "explain", params: { repeats: 2 } },
      ],
      edges: [
        { from: "penguins.out", to: "rows.in" },
        { from: "rows.out", to: "tree.train" },
        { from: "tree.model", to: "scores.model" },
        { from: "rows.out", to: "scores.data" },
        { from: "tree.model", to: "eval.model" },
        { from: "rows.out", to: "eval.data" },
        { from: "tree.model", to: "why.model" },
        { from: "rows.out", to: "why.data" },
      ],
    };
    writeFileSync(join(dir, "score.dag.json"), JSON.stringify(pipeline));
    const { done } = startDagwood(["run", "score.dag.json", "--project", dir, "--json"], { cwd: dir });
    const result = await done;
    expect(result.stderr).not.toMatch(/work worker|Error \[ERR_/);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      status: string;
      nodes: { id: string; status: string }[];
      metrics: { node: string; name: string; value: number }[];
    };
    expect(summary.status).toBe("succeeded");
    expect(Object.fromEntries(summary.nodes.map((n) => [n.id, n.status]))).toMatchObject({
      scores: "ran",
      eval: "ran",
      why: "ran",
    });
    const metric = (node: string, name: string) =>
      summary.metrics.find((m) => m.node === node && m.name === name)?.value;
    expect(metric("scores", "rows_scored")).toBe(344);
    expect(metric("eval", "accuracy")).toBeGreaterThan(0.9);
  });
});
