import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpec, type StoreSpec, specOf } from "./fixtures/store-spec";
import type { RegisterVersionInput, SqliteMetadataStore } from "./metadata";
import { createTestStore } from "./testing";

const ROOT = join(import.meta.dirname, "..", "..");
const LOOP = join(import.meta.dirname, "fixtures", "register-loop.ts");

const spawnLoop = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawn(process.execPath, ["--import", "tsx", LOOP, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });

/** Starts the registering loop; resolves once it has registered `atLeast` more versions. */
function startLoop(args: string[], atLeast: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnLoop(args);
    let lines = 0;
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.stdout!.on("data", (d: Buffer) => {
      lines += d.toString().split("\n").length - 1;
      if (lines >= atLeast) resolve(child);
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`register loop exited ${code}: ${stderr}`));
    });
  });
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.on("exit", () => resolve());
    child.kill("SIGKILL");
  });

/** Runs the loop with a fault point set: it must kill itself there, during its first registration. */
function runUntilFault(
  args: string[],
  fault: string,
): Promise<{ signal: string | null; registered: number }> {
  return new Promise((resolve, reject) => {
    const child = spawnLoop(args, { DAGWOOD_FAULT: fault });
    let stdout = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stdout += d));
    child.on("error", reject);
    child.on("exit", (_code, signal) =>
      resolve({ signal, registered: stdout.split("\n").filter((l) => /^\d+$/.test(l)).length }),
    );
  });
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

const registration = (native: string, onnx: string, fingerprint: string): RegisterVersionInput => ({
  name: "crashy",
  runId: "r",
  nodeId: "train",
  modelFingerprint: fingerprint,
  estimator: "gbdt",
  task: "regression",
  signature: { inputs: [], outputs: [] },
  metrics: {},
  parity: null,
  files: { native, onnx },
  lineage: {
    run: { id: "r", pipeline: "p", pipelinePath: null, pipelineHash: null, startedAt: "", user: null },
    nodeId: "train",
    datasets: [],
    params: {},
    environment: {},
  },
  alias: "champion",
  actor: "test",
});

