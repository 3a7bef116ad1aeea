import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "./metadata";

const ROOT = join(import.meta.dirname, "..", "..");
const LOOP = join(import.meta.dirname, "fixtures", "register-loop.ts");

/** Starts the registering loop; resolves once it has registered `atLeast` more versions. */
function startLoop(args: string[], atLeast: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", LOOP, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
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

describe("a process killed during registration", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
  });
  afterEach(() => cleanup());

  it("never leaves a version without its files or audit entry, and the next registration works", async () => {
    const path = join(dir, ".dagwood", "metadata.sqlite");
    mkdirSync(join(dir, "out"));
    const native = join(dir, "out", "model.json");
    const onnx = join(dir, "out", "model.onnx");
    writeFileSync(native, "{}");
    // Big enough that a kill often lands while the files are being copied.
    writeFileSync(onnx, Buffer.alloc(4 * 1024 * 1024, 7));

    for (let round = 0; round < 4; round++) {
      const child = await startLoop([path, dir, native, onnx], 2);
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      await killed(child);

      const versions = store.registry.listVersions("crashy");
      const created = store.registry
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
      const model = store.registry.getModel("crashy")!;
      for (const v of Object.values(model.aliases)) expect(versions.some((x) => x.version === v)).toBe(true);
      expect(model.versions).toBe(versions.length);
    }

    // Folders left by the kills (staging, or a renamed folder whose row never committed) are not versions.
    const modelDir = join(dir, ".dagwood", "registry", "crashy");
    const rows = store.registry.listVersions("crashy").length;
    const numbered = readdirSync(modelDir).filter((f) => /^\d+$/.test(f));
    expect(numbered.length === rows || numbered.length === rows + 1).toBe(true);

    const next = store.registry.registerVersion({
      name: "crashy",
      runId: "r",
      nodeId: "train",
      modelFingerprint: "after-the-crash",
      estimator: "gbdt",
      task: "regression",
      signature: null,
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
    expect(next.created).toBe(true);
    expect(next.version.version).toBe(rows + 1);
    expect(existsSync(join(dir, next.version.onnxPath))).toBe(true);
    expect(store.registry.getVersion("crashy", "champion")?.version).toBe(rows + 1);
  }, 60_000);
});
