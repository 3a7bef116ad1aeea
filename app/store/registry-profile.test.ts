/**
 * A version's reference profile file: copied with the version's other files
 * (staged, then renamed into the version folder in the same transaction), or
 * absent for a version registered without one.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type RegisterVersionInput, type SqliteMetadataStore } from "./metadata";
import { REFERENCE_PROFILE_FILE, referenceProfilePath } from "./registry";

let store: SqliteMetadataStore;
let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ store, dir, cleanup } = createTempStore());
  writeFileSync(join(dir, "model.json"), "{}");
  writeFileSync(join(dir, "model.onnx"), "onnx");
  writeFileSync(join(dir, "profile.json"), '{"format":"dagwood.reference-profile/1","rows":3,"columns":[]}');
});
afterEach(() => cleanup());

const input = (
  fingerprint: string,
  files: Partial<RegisterVersionInput["files"]> = {},
): RegisterVersionInput => ({
  name: "m",
  runId: "r",
  nodeId: "train",
  modelFingerprint: fingerprint,
  estimator: "tree",
  task: "regression",
  signature: { inputs: [], outputs: [] },
  metrics: {},
  parity: null,
  files: { native: join(dir, "model.json"), onnx: join(dir, "model.onnx"), ...files },
  lineage: {
    run: { id: "r", pipeline: "p", pipelinePath: null, pipelineHash: null, startedAt: "", user: null },
    nodeId: "train",
    datasets: [],
    params: {},
    environment: {},
  },
  actor: "test",
});

describe("the reference profile in the registry", () => {
  it("is copied into the version folder beside the model, and found from the version", () => {
    const { version } = store.registry.registerVersion(input("a", { profile: join(dir, "profile.json") }));
    const file = referenceProfilePath(dir, version)!;
    expect(file).toBe(join(dir, dirname(version.nativePath), REFERENCE_PROFILE_FILE));
    expect(readFileSync(file, "utf8")).toBe(readFileSync(join(dir, "profile.json"), "utf8"));
    expect(readdirSync(dirname(file)).sort()).toEqual(["model.json", "model.onnx", REFERENCE_PROFILE_FILE]);
    // No staging folder is left behind.
    expect(readdirSync(join(dirname(file), "..")).sort()).toEqual(["1"]);
  });

  it("is absent for a version registered without one", () => {
    const { version } = store.registry.registerVersion(input("b"));
    expect(referenceProfilePath(dir, version)).toBeNull();
  });

  it("refuses a profile file that is not there, registering nothing", () => {
    expect(() => store.registry.registerVersion(input("c", { profile: join(dir, "gone.json") }))).toThrow(
      `Cannot register "m": the model's profile file ${join(dir, "gone.json")} is missing.`,
    );
    expect(store.registry.getModel("m")).toBeUndefined();
  });
});
