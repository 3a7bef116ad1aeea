import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "./metadata";

const ROOT = join(import.meta.dirname, "..", "..");
const WRITER = join(import.meta.dirname, "fixtures", "concurrent-writer.ts");

function runWriter(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, ...args], {
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
  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
  });
  afterEach(() => cleanup());

  it("records both completely", async () => {
    const path = join(dir, ".dagwood", "metadata.sqlite");
    const RUNS = 150;
    const POINTS = 30;
    const results = await Promise.all(
      ["alpha", "beta"].map((prefix) => runWriter([path, dir, prefix, String(RUNS), String(POINTS)])),
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
});
