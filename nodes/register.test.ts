import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asHeldout, type HeldoutRows, rowsFor, sampleHeldout } from "../app/deploy/heldout";
import { runPlan } from "../app/engine/engine";
import type { ModelValue, PortValue, TableValue } from "../app/engine/ports";
import { copyPenguins, createTestProject, PENGUINS_CSV, type TestProject } from "../app/engine/testing";
import type { ColumnTable } from "../app/ml/dataset";
import type { AnyDagwoodModel } from "../app/ml/model";
import { validatePipelineText } from "../app/pipeline/validate";
import { Project } from "../app/project/project";
import type { ModelVersionRef } from "../app/values/registry";
import evaluate from "./evaluate";
import { catalog } from "./index";
import ingestFile from "./ingest-file";
import register from "./register";
import split from "./split";
import trainTree from "./train-tree";

/** Held-out tensors back into raw columns (null: missing). */
function tableOf(h: HeldoutRows, model: AnyDagwoodModel): ColumnTable {
  return {
    rows: h.rows,
    columns: model.preprocess.features.map((f) => {
      const data = h.inputs.find((t) => t.name === f.name)!.data;
      if (f.kind === "numeric") {
        return {
          name: f.name,
          kind: "numeric" as const,
          type: "DOUBLE",
          values: Float64Array.from(data, (v) => (v === null ? Number.NaN : (v as number))),
        };
      }
      const dictionary = [...new Set(data.filter((v): v is string => v !== null))];
      return {
        name: f.name,
        kind: "categorical" as const,
        type: "VARCHAR",
        dictionary,
        codes: Int32Array.from(data, (v) => (v === null ? -1 : dictionary.indexOf(v as string))),
      };
    }),
  };
}
const refOf = (v: PortValue | undefined) =>
  (v?.type === "modelVersion" ? v.data : undefined) as ModelVersionRef;

