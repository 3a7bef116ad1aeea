// On a team store a version's row is everyone's, its folder only on the machine that registered it.
// Registering the same model (same fingerprint) again with a shared artifact location, on a machine
// that does not have that folder, answers the existing version instead of failing on the folder.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { VersionArtifacts } from "../values/registry";
import type { RegisterVersionInput, SqliteMetadataStore } from "./metadata";
import { createTestStore } from "./testing";

let store: SqliteMetadataStore;
let dir: string;
let cleanup: () => void;
let files: { native: string; onnx: string };

beforeEach(() => {
  ({ store, dir, cleanup } = createTestStore());
  mkdirSync(join(dir, "out"));
  files = { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") };
  writeFileSync(files.native, '{"estimator":"gbdt"}');
  writeFileSync(files.onnx, "onnx-bytes");
});
afterEach(() => cleanup());

const input = (over: Partial<RegisterVersionInput> = {}): RegisterVersionInput => ({
  name: "penguins",
  runId: "r1",
  nodeId: "gbdt",
  modelFingerprint: "f1",
  estimator: "gbdt",
  task: "classification",
  signature: { inputs: [{ name: "bill", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
  metrics: { accuracy: 0.9 },
  parity: null,
  files,
  lineage: { run: { id: "r1" }, nodeId: "gbdt", datasets: [], params: {}, environment: {} } as never,
  actor: "ana",
  ...over,
});

/** The manifest an upload of the files gives (sha256 by node:crypto over the bytes, as a location keys them). */
function manifest(): VersionArtifacts {
  const entry = (path: string) => {
    const bytes = readFileSync(path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return { key: `sha256/${sha256}`, sha256, bytes: bytes.length };
  };
  return {
    location: "folder /mnt/share/dagwood",
    files: { "model.json": entry(files.native), "model.onnx": entry(files.onnx) },
  };
}

describe("registering a model the team store has, from a machine without its folder", () => {
  it("answers the existing version, and records no manifest it could not check", () => {
    const first = store.registry.registerVersion(input());
    expect(first.created).toBe(true);
    // The registering machine's folder is not on this one.
    rmSync(join(dir, ".dagwood", "registry", "penguins", "1"), { recursive: true });
    const again = store.registry.registerVersion(input({ artifacts: manifest() }));
    expect(again.created).toBe(false);
    expect(again.version.version).toBe(1);
    expect(store.registry.getVersion("penguins", 1)!.artifacts).toBeUndefined();
  });
});
