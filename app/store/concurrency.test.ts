import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { specOf } from "./fixtures/store-spec";
import { createTempStore, type SqliteMetadataStore } from "./metadata";

const ROOT = join(import.meta.dirname, "..", "..");
const WRITER = join(import.meta.dirname, "fixtures", "concurrent-writer.ts");
const JOINER = join(import.meta.dirname, "fixtures", "join-run.ts");

function runWriter(args: string[], script = WRITER): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("two processes writing one metadata database", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  let where: string;
  beforeEach(() => {
    const temp = createTempStore();
    ({ store, dir, cleanup } = temp);
    // The same store for the writers: the SQLite file, or the PostgreSQL schema (as JSON).
    const spec = specOf(temp);
    where = spec.kind === "sqlite" ? spec.path : JSON.stringify(spec);
  });
  afterEach(() => cleanup());

  it("records both completely", async () => {
    const RUNS = 150;
    const POINTS = 30;
    const results = await Promise.all(
      ["alpha", "beta"].map((prefix) => runWriter([where, dir, prefix, String(RUNS), String(POINTS)])),
    );
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });

    // The two really wrote at the same time: each started runs while the other was writing.
    const starts = (prefix: string) =>
      store.searchRuns({ pipeline: prefix, limit: 1000 }).runs.map((r) => Date.parse(r.startedAt));
    const [alpha, beta] = [starts("alpha"), starts("beta")];
    expect(Math.min(...alpha)).toBeLessThan(Math.max(...beta));
    expect(Math.min(...beta)).toBeLessThan(Math.max(...alpha));

    for (const prefix of ["alpha", "beta"]) {
      const page = store.searchRuns({ pipeline: prefix, limit: 1000, paramKeys: ["train.i"] });
      expect(page.total).toBe(RUNS);
      expect(page.runs.every((r) => r.status === "succeeded" && r.tags.writer === prefix)).toBe(true);
      expect(page.runs.map((r) => r.resolvedParams["train.i"]).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: RUNS }, (_, i) => i),
      );
      for (const r of page.runs) {
        expect(r.metrics).toEqual({ "train.loss": 1 / POINTS, "train.acc": POINTS - 1 });
        expect(store.metrics(r.id)).toHaveLength(2 * POINTS);
      }
    }
  }, 60_000);

  it("steps joining one run at once: one run, recorded by the first, every step's nodes and metrics in it", async () => {
    const steps = ["s1", "s2", "s3", "s4"];
    const results = await Promise.all(steps.map((node) => runWriter([where, dir, "wf-1", node], JOINER)));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const page = store.searchRuns({ includeChildren: true });
    expect(page.runs.map((r) => r.id)).toEqual(["wf-1"]);
    const run = store.getRun("wf-1")!;
    // Whichever step came first wrote the record: its params, tags and resolved params, and no other's.
    const first = run.user!;
    expect(steps).toContain(first);
    expect(run.params).toEqual({ startedBy: first });
    expect(run.tags).toEqual({ first });
    expect(store.resolvedParams("wf-1")).toEqual({ [`${first}.x`]: 1 });
    expect(
      store
        .nodeRuns("wf-1")
        .map((n) => n.nodeId)
        .sort(),
    ).toEqual(steps);
    expect(store.metrics("wf-1")).toHaveLength(50 * steps.length);
    expect(page.runs[0]!.metrics).toEqual(Object.fromEntries(steps.map((s) => [`${s}.loss`, 49])));
  }, 60_000);
});