describe("register", () => {
  let p: TestProject;
  let model: PortValue;
  let report: PortValue;
  let digest: string;

  beforeEach(async () => {
    p = await createTestProject();
    copyPenguins(p);
    digest = createHash("sha256").update(readFileSync(PENGUINS_CSV)).digest("hex");
    const { out } = await p.run(ingestFile, {}, { path: "data/penguins.csv" });
    const { train, test } = await p.run(split, { in: out }, { strategy: "stratified", column: "species" });
    model = (await p.run(trainTree, { train }, { target: "species", maxDepth: 3 })).model!;
    report = (await p.run(evaluate, { model, data: test })).report!;
    p.upstream = { model: { node: "tree", port: "model" } };
  });
  afterEach(() => p.close());

  it("creates a version with its files, metrics, parity and lineage naming the dataset digest", async () => {
    const out = await p.run(
      register,
      { model, report },
      { name: "penguins-classifier", alias: "challenger" },
    );
    expect(refOf(out.version)).toEqual({
      name: "penguins-classifier",
      version: 1,
      created: true,
      modelFingerprint: model.fingerprint,
    });
    const v = p.metadata().registry.getVersion("penguins-classifier", "challenger")!;
    expect(v.version).toBe(1);
    expect(v).toMatchObject({ nodeId: "tree", runId: "test-run", estimator: "tree", task: "multiclass" });
    expect(v.lineage.datasets.map((d) => d.digest)).toEqual([digest]);
    expect(v.lineage.datasets[0]).toMatchObject({ source: "data/penguins.csv", rows: 344 });
    const metrics = (report as { data: { metrics: Record<string, number | null> } }).data.metrics;
    expect(v.metrics.accuracy).toBe(metrics.accuracy);
    // Only finite numbers are kept.
    for (const value of Object.values(v.metrics)) expect(Number.isFinite(value)).toBe(true);
    expect(v.parity?.labelAgreement).toBe(1);
    expect(existsSync(join(p.dir, v.onnxPath))).toBe(true);
    const native = JSON.parse(readFileSync(join(p.dir, v.nativePath), "utf8"));
    expect(native).toEqual((model as { data: unknown }).data);
    expect(p.logs.at(-1)?.message).toBe(
      'Registered penguins-classifier v1 (tree, multiclass) from node "tree"; alias "challenger" → v1.',
    );
  });

  it("with a shared artifact location, uploads the files before the row and records their keys", async () => {
    const share = join(p.dir, "share");
    mkdirSync(share);
    writeFileSync(
      join(p.dir, "dagwood.json"),
      JSON.stringify({ artifacts: { kind: "folder", path: "share" } }),
    );
    await p.run(register, { model, report }, { name: "shared" });
    const v = p.metadata().registry.getVersion("shared", 1)!;
    const folder = join(p.dir, v.nativePath, "..");
    const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
    expect(Object.keys(v.artifacts!.files).sort()).toEqual([
      "model.json",
      "model.onnx",
      "reference-profile.json",
    ]);
    for (const [name, stored] of Object.entries(v.artifacts!.files)) {
      expect(stored.sha256).toBe(sha(join(folder, name)));
      expect(sha(join(share, "sha256", stored.sha256))).toBe(stored.sha256);
    }
    // An unreachable location: the block fails, and no version is written.
    writeFileSync(
      join(p.dir, "dagwood.json"),
      JSON.stringify({ artifacts: { kind: "folder", path: "gone" } }),
    );
    await expect(p.run(register, { model, report }, { name: "other" })).rejects.toThrow(
      /The artifact folder .*gone \(dagwood.json "artifacts".path\) does not exist/,
    );
    expect(p.metadata().registry.getModel("other")).toBeUndefined();
  });

  it("returns the existing version for the same model, and a new one for another", async () => {
    await p.run(register, { model }, { name: "penguins" });
    const again = refOf((await p.run(register, { model }, { name: "penguins" })).version);
    expect(again).toMatchObject({ version: 1, created: false });
    expect(p.logs.at(-1)?.message).toBe("penguins v1 already holds this model; no new version.");
    const { train } = await p.run(split, {
      in: (await p.run(ingestFile, {}, { path: "data/penguins.csv" })).out,
    });
    const other = (await p.run(trainTree, { train }, { target: "species", maxDepth: 2 })).model;
    const second = refOf(
      (await p.run(register, { model: other }, { name: "penguins", alias: "champion" })).version,
    );
    expect(second).toMatchObject({ version: 2, created: true });
    expect(p.metadata().registry.getModel("penguins")).toMatchObject({
      latestVersion: 2,
      aliases: { champion: 2 },
    });
  });

  it("sets the registered model's owner and description when given, and keeps them when not", async () => {
    await p.run(register, { model }, { name: "penguins", owner: "data-team", modelDescription: "Species" });
    expect(p.metadata().registry.getModel("penguins")).toMatchObject({
      owner: "data-team",
      description: "Species",
    });
    await p.run(register, { model }, { name: "penguins" });
    expect(p.metadata().registry.getModel("penguins")).toMatchObject({
      owner: "data-team",
      description: "Species",
    });
    await expect(p.run(register, { model }, { name: "penguins", owner: "" })).rejects.toThrow(
      /Invalid params.*owner/,
    );
  });

  it("fingerprints the registry state of its model name, so an archive or a moved alias changes it", async () => {
    const before = await p.fingerprint(register, { name: "penguins" });
    await p.run(register, { model }, { name: "penguins", alias: "champion" });
    const registered = await p.fingerprint(register, { name: "penguins" });
    expect(registered).not.toBe(before);
    expect(await p.fingerprint(register, { name: "other" })).toBe(before);
    p.metadata().registry.removeAlias("penguins", "champion", null);
    const unaliased = await p.fingerprint(register, { name: "penguins" });
    expect(unaliased).not.toBe(registered);
    p.metadata().registry.archiveVersion("penguins", 1, null);
    expect(await p.fingerprint(register, { name: "penguins" })).not.toBe(unaliased);
  });

  it("keeps up to 200 held-out rows with the native model's predictions on them", async () => {
    const { train, test } = await p.run(
      split,
      { in: (await p.run(ingestFile, {}, { path: "data/penguins.csv" })).out },
      { strategy: "stratified", column: "species" },
    );
    const out = await p.run(register, { model, data: test }, { name: "with-rows" });
    const v = p.metadata().registry.getVersion("with-rows", refOf(out.version).version)!;
    expect(v.heldoutPath).toBe(".dagwood/registry/with-rows/1/heldout.json");
    const heldout = asHeldout(JSON.parse(readFileSync(join(p.dir, v.heldoutPath!), "utf8")), "heldout");
    const signature = ((model as ModelValue).data as AnyDagwoodModel).signature;
    expect(heldout.rows).toBe((test as { rows: number }).rows);
    expect(heldout.inputs.map((t) => t.name)).toEqual(signature.inputs.map((i) => i.name));
    expect(heldout.expected.label).toHaveLength(heldout.rows);
    // The stored predictions are the native model's on exactly the stored (float32, null = missing) values.
    const again = rowsFor(
      (model as ModelValue).data as AnyDagwoodModel,
      tableOf(heldout, (model as ModelValue).data as AnyDagwoodModel),
    );
    expect(again.expected).toEqual(heldout.expected);
    // A bigger table is sampled: 200 rows, the same ones every time.
    const big = await p.run(register, { model, data: train }, { name: "sampled" });
    const path = p.metadata().registry.getVersion("sampled", refOf(big.version).version)!.heldoutPath!;
    const first = readFileSync(join(p.dir, path), "utf8");
    expect(asHeldout(JSON.parse(first), "h").rows).toBe(200);
    const { sql } = p;
    const again2 = await sampleHeldout(
      sql,
      train as TableValue,
      (model as ModelValue).data as AnyDagwoodModel,
    );
    expect(JSON.stringify(again2)).toBe(first);
    // Without data: no held-out rows.
    await p.run(register, { model }, { name: "without" });
    expect(p.metadata().registry.getVersion("without", 1)!.heldoutPath).toBeNull();
    // Data that lacks a model column is refused, naming it.
    const narrow = await p.table("narrow", "SELECT 1 AS x");
    await expect(p.run(register, { model, data: narrow }, { name: "bad" })).rejects.toThrow(
      /held-out data lacks column\(s\) .*"beak_length_mm"/,
    );
  });

  /** Feature definitions for the penguins model: `measures` gives some of its inputs, `more` the rest. */
  const writeFeatures = (services: { name: string; features: string[] }[]) => {
    mkdirSync(join(p.dir, "features"), { recursive: true });
    writeFileSync(
      join(p.dir, "features", "penguins.json"),
      JSON.stringify({
        format: "dagwood.features/1",
        entities: [{ name: "colony", joinKeys: ["island"] }],
        featureViews: [
          {
            name: "measures",
            entities: ["colony"],
            ttl: "1d",
            source: { path: "data/measures.parquet", timestampField: "event_timestamp" },
            features: [
              { name: "beak_length_mm", type: "Float64" },
              { name: "beak_depth_mm", type: "Float64" },
              { name: "flipper_length_mm", type: "Float64" },
            ],
          },
          {
            name: "more",
            entities: ["colony"],
            ttl: "1d",
            source: { path: "data/more.parquet", timestampField: "event_timestamp" },
            features: [
              { name: "body_mass_g", type: "Float64" },
              { name: "sex", type: "String" },
              { name: "flipper_length_mm", type: "Float64" },
            ],
          },
        ],
        featureServices: services,
      }),
    );
  };

  it("keeps the feature service with the version once it provides every model input", async () => {
    writeFeatures([
      {
        name: "all",
        features: [
          "measures:beak_length_mm",
          "measures:beak_depth_mm",
          "measures:flipper_length_mm",
          "more:body_mass_g",
          "more:sex",
        ],
      },
      { name: "partial", features: ["measures"] },
      { name: "both_flippers", features: ["measures", "more"] },
    ]);
    const inputs = ((model as ModelValue).data as AnyDagwoodModel).signature.inputs.map((i) => i.name);
    expect(inputs.sort()).toEqual(
      ["beak_depth_mm", "beak_length_mm", "body_mass_g", "flipper_length_mm", "island", "sex"].sort(),
    );
    const out = await p.run(register, { model }, { name: "penguins", featureService: "all" });
    expect(refOf(out.version)).toMatchObject({ version: 1, created: true });
    expect(p.metadata().registry.getVersion("penguins", 1)!.featureService).toBe("all");
    expect(p.logs.at(-1)?.message).toBe(
      'Registered penguins v1 (tree, multiclass) from node "tree"; feature service "all".',
    );
    // The same model with the same service: the same version. Without one: another version (it is
    // served differently), and so with another service.
    expect(
      refOf((await p.run(register, { model }, { name: "penguins", featureService: "all" })).version),
    ).toMatchObject({
      version: 1,
      created: false,
    });
    expect(refOf((await p.run(register, { model }, { name: "penguins" })).version)).toMatchObject({
      version: 2,
      created: true,
    });
    expect(p.metadata().registry.getVersion("penguins", 2)!.featureService).toBeNull();

    // A service that lacks inputs is refused, naming them and what to do; nothing is registered.
    await expect(p.run(register, { model }, { name: "penguins", featureService: "partial" })).rejects.toThrow(
      'Feature service "partial" does not provide the model inputs "body_mass_g", "sex". It gives the join keys "island" and the features "beak_length_mm", "beak_depth_mm", "flipper_length_mm". Add the missing features to the service',
    );
    // A feature two of its views share cannot fill a plain input: full names are asked for.
    await expect(
      p.run(register, { model }, { name: "penguins", featureService: "both_flippers" }),
    ).rejects.toThrow(
      /"flipper_length_mm" is a feature of more than one of its views: train on full feature names \(view__feature/,
    );
    await expect(p.run(register, { model }, { name: "penguins", featureService: "nope" })).rejects.toThrow(
      'No feature service "nope" in the project\'s features/*.json (its services: all, partial, both_flippers)',
    );
    await expect(
      p.run(register, { model }, { name: "penguins", featureService: "no-dashes" }),
    ).rejects.toThrow(/Invalid params.*featureService/);
    expect(p.metadata().registry.listVersions("penguins")).toHaveLength(2);
  });

  it("refuses a feature service in a project without features, or with broken definitions", async () => {
    await expect(p.run(register, { model }, { name: "penguins", featureService: "all" })).rejects.toThrow(
      'No feature service "all" in the project\'s features/*.json (it defines none)',
    );
    mkdirSync(join(p.dir, "features"));
    writeFileSync(join(p.dir, "features", "bad.json"), "{ not json");
    await expect(p.run(register, { model }, { name: "penguins", featureService: "all" })).rejects.toThrow(
      /Cannot check feature service "all" until the project's feature definitions are fixed \(`dagwood features apply` lists their problems\)\. The feature definitions have 1 problem:\s+features\/bad\.json: not valid JSON/,
    );
    expect(p.metadata().registry.getModel("penguins")).toBeUndefined();
  });

  it("fingerprints the feature service's definition, so a changed service is checked again", async () => {
    writeFeatures([{ name: "all", features: ["measures", "more:body_mass_g", "more:sex"] }]);
    const first = await p.fingerprint(register, { name: "penguins", featureService: "all" });
    expect(await p.fingerprint(register, { name: "penguins" })).not.toBe(first);
    writeFeatures([{ name: "all", features: ["measures", "more:body_mass_g"] }]);
    expect(await p.fingerprint(register, { name: "penguins", featureService: "all" })).not.toBe(first);
  });

  it("refuses a bad name or alias, a missing or wrong input, and a model without its ONNX file", async () => {
    await expect(p.run(register, { model }, { name: "../escape" })).rejects.toThrow(/Invalid params.*name/);
    await expect(p.run(register, { model }, { name: "m", alias: "3" })).rejects.toThrow(
      /Invalid params.*alias/,
    );
    await expect(p.run(register, { model }, {})).rejects.toThrow(/Invalid params.*name/);
    await expect(p.run(register, {}, { name: "m" })).rejects.toThrow('Input "model" is not connected');
    await expect(p.run(register, { model: report }, { name: "m" })).rejects.toThrow(
      'Input "model" must be a model, got report',
    );
    const profile = { type: "report", data: { kind: "profile" }, fingerprint: "x" } as unknown as PortValue;
    await expect(p.run(register, { model, report: profile }, { name: "m" })).rejects.toThrow(
      /The report \(kind "profile"\) has no metrics/,
    );
    const data = (model as { data: { onnx: { file: string } } }).data;
    const noOnnx: PortValue = {
      type: "model",
      data: { ...(model as ModelValue).data, onnx: undefined },
      fingerprint: "n",
    };
    await expect(p.run(register, { model: noOnnx }, { name: "m" })).rejects.toThrow(/has no ONNX export/);
    rmSync(join(p.dir, data.onnx.file));
    await expect(p.run(register, { model }, { name: "m" })).rejects.toThrow(/ONNX file .* is gone/);
    expect(p.metadata().registry.getModel("m")).toBeUndefined();
  });
});

describe("register in a pipeline run", () => {
  let dir: string;
  let project: Project;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-register-"));
    mkdirSync(join(dir, "data"));
    copyFileSync(PENGUINS_CSV, join(dir, "data", "penguins.csv"));
    project = await Project.open(dir, { threads: 2 });
  });
  afterEach(() => {
    project.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pipeline = (maxDepth: number) =>
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "penguins",
      params: {},
      nodes: [
        { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
        { id: "split", block: "split", params: { strategy: "stratified", column: "species", seed: 7 } },
        { id: "tree", block: "train.tree", params: { target: "species", maxDepth } },
        { id: "eval", block: "evaluate", params: {} },
        { id: "register", block: "register", params: { name: "penguins-classifier", alias: "challenger" } },
      ],
      edges: [
        { from: "penguins.out", to: "split.in" },
        { from: "split.train", to: "tree.train" },
        { from: "tree.model", to: "eval.model" },
        { from: "split.test", to: "eval.data" },
        { from: "tree.model", to: "register.model" },
        { from: "eval.report", to: "register.report" },
      ],
    });
  const run = async (maxDepth: number) => {
    const { plan, problems } = validatePipelineText(pipeline(maxDepth), catalog);
    expect(problems).toEqual([]);
    const summary = await runPlan({ project, plan: plan! });
    expect(summary.nodes.filter((n) => n.error)).toEqual([]);
    return summary;
  };

  it("refuses in validate the names the registry refuses at run time (one rule): CON, nul.txt, a trailing dot", async () => {
    for (const name of ["CON", "con", "nul.txt", "LPT1", "COM9.onnx", "model."]) {
      const text = pipeline(3).replace('"name":"penguins-classifier"', `"name":${JSON.stringify(name)}`);
      const { plan, problems } = validatePipelineText(text, catalog);
      expect(plan, name).toBeUndefined();
      expect(problems, name).toEqual([
        {
          path: "$.nodes[4].params.name",
          message: expect.stringMatching(
            /^Invalid model name .*(Windows reserves it for a device|cannot end in ".")/,
          ),
        },
      ]);
      // What validate says is what the registry says when the run gets there.
      const registryMessage = (() => {
        try {
          project.metadata.registry.upsertModel(name, {}, "tester");
        } catch (e) {
          return (e as Error).message;
        }
        return "accepted";
      })();
      expect(problems[0]!.message, name).toBe(registryMessage);
    }
    // Names that only look alike are fine in both.
    for (const name of ["CONsole", "con-model", "lpt10"]) {
      const text = pipeline(3).replace('"name":"penguins-classifier"', `"name":${JSON.stringify(name)}`);
      expect(validatePipelineText(text, catalog).problems, name).toEqual([]);
    }
  });

  it("registers the run's model with its lineage, once, and moves the alias to a new model", async () => {
    const first = await run(3);
    const { registry } = project.metadata;
    const v1 = registry.getVersion("penguins-classifier", "challenger")!;
    expect(v1).toMatchObject({ version: 1, runId: first.runId, nodeId: "tree" });
    const digest = createHash("sha256").update(readFileSync(PENGUINS_CSV)).digest("hex");
    expect(v1.lineage.datasets.map((d) => [d.digest, d.source])).toEqual([[digest, "data/penguins.csv"]]);
    expect(v1.lineage.run).toMatchObject({ id: first.runId, pipeline: "penguins" });
    expect(v1.lineage.run.pipelineHash).toMatch(/^[0-9a-f]{64}$/);
    expect(v1.lineage.params).toMatchObject({ "penguins.path": "data/penguins.csv", "tree.maxDepth": 3 });
    expect(Object.keys(v1.lineage.params).filter((k) => /^(eval|register)\./.test(k))).toEqual([]);
    expect(v1.lineage.environment.node).toBe(process.version);
    const evalAccuracy = first.metrics.find((m) => m.node === "eval" && m.name === "accuracy")!.value;
    expect(v1.metrics.accuracy).toBe(evalAccuracy);

    const again = await run(3);
    expect(again.nodes.every((n) => n.status === "cached")).toBe(true);
    expect(registry.listVersions("penguins-classifier")).toHaveLength(1);

    await run(2);
    expect(registry.getModel("penguins-classifier")).toMatchObject({
      latestVersion: 2,
      aliases: { challenger: 2 },
    });
    const moved = registry.audit({ model: "penguins-classifier" }).find((e) => e.action === "alias.moved");
    expect(moved?.details).toMatchObject({ alias: "challenger", from: 1, to: 2 });
  });

  it("re-registers after the registry changed under a cached run: archive, alias moved by hand", async () => {
    await run(3);
    const { registry } = project.metadata;
    registry.archiveVersion("penguins-classifier", 1, "someone");
    const afterArchive = await run(3);
    expect(afterArchive.nodes.find((n) => n.id === "register")).toMatchObject({ status: "ran" });
    expect(afterArchive.nodes.find((n) => n.id === "tree")).toMatchObject({ status: "cached" });
    expect(registry.getModel("penguins-classifier")).toMatchObject({
      latestVersion: 2,
      aliases: { challenger: 2 },
    });
    // Settled: the same inputs and an unchanged registry take the cache.
    expect((await run(3)).nodes.find((n) => n.id === "register")).toMatchObject({ status: "cached" });

    registry.removeAlias("penguins-classifier", "challenger", "someone");
    const afterAlias = await run(3);
    expect(afterAlias.nodes.find((n) => n.id === "register")).toMatchObject({ status: "ran" });
    expect(registry.getModel("penguins-classifier")).toMatchObject({
      latestVersion: 2,
      aliases: { challenger: 2 },
    });
    expect(registry.listVersions("penguins-classifier")).toHaveLength(2);
  });
});