describe("a process killed during registration", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  /** The store as the registering process opens it (the SQLite file, or the PostgreSQL schema). */
  let spec: string;
  let native: string;
  let onnx: string;
  beforeEach(() => {
    const test = createTestStore();
    ({ store, dir, cleanup } = test);
    spec = JSON.stringify(specOf(test));
    mkdirSync(join(dir, "out"));
    native = join(dir, "out", "model.json");
    onnx = join(dir, "out", "model.onnx");
    writeFileSync(native, "{}");
    // Big enough that a kill often lands while the files are being copied.
    writeFileSync(onnx, Buffer.alloc(4 * 1024 * 1024, 7));
  });
  afterEach(() => cleanup());

  /** sha256 of every file of every recorded version, read through a freshly opened store. */
  function versionHashes(): Map<string, string> {
    const reopened = openSpec(JSON.parse(spec) as StoreSpec, dir);
    try {
      const hashes = new Map<string, string>();
      const model = reopened.registry.getModel("crashy");
      if (!model) return hashes;
      for (const v of reopened.registry.listVersions("crashy")) {
        for (const file of [v.nativePath, v.onnxPath]) hashes.set(file, sha256(join(dir, file)));
      }
      return hashes;
    } finally {
      reopened.close();
    }
  }

  /** Reopens the database and checks what a kill must never leave behind. */
  function expectConsistent(before: Map<string, string>): number {
    const reopened = openSpec(JSON.parse(spec) as StoreSpec, dir);
    try {
      const versions = reopened.registry.listVersions("crashy");
      const created = reopened.registry
        .audit({ model: "crashy", limit: 10_000 })
        .filter((a) => a.action === "version.created")
        .map((a) => a.version)
        .sort((a, b) => a! - b!);
      expect(created).toEqual(versions.map((v) => v.version).sort((a, b) => a - b));
      for (const v of versions) {
        expect(existsSync(join(dir, v.nativePath)), v.nativePath).toBe(true);
        expect(existsSync(join(dir, v.onnxPath)), v.onnxPath).toBe(true);
      }
      // Every alias points at a recorded version.
      const model = reopened.registry.getModel("crashy")!;
      for (const v of Object.values(model.aliases)) expect(versions.some((x) => x.version === v)).toBe(true);
      expect(model.versions).toBe(versions.length);
      // No file of a version that existed before the kill changed.
      for (const [file, hash] of before) expect(sha256(join(dir, file)), file).toBe(hash);
      return versions.length;
    } finally {
      reopened.close();
    }
  }

  function expectNextRegistrationWorks(rows: number, fingerprint: string): void {
    const before = versionHashes();
    writeFileSync(onnx, `onnx of ${fingerprint}`);
    const next = store.registry.registerVersion(registration(native, onnx, fingerprint));
    expect(next.created).toBe(true);
    expect(next.version.version).toBe(rows + 1);
    expect(readFileSync(join(dir, next.version.onnxPath), "utf8")).toBe(`onnx of ${fingerprint}`);
    expect(store.registry.getVersion("crashy", "champion")?.version).toBe(rows + 1);
    for (const [file, hash] of before) expect(sha256(join(dir, file)), file).toBe(hash);
  }

  it("never leaves a version without its files or audit entry, and the next registration works", async () => {
    for (let round = 0; round < 4; round++) {
      const before = versionHashes();
      const child = await startLoop([spec, dir, native, onnx], 2);
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      await killed(child);
      expectConsistent(before);
    }

    // Folders left by the kills (staging, or a renamed folder whose row never committed) are not versions.
    const modelDir = join(dir, ".dagwood", "registry", "crashy");
    const rows = store.registry.listVersions("crashy").length;
    const numbered = readdirSync(modelDir).filter((f) => /^\d+$/.test(f));
    expect(numbered.length === rows || numbered.length === rows + 1).toBe(true);
    expectNextRegistrationWorks(rows, "after-the-crash");
  }, 60_000);

  // DAGWOOD_FAULT makes the registering process SIGKILL itself at an exact point (see registry.ts).
  for (const fault of ["registry:after-copy", "registry:after-rename"]) {
    it(`killed exactly at ${fault}: nothing is recorded, old files are untouched, the next registration works`, async () => {
      const modelDir = join(dir, ".dagwood", "registry", "crashy");
      writeFileSync(onnx, "onnx of v1");
      store.registry.registerVersion(registration(native, onnx, "v1"));
      writeFileSync(onnx, "onnx of v2");
      store.registry.registerVersion(registration(native, onnx, "v2"));
      const before = versionHashes();
      expect(before.size).toBe(4);

      const outcome = await runUntilFault([spec, dir, native, onnx], fault);
      expect(outcome).toEqual({ signal: "SIGKILL", registered: 0 });
      expect(expectConsistent(before)).toBe(2);
      const left = readdirSync(modelDir).sort();
      if (fault === "registry:after-copy") {
        // Only a staging folder: it is not a version and is cleaned up once stale.
        expect(left.filter((f) => !f.startsWith(".staging-"))).toEqual(["1", "2"]);
        expect(left.some((f) => f.startsWith(".staging-"))).toBe(true);
      } else {
        // The version folder is in place but its row never committed.
        expect(left.filter((f) => !f.startsWith(".staging-"))).toEqual(["1", "2", "3"]);
      }

      expectNextRegistrationWorks(2, `after ${fault}`);
      // The uncommitted folder 3 was set aside, not deleted, before version 3 took its number.
      const orphans = readdirSync(modelDir).filter((f) => f.startsWith(".orphan-3-"));
      expect(orphans).toHaveLength(fault === "registry:after-rename" ? 1 : 0);
      expectConsistent(versionHashes());
    }, 60_000);
  }
});
