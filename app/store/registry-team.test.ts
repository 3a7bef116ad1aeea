import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type StoreSpec, specOf } from "./fixtures/store-spec";
import { createTestStore, type TestStore, testingOnPostgres } from "./testing";

const ROOT = join(import.meta.dirname, "..", "..");
const WRITER = join(import.meta.dirname, "fixtures", "team-writer.ts");

const ON_POSTGRES = testingOnPostgres();

interface Writer {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<{ code: number | null; versions: number[]; loops: string[]; stderr: string }>;
}

function startWriter(args: string[]): Writer {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, ...args], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`writer exited (${code}) before it was ready: ${stderr}`)));
  });
  child.stdout!.on("data", (d) => {
    stdout += d;
    if (stdout.startsWith("ready\n")) onReady();
  });
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; versions: number[]; loops: string[]; stderr: string }>(
    (resolve) =>
      child.on("close", (code) =>
        resolve({
          code,
          stderr,
          versions: stdout
            .split("\n")
            .filter((l) => /^\d+$/.test(l))
            .map(Number),
          loops: stdout.split("\n").filter((l) => l.startsWith("loop ")),
        }),
      ),
  );
  return { child, ready, done };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe(`several processes on one ${ON_POSTGRES ? "PostgreSQL" : "SQLite"} store`, () => {
  let test: TestStore;
  let store: TestStore["store"];
  let dir: string;
  let spec: StoreSpec;
  beforeEach(() => {
    test = createTestStore();
    ({ store, dir } = test);
    spec = specOf(test);
  });
  afterEach(() => test.cleanup());

  it("numbers every registration once, 1..N×k, moves the alias through each, loses no run, metric or audit entry, and takes each loop step once", async () => {
    const PROCESSES = 4;
    const REGISTRATIONS = 12;
    const POINTS = 20;
    const TOTAL = PROCESSES * REGISTRATIONS;
    mkdirSync(join(dir, "out"));
    const native = join(dir, "out", "model.json");
    const onnx = join(dir, "out", "model.onnx");
    writeFileSync(native, "{}");
    writeFileSync(onnx, Buffer.alloc(4096, 7));

    const prefixes = Array.from({ length: PROCESSES }, (_, i) => `analyst${i}`);
    const writers = prefixes.map((prefix) =>
      startWriter([JSON.stringify(spec), dir, prefix, String(REGISTRATIONS), String(POINTS), native, onnx]),
    );
    try {
      await Promise.all(writers.map((w) => w.ready));
    } catch (e) {
      for (const w of writers) w.child.kill("SIGKILL");
      throw e;
    }
    for (const w of writers) w.child.stdin!.end("go\n");
    const results = await Promise.all(writers.map((w) => w.done));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });

    // Every process got its k numbers, and together they are 1..N×k: no number twice, none skipped.
    for (const r of results) expect(r.versions).toHaveLength(REGISTRATIONS);
    expect(results.flatMap((r) => r.versions).sort((a, b) => a - b)).toEqual(range(TOTAL));
    // The processes really registered at the same time: their numbers interleave.
    const spans = results.map((r) => [Math.min(...r.versions), Math.max(...r.versions)] as const);
    expect(spans.some(([lo, hi], i) => spans.some(([lo2, hi2], j) => i !== j && lo < hi2 && lo2 < hi))).toBe(
      true,
    );

    const versions = store.registry.listVersions("shared");
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(range(TOTAL));
    const byVersion = new Map(versions.map((v) => [v.version, v]));
    results.forEach((r, i) => {
      // A process's own registrations come out in its order, each from the run it logged.
      expect(r.versions).toEqual([...r.versions].sort((a, b) => a - b));
      r.versions.forEach((n, k) => {
        expect(byVersion.get(n)).toMatchObject({ runId: `${prefixes[i]}-${k}`, createdBy: prefixes[i] });
      });
    });
    for (const v of versions) {
      expect(existsSync(join(dir, v.nativePath)), v.nativePath).toBe(true);
      expect(existsSync(join(dir, v.onnxPath)), v.onnxPath).toBe(true);
    }
    // Each registration moved champion in its own transaction, so the last one holds it.
    expect(store.registry.getModel("shared")?.aliases).toEqual({ champion: TOTAL });

    // The audit log: one model.created, one version.created per registration, one alias entry per
    // move, and the alias entries chain (each starts where the one before ended): no lost move.
    const audit = [...store.registry.audit({ model: "shared", limit: 10_000 })].reverse();
    const count = (action: string) => audit.filter((e) => e.action === action).length;
    expect(count("model.created")).toBe(1);
    expect(count("version.created")).toBe(TOTAL);
    expect(count("alias.set")).toBe(1);
    expect(count("alias.moved")).toBe(TOTAL - 1);
    expect(audit).toHaveLength(1 + TOTAL + TOTAL);
    const created = audit.filter((e) => e.action === "version.created");
    expect(created.map((e) => e.version)).toEqual(range(TOTAL));
    for (const e of created) expect(e.details.runId).toBe(byVersion.get(e.version!)!.runId);
    const moves = audit.filter((e) => e.action === "alias.set" || e.action === "alias.moved");
    expect(moves.map((e) => e.details.to)).toEqual(range(TOTAL));
    expect(moves.map((e) => e.details.from ?? null)).toEqual([null, ...range(TOTAL - 1)]);
    expect(new Set(audit.map((e) => e.id)).size).toBe(audit.length);

    // Every run and every metric point of every process is there.
    const page = store.searchRuns({ pipeline: "team", limit: 1000 });
    expect(page.total).toBe(TOTAL);
    expect(page.runs.every((r) => r.status === "succeeded")).toBe(true);
    expect(page.runs.map((r) => r.id).sort()).toEqual(
      prefixes.flatMap((p) => Array.from({ length: REGISTRATIONS }, (_, k) => `${p}-${k}`)).sort(),
    );
    for (const r of page.runs) {
      expect(r.metrics).toEqual({ "train.loss": 1 / POINTS });
      expect(store.metrics(r.id).map((m) => m.step)).toEqual(Array.from({ length: POINTS }, (_, s) => s));
    }

    // Each monitor window got one loop (one process created it, the others were refused without an
    // error), and each loop's first step was taken by exactly one process: the one its claim names.
    const loops = store.monitorLoops({ monitor: "drift" });
    expect(loops).toHaveLength(REGISTRATIONS);
    for (let i = 0; i < REGISTRATIONS; i++) {
      const lines = results.map((r) => r.loops.find((l) => l.startsWith(`loop ${i} `)));
      expect(lines.every((l) => l !== undefined)).toBe(true);
      expect(
        lines.filter((l) => l!.includes(" created ")),
        `window ${i}`,
      ).toHaveLength(1);
      const steppers = lines.flatMap((l, p) => (l!.endsWith(" stepped") ? [prefixes[p]] : []));
      expect(steppers, `window ${i}`).toHaveLength(1);
      const start = new Date(Date.UTC(2026, 0, 1 + i)).toISOString();
      const loop = loops.find((l) => l.window.start === start)!;
      expect(loop.stage).toBe("retraining");
      expect(store.monitorLoopClaim(loop.id)).toBe(steppers[0]);
      expect(loop.history.map((h) => h.message)).toEqual([
        expect.stringMatching(/^alert from /),
        `retraining by ${steppers[0]}`,
      ]);
    }

    // The feature view's versions: one per recorded definition, numbered 1..N×k.
    const views = store.featureViewVersions("shared_features");
    expect(views.map((v) => v.version).sort((a, b) => a - b)).toEqual(range(TOTAL));
    expect(new Set(views.map((v) => v.digest))).toEqual(new Set(page.runs.map((r) => r.id)));
  }, 120_000);
});
