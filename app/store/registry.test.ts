import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openRawSql, specOf } from "./fixtures/store-spec";
import { type RegisterVersionInput, RegistryError, type SqliteMetadataStore } from "./metadata";
import { createTestStore, type TestStore } from "./testing";

const lineage = {
  run: {
    id: "r1",
    pipeline: "p",
    pipelinePath: null,
    pipelineHash: "h",
    startedAt: "2026-01-01T00:00:00Z",
    user: null,
  },
  nodeId: "gbdt",
  datasets: [{ digest: "d1", source: "data/a.csv", schema: [], rows: 3, fingerprint: "f" }],
  params: { "gbdt.trees": 100 },
  environment: {},
};

/** The RegistryError `attempt` throws, or undefined when it does not throw. */
function thrownBy(attempt: () => unknown): RegistryError | undefined {
  try {
    attempt();
  } catch (err) {
    return err as RegistryError;
  }
  return undefined;
}

describe("SqliteRegistry", () => {
  let test: TestStore;
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  let files: { native: string; onnx: string };
  beforeEach(() => {
    test = createTestStore();
    ({ store, dir, cleanup } = test);
    mkdirSync(join(dir, "out"));
    files = { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") };
    writeFileSync(files.native, '{"estimator":"gbdt"}');
    writeFileSync(files.onnx, "onnx-bytes");
  });
  afterEach(() => cleanup());

  const input = (fingerprint: string, over: Partial<RegisterVersionInput> = {}): RegisterVersionInput => ({
    name: "penguins",
    runId: "r1",
    nodeId: "gbdt",
    modelFingerprint: fingerprint,
    estimator: "gbdt",
    task: "classification",
    signature: { inputs: [{ name: "bill", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
    metrics: { accuracy: 0.9, logloss: Number.NaN },
    parity: { rows: 10, maxAbsDiff: 1e-6, labelAgreement: 1 },
    files,
    lineage,
    actor: "ana",
    ...over,
  });

  it("registers versions with their files, relative paths, lineage and audit entries", () => {
    const { version: v1, created } = store.registry.registerVersion(input("f1", { alias: "champion" }));
    expect(created).toBe(true);
    expect(v1).toMatchObject({
      name: "penguins",
      version: 1,
      status: "ready",
      createdBy: "ana",
      nativePath: ".dagwood/registry/penguins/1/model.json",
      onnxPath: ".dagwood/registry/penguins/1/model.onnx",
      lineage,
      aliases: ["champion"],
      parity: { rows: 10, maxAbsDiff: 1e-6, labelAgreement: 1 },
    });
    expect(v1.metrics.accuracy).toBe(0.9);
    expect(v1.metrics.logloss).toBeNaN();
    expect(readFileSync(join(dir, v1.onnxPath), "utf8")).toBe("onnx-bytes");
    expect(readFileSync(join(dir, v1.nativePath), "utf8")).toBe('{"estimator":"gbdt"}');

    const { version: v2 } = store.registry.registerVersion(input("f2", { alias: "champion" }));
    expect(v2.version).toBe(2);
    expect(store.registry.getModel("penguins")).toMatchObject({
      latestVersion: 2,
      versions: 2,
      aliases: { champion: 2 },
    });
    expect(store.registry.audit({ model: "penguins" }).map((a) => [a.action, a.version, a.details])).toEqual([
      ["alias.moved", 2, { alias: "champion", from: 1, to: 2 }],
      ["version.created", 2, { runId: "r1", nodeId: "gbdt", fingerprint: "f2" }],
      ["alias.set", 1, { alias: "champion", to: 1 }],
      ["version.created", 1, { runId: "r1", nodeId: "gbdt", fingerprint: "f1" }],
      ["model.created", null, {}],
    ]);
    expect(readdirSync(join(dir, ".dagwood", "registry", "penguins")).sort()).toEqual(["1", "2"]);
  });

  it("returns the existing version for the same model fingerprint, still applying the alias", () => {
    store.registry.registerVersion(input("f1"));
    const again = store.registry.registerVersion(input("f1", { alias: "challenger" }));
    expect(again.created).toBe(false);
    expect(again.version).toMatchObject({ version: 1, aliases: ["challenger"] });
    expect(store.registry.listVersions("penguins")).toHaveLength(1);
    // Archived versions are not reused: the same model registers as a new version.
    store.registry.archiveVersion("penguins", 1, "ana");
    expect(store.registry.registerVersion(input("f1")).version.version).toBe(2);
  });

  it("keeps the feature service a version was registered with; another service is another version", () => {
    const { version: plain } = store.registry.registerVersion(input("f1"));
    expect(plain.featureService).toBeNull();
    const withService = store.registry.registerVersion(input("f1", { featureService: "driver_activity" }));
    expect(withService.created).toBe(true);
    expect(withService.version).toMatchObject({ version: 2, featureService: "driver_activity" });
    // The same model with the same service is the same version; with another service, another one.
    const again = store.registry.registerVersion(input("f1", { featureService: "driver_activity" }));
    expect(again).toMatchObject({ created: false, version: { version: 2 } });
    const other = store.registry.registerVersion(input("f1", { featureService: "driver_ranking" }));
    expect(other).toMatchObject({ created: true, version: { version: 3, featureService: "driver_ranking" } });
    // Without a service it is still version 1.
    expect(store.registry.registerVersion(input("f1")).version.version).toBe(1);
    expect(store.registry.listVersions("penguins").map((v) => [v.version, v.featureService])).toEqual([
      [3, "driver_ranking"],
      [2, "driver_activity"],
      [1, null],
    ]);
    expect(store.registry.getVersion("penguins", 2)!.featureService).toBe("driver_activity");
  });

  it("resolves a version by number or alias", () => {
    store.registry.registerVersion(input("f1"));
    store.registry.registerVersion(input("f2"));
    store.registry.setAlias("penguins", "champion", 1, "bo");
    expect(store.registry.getVersion("penguins", "champion")?.version).toBe(1);
    expect(store.registry.getVersion("penguins", 2)?.version).toBe(2);
    expect(store.registry.getVersion("penguins", "2")?.version).toBe(2);
    expect(store.registry.getVersion("penguins", 9)).toBeUndefined();
    expect(store.registry.getVersion("penguins", "nobody")).toBeUndefined();
    expect(store.registry.getVersion("other", 1)).toBeUndefined();
    expect(store.registry.listVersions("penguins").map((v) => v.version)).toEqual([2, 1]);
  });

  it("refuses an alias to a version that does not exist or is archived, and changes nothing", () => {
    store.registry.registerVersion(input("f1", { alias: "champion" }));
    const before = store.registry.audit().length;
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as RegistryError;
      }
      throw new Error("expected a RegistryError");
    };
    const missing = err(() => store.registry.setAlias("penguins", "champion", 7, "ana"));
    expect(missing).toBeInstanceOf(RegistryError);
    expect(missing.code).toBe("not-found");
    expect(missing.message).toMatch(/no version 7 \(its versions: 1\)/);
    expect(err(() => store.registry.setAlias("ghost", "champion", 1, "ana")).code).toBe("not-found");
    store.registry.registerVersion(input("f2"));
    store.registry.archiveVersion("penguins", 2, "ana");
    const archived = err(() => store.registry.setAlias("penguins", "champion", 2, "ana"));
    expect(archived.code).toBe("conflict");
    expect(archived.message).toMatch(/archived/);
    expect(store.registry.getModel("penguins")?.aliases).toEqual({ champion: 1 });
    expect(store.registry.audit().length).toBe(before + 2);
  });

  it("archiving removes the version's aliases and records them; removing an alias is audited", () => {
    store.registry.registerVersion(input("f1", { alias: "champion" }));
    store.registry.setAlias("penguins", "prod", 1, "ana");
    const entry = store.registry.archiveVersion("penguins", 1, "bo");
    expect(entry).toMatchObject({
      action: "version.archived",
      actor: "bo",
      details: { aliasesRemoved: ["champion", "prod"] },
    });
    expect(store.registry.getModel("penguins")).toMatchObject({
      aliases: {},
      latestVersion: null,
      versions: 1,
    });
    expect(() => store.registry.archiveVersion("penguins", 1, "bo")).toThrow(/already archived/);
    expect(() => store.registry.archiveVersion("penguins", 5, "bo")).toThrow(/no version 5/);
    store.registry.registerVersion(input("f2", { alias: "champion" }));
    expect(store.registry.removeAlias("penguins", "champion", "cy")).toMatchObject({
      action: "alias.removed",
      version: 2,
      details: { alias: "champion", from: 2 },
    });
    expect(() => store.registry.removeAlias("penguins", "champion", "cy")).toThrow(/no alias "champion"/);
  });

  it("refuses path-ish and malformed names before touching the disk", () => {
    const registryDir = join(dir, ".dagwood", "registry");
    const bad = ["../x", "a/b", "", "a".repeat(200), ".hidden", "a\\b", "..", "-x", "a b"];
    for (const name of bad) {
      const e = thrownBy(() => store.registry.registerVersion(input("f", { name })));
      expect(e, name).toBeInstanceOf(RegistryError);
      expect(e?.code).toBe("invalid");
      expect(e?.message).toMatch(/Invalid model name/);
      expect(() => store.registry.upsertModel(name, {}, null)).toThrow(/Invalid model name/);
      expect(() => store.registry.getModel(name)).toThrow(/Invalid model name/);
    }
    for (const alias of ["1", "../x", "", "a/b", "a".repeat(65), "champ ion"]) {
      expect(() => store.registry.registerVersion(input("f", { alias })), alias).toThrow(/Invalid alias/);
      expect(() => store.registry.setAlias("penguins", alias, 1, null)).toThrow(/Invalid alias/);
    }
    expect(existsSync(registryDir)).toBe(false);
    expect(store.registry.listModels()).toEqual([]);
    // The longest valid name works.
    const longest = `a${"b".repeat(127)}`;
    expect(store.registry.registerVersion(input("f", { name: longest })).version.name).toBe(longest);
  });

  it("refuses a registration whose model files are missing, leaving no folder behind", () => {
    expect(() =>
      store.registry.registerVersion(
        input("f", { files: { native: files.native, onnx: join(dir, "nope.onnx") } }),
      ),
    ).toThrow(/onnx file .*nope\.onnx is missing/);
    expect(store.registry.getModel("penguins")).toBeUndefined();
  });

  it("sets a version folder without a row aside (never deleting it), and removes its own folder if the transaction fails", () => {
    const modelDir = join(dir, ".dagwood", "registry", "penguins");
    mkdirSync(join(modelDir, "1"), { recursive: true });
    writeFileSync(join(modelDir, "1", "model.onnx"), "half-written");
    const { version } = store.registry.registerVersion(input("f1"));
    expect(version.version).toBe(1);
    expect(readFileSync(join(dir, version.onnxPath), "utf8")).toBe("onnx-bytes");
    const orphans = readdirSync(modelDir).filter((f) => f.startsWith(".orphan-1-"));
    expect(orphans).toHaveLength(1);
    expect(readFileSync(join(modelDir, orphans[0]!, "model.onnx"), "utf8")).toBe("half-written");
    // The audit entry says where the old files went.
    expect(
      store.registry.audit({ model: "penguins" }).find((a) => a.action === "version.created")?.details,
    ).toMatchObject({ setAside: orphans[0] });

    // A lineage that cannot be serialized makes the transaction throw after the rename.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() =>
      store.registry.registerVersion(
        input("f2", { lineage: cyclic as unknown as RegisterVersionInput["lineage"] }),
      ),
    ).toThrow(/circular/);
    expect(readdirSync(modelDir).sort()).toEqual([orphans[0], "1"].sort());
    expect(store.registry.listVersions("penguins")).toHaveLength(1);
    expect(store.registry.audit({ model: "penguins" })[0]?.action).toBe("version.created");
    expect(store.registry.registerVersion(input("f2")).version.version).toBe(2);
  });

  it("refuses a model name that differs from an existing one only in case, naming the existing one", () => {
    store.registry.registerVersion(input("f1"));
    for (const attempt of [
      () => store.registry.registerVersion(input("f2", { name: "Penguins" })),
      () => store.registry.upsertModel("PENGUINS", {}, "ana"),
    ]) {
      const e = thrownBy(attempt);
      expect(e).toBeInstanceOf(RegistryError);
      expect(e?.code).toBe("conflict");
      expect(e?.message).toMatch(/a model "penguins" exists/);
    }
    expect(readdirSync(join(dir, ".dagwood", "registry"))).toEqual(["penguins"]);
    expect(readdirSync(join(dir, ".dagwood", "registry", "penguins"))).toEqual(["1"]);
    expect(store.registry.listModels().map((m) => m.name)).toEqual(["penguins"]);
    // The model itself, in its own case, is fine.
    expect(store.registry.registerVersion(input("f2")).version.version).toBe(2);
  });

  it("refuses Windows device names (any case, with an extension) and a trailing dot", () => {
    const bad = ["CON", "con", "Prn", "aux", "NUL", "nul.txt", "com1", "COM9.onnx", "lpt1", "LPT9", "model."];
    for (const name of bad) {
      const e = thrownBy(() => store.registry.registerVersion(input("f", { name })));
      expect(e, name).toBeInstanceOf(RegistryError);
      expect(e?.code).toBe("invalid");
      expect(e?.message).toMatch(name.endsWith(".") ? /cannot end in "\."/ : /Windows reserves it/);
      expect(() => store.registry.upsertModel(name, {}, null), name).toThrow(/Invalid model name/);
    }
    expect(existsSync(join(dir, ".dagwood", "registry"))).toBe(false);
    // Names that merely start like a device name are fine.
    for (const name of ["console", "com10", "nulls", "lpt", "auxiliary.v2"]) {
      expect(store.registry.upsertModel(name, {}, null).name).toBe(name);
    }
  });

  it("setting an alias to the version it already points at changes and audits nothing", () => {
    store.registry.registerVersion(input("f1", { alias: "champion" }));
    store.registry.registerVersion(input("f2"));
    const moved = store.registry.setAlias("penguins", "champion", 2, "ana");
    const count = store.registry.audit().length;
    const again = store.registry.setAlias("penguins", "champion", 2, "bo");
    expect(again).toEqual(moved);
    expect(store.registry.audit().length).toBe(count);
    // Registering an existing model with the alias it already has is idempotent too.
    expect(store.registry.registerVersion(input("f2", { alias: "champion" })).created).toBe(false);
    expect(store.registry.audit().length).toBe(count);
    // A different alias on the same version is a change.
    expect(store.registry.setAlias("penguins", "prod", 2, "bo").action).toBe("alias.set");
    expect(store.registry.setAlias("penguins", "champion", 2, "cy")).toEqual(moved);
    expect(store.registry.audit().length).toBe(count + 1);
  });

  it("keeps the audit log append-only, newest first, filterable by model", () => {
    store.registry.upsertModel("penguins", { description: "species", owner: "data-team" }, "ana");
    store.registry.upsertModel(
      "penguins",
      { description: "species", owner: "ml-team", tags: { t: "1" } },
      "bo",
    );
    store.registry.upsertModel("penguins", { description: "species" }, "bo");
    store.registry.upsertModel("flights", {}, "cy");
    store.registry.appendAudit({
      actor: "ana",
      action: "deployment.succeeded",
      model: "penguins",
      version: null,
      details: { target: "local" },
    });
    expect(store.registry.audit({ model: "penguins" }).map((a) => [a.action, a.actor, a.details])).toEqual([
      ["deployment.succeeded", "ana", { target: "local" }],
      ["model.updated", "bo", { owner: "ml-team", tags: { t: "1" } }],
      ["model.created", "ana", { description: "species", owner: "data-team" }],
    ]);
    expect(store.registry.audit({ limit: 1 })[0]?.action).toBe("deployment.succeeded");
    expect(store.registry.listModels().map((m) => m.name)).toEqual(["flights", "penguins"]);
    expect(store.registry.listModels({ search: "SPEC" }).map((m) => m.name)).toEqual(["penguins"]);
    expect(store.registry.getModel("penguins")).toMatchObject({ owner: "ml-team", tags: { t: "1" } });

    // Written around the store, as a user with a SQL client could: the database itself refuses.
    const db = openRawSql(specOf(test));
    try {
      expect(() => db.run("UPDATE audit SET actor = 'mallory'")).toThrow(/append-only/);
      expect(() => db.run("DELETE FROM audit")).toThrow(/append-only/);
    } finally {
      db.close();
    }
    expect(store.registry.audit()).toHaveLength(4);
  });
});
