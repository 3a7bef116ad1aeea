// A version's row names its files relative to the project; on a shared store other machines write
// those rows. A path that leads out of the registry folder is refused, never opened or exported.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openRawSql, specOf } from "./fixtures/store-spec";
import { type RegisterVersionInput, RegistryError, type SqliteMetadataStore } from "./metadata";
import { createTestStore, type TestStore } from "./testing";

let test: TestStore;
let store: SqliteMetadataStore;

beforeEach(() => {
  test = createTestStore();
  store = test.store;
  mkdirSync(join(test.dir, "out"));
  writeFileSync(join(test.dir, "out", "model.json"), '{"estimator":"gbdt"}');
  writeFileSync(join(test.dir, "out", "model.onnx"), "onnx-bytes");
});
afterEach(() => test.cleanup());

const input = (): RegisterVersionInput => ({
  name: "penguins",
  runId: "r1",
  nodeId: "gbdt",
  modelFingerprint: "f1",
  estimator: "gbdt",
  task: "classification",
  signature: { inputs: [{ name: "bill", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
  metrics: { accuracy: 0.9 },
  parity: null,
  files: { native: join(test.dir, "out", "model.json"), onnx: join(test.dir, "out", "model.onnx") },
  lineage: { run: { id: "r1" }, nodeId: "gbdt", datasets: [], params: {}, environment: {} } as never,
  actor: "ana",
});

describe("a version row whose file path leads out of the registry", () => {
  it.each([
    ["onnx_path", "../../../etc/passwd"],
    ["onnx_path", "/etc/passwd"],
    ["native_path", ".dagwood/registry/../metadata.sqlite"],
    ["heldout_path", ".dagwood/registry/penguins/1/../../../../secret.json"],
  ])("is refused when %s is %s", (column, path) => {
    const { version } = store.registry.registerVersion(input());
    expect(version.onnxPath).toBe(".dagwood/registry/penguins/1/model.onnx");
    const raw = openRawSql(specOf(test));
    try {
      raw.run(`UPDATE model_versions SET ${column} = ? WHERE name = 'penguins' AND version = 1`, path);
    } finally {
      raw.close();
    }
    expect(() => store.registry.getVersion("penguins", 1)).toThrow(RegistryError);
    expect(() => store.registry.getVersion("penguins", 1)).toThrow(/outside the registry folder/);
  });
});
