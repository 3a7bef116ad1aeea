// dagwood step: every node of the starter's penguin pipelines run as its own process, in its own copy of
// the project, its inputs the port folders its producers wrote (as an orchestrator passes artifacts),
// against `dagwood run` of the same pipeline in one more copy.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { StepResult } from "./step";
import { dagwood, makeProject, type ProjectRecipe, runStepwise, type StepwiseRun } from "./testing";

const STARTER = join(import.meta.dirname, "..", "..", "resources", "examples", "starter");

function recipe(pipeline: string): ProjectRecipe {
  return {
    pipeline: join(STARTER, pipeline),
    files: {
      "data/penguins.csv": join(STARTER, "data", "penguins.csv"),
      expectations: join(STARTER, "expectations"),
    },
  };
}

interface LocalRun {
  runId: string;
  nodes: { id: string; status: string; outputs: Record<string, { fingerprint: string }> }[];
  metrics: { node: string; name: string; value: number; step?: number }[];
  cacheKeys: Record<string, string>;
  paramsHashes: Record<string, string>;
  /** Node → input port → the fingerprint of the value it read. */
  inputs: Record<string, Record<string, string>>;
  projectDir: string;
}

async function runLocally(work: string, r: ProjectRecipe): Promise<LocalRun> {
  const projectDir = join(work, "local");
  const pipeline = await makeProject(projectDir, r);
  const run = await dagwood(["run", pipeline, "--json", "--no-attach"]);
  expect(run.code, run.stderr).toBe(0);
  const summary = JSON.parse(run.stdout) as LocalRun;
  const show = await dagwood(["runs", "show", summary.runId, "--project", projectDir, "--json"]);
  expect(show.code, show.stderr).toBe(0);
  const nodes = (
    JSON.parse(show.stdout) as {
      nodes: {
        nodeId: string;
        cacheKey: string;
        paramsHash: string;
        inputs: Record<string, { fingerprint: string }>;
      }[];
    }
  ).nodes;
  return {
    ...summary,
    projectDir,
    cacheKeys: Object.fromEntries(nodes.map((n) => [n.nodeId, n.cacheKey])),
    paramsHashes: Object.fromEntries(nodes.map((n) => [n.nodeId, n.paramsHash])),
    inputs: Object.fromEntries(
      nodes.map((n) => [
        n.nodeId,
        Object.fromEntries(Object.entries(n.inputs).map(([p, i]) => [p, i.fingerprint])),
      ]),
    ),
  };
}

/** Timings of ONNX inference (onnx_latency_p50_us) are measured, not computed: they differ between any two runs. */
const MEASURED = /latency/;

/**
 * Each step's status, outputs, cache key and metrics against the local run's. `differs`: outputs that
 * hold a measured time; the nodes reading them (`keyDiffers`) get other inputs, so other cache keys.
 */
function sameAsLocal(
  local: LocalRun,
  steps: StepwiseRun,
  differs: (node: string, port: string) => boolean,
  keyDiffers: string[] = [],
) {
  expect(steps.order.sort()).toEqual(local.nodes.map((n) => n.id).sort());
  for (const n of local.nodes) {
    const r = steps.results[n.id]!;
    expect(r.status, `${n.id}: ${r.error}`).toBe("ran");
    expect(r.runId).toBe(local.runId);
    expect(r.paramsHash, `${n.id}'s params`).toBe(local.paramsHashes[n.id]);
    if (keyDiffers.includes(n.id)) {
      expect(r.inputs).not.toEqual(local.inputs[n.id]);
      expect(r.cacheKey).not.toBe(local.cacheKeys[n.id]);
    } else {
      expect(r.inputs, `${n.id}'s inputs`).toEqual(local.inputs[n.id]);
      expect(r.cacheKey, `${n.id}'s cache key`).toBe(local.cacheKeys[n.id]);
    }
    expect(Object.keys(r.outputs).sort()).toEqual(Object.keys(n.outputs).sort());
    for (const [port, o] of Object.entries(n.outputs)) {
      if (differs(n.id, port)) continue;
      expect(r.outputs[port]!.fingerprint, `${n.id}.${port}`).toBe(o.fingerprint);
    }
    const computed = (ms: { name: string; value: number; step?: number }[]) =>
      ms.filter((m) => !MEASURED.test(m.name)).map((m) => [m.name, m.step ?? null, m.value]);
    expect(computed(r.metrics), `${n.id}'s metrics`).toEqual(
      computed(local.metrics.filter((m) => m.node === n.id)),
    );
  }
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "dagwood-step-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("dagwood step, node by node", () => {
  it("runs penguins.dag.json to the fingerprints, cache keys and metrics of dagwood run", async () => {
    const r = recipe("penguins.dag.json");
    const local = await runLocally(join(work, "penguins"), r);
    const steps = await runStepwise(join(work, "penguins", "steps"), r, { runId: local.runId });
    sameAsLocal(local, steps, () => false);
    // The consumer read what the producer wrote: split's input fingerprint is clean's output.
    expect(steps.results.split!.inputs.in).toBe(steps.results.clean!.outputs.out!.fingerprint);
    expect(steps.results.split!.outputs.train!.rows! + steps.results.split!.outputs.test!.rows!).toBe(344);
  }, 120_000);

  it("runs penguins-model.dag.json (models with their ONNX files, a gate, a registration) like dagwood run", async () => {
    const r = recipe("penguins-model.dag.json");
    const local = await runLocally(join(work, "model"), r);
    const steps = await runStepwise(join(work, "model", "steps"), r, {
      runId: local.runId,
      env: {
        ...process.env,
        ARGO_WORKFLOW_NAME: "penguins-model-x7k2p",
        ARGO_POD_NAME: "penguins-model-x7k2p-123",
      },
    });
    // Two outputs carry a time measured, not computed, so they differ between any two runs: the expectation
    // suite's report the time it was validated (meta.validation_time), the MLP the time it trained
    // (mlp.training.ms). They are compared without those fields.
    const measured = (node: string, port: string) =>
      (node === "check" && port === "report") || (node === "mlp" && port === "model");
    sameAsLocal(local, steps, measured, ["eval_mlp"]);
    const stepValue = async (node: string, port: string) =>
      JSON.parse(await readFile(join(steps.outputs[node]!, port, "value.json"), "utf8")).data;
    const localValue = async (node: string, file: string) =>
      JSON.parse(
        await readFile(join(local.projectDir, ".dagwood", "artifacts", local.runId, node, file), "utf8"),
      );
    const [stepCheck, localCheck] = [
      await stepValue("check", "report"),
      await localValue("check", "report.json"),
    ];
    expect(stepCheck.meta.validation_time).not.toBe(localCheck.meta.validation_time);
    delete stepCheck.meta.validation_time;
    delete localCheck.meta.validation_time;
    expect(stepCheck).toEqual(localCheck);
    const [stepMlp, localMlp] = [await stepValue("mlp", "model"), await localValue("mlp", "model.json")];
    expect(typeof stepMlp.mlp.training.ms).toBe("number");
    delete stepMlp.mlp.training.ms;
    delete localMlp.mlp.training.ms;
    expect(stepMlp).toEqual(localMlp);
    // The models passed between steps carry their ONNX file: evaluate checked it against the native model.
    const gbdt = JSON.parse(await readFile(join(steps.outputs.gbdt!, "model", "value.json"), "utf8"));
    expect(Object.keys(gbdt.files)).toContain(gbdt.data.onnx.file);
    expect(steps.results.eval_gbdt!.metrics.find((m) => m.name === "onnx_label_agreement")?.value).toBe(1);
    // The registered version is version 1 of the model, in the register step's own project, as locally.
    const version = JSON.parse(
      await readFile(join(steps.outputs.register!, "version", "value.json"), "utf8"),
    );
    expect(version.data).toMatchObject({ name: "penguins-classifier", version: 1 });
    // The Argo workflow and pod, as the step's tags.
    expect(steps.results.register!.tags).toEqual({
      "argo.workflow": "penguins-model-x7k2p",
      "argo.pod": "penguins-model-x7k2p-123",
    });
    const show = await dagwood([
      "runs",
      "show",
      local.runId,
      "--project",
      join(work, "model", "steps", "register", "project"),
      "--json",
    ]);
    // On the run, the pod is the node's (every step of a workflow records into one run: workflow-run.test.ts).
    expect(JSON.parse(show.stdout).run.tags).toEqual({
      "argo.workflow": "penguins-model-x7k2p",
      "argo.pod.register": "penguins-model-x7k2p-123",
    });
  }, 240_000);
});

describe("dagwood step refuses bad inputs", () => {
  let steps: StepwiseRun;
  let pipeline: string;
  beforeAll(async () => {
    const r = recipe("penguins.dag.json");
    steps = await runStepwise(join(work, "bad", "steps"), r);
    pipeline = await makeProject(join(work, "bad", "project"), r);
  }, 120_000);

  async function step(name: string, ...args: string[]) {
    const out = join(work, "bad", name);
    const proc = await dagwood(["step", pipeline, "--node", "split", "--outputs", out, ...args]);
    const result = await readFile(join(out, "result.json"), "utf8")
      .then((t) => JSON.parse(t) as StepResult)
      .catch(() => undefined);
    return { ...proc, result };
  }

  it("takes an input folder from --input port=PATH", async () => {
    const s = await step("ok", "--input", `in=${join(steps.outputs.clean!, "out")}`);
    expect(s.code, s.stderr).toBe(0);
    expect(s.result!.outputs.train!.fingerprint).toBe(steps.results.split!.outputs.train!.fingerprint);
  }, 60_000);

  it("refuses a missing input folder, saying which port and how to pass it", async () => {
    const s = await step("missing", "--inputs", join(work, "bad", "nowhere"));
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/needs a folder for input "in".*--inputs DIR.*--input <port>=PATH/);
    expect(s.result).toMatchObject({ status: "refused", node: "split" });
  });

  it("refuses a table whose Parquet file is not the one its value.json records", async () => {
    // A Parquet file of other rows (the other split) in place of clean's output.
    const dir = join(work, "bad", "swapped");
    await makeSwapped(
      dir,
      join(steps.outputs.clean!, "out"),
      join(steps.outputs.split!, "test", "table.parquet"),
    );
    const s = await step("swapped-out", "--input", `in=${dir}`);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(
      /Input "in": .*table\.parquet has fingerprint \w+ \(86 rows\), but its value\.json records \w+ \(344 rows\).*run the upstream step again/,
    );
    expect(s.result!.status).toBe("refused");
    expect(s.result!.outputs).toEqual({});
  });

  it("refuses a JSON value edited after its step wrote it", async () => {
    const r = recipe("penguins.dag.json");
    const p = await makeProject(join(work, "bad", "p2"), r);
    const dir = join(work, "bad", "edited-report");
    const { cp } = await import("node:fs/promises");
    // profile's report, its numbers changed by hand, fed to a fresh step of profile's consumer role:
    // the check is on the folder, whatever the node.
    await cp(join(steps.outputs.profile!, "report"), dir, { recursive: true });
    const m = JSON.parse(await readFile(join(dir, "value.json"), "utf8"));
    m.data.kind = "edited";
    await writeFile(join(dir, "value.json"), JSON.stringify(m));
    const { readPortFolder } = await import("./port-files");
    await expect(readPortFolder(dir, 'Input "report"', undefined as never, p, "t_unused")).rejects.toThrow(
      /the report in .*value\.json has fingerprint \w+, but the file records \w+\. It was edited/,
    );
  });

  it("refuses an unknown node, an input port the node lacks and a non-empty --outputs", async () => {
    const unknown = await dagwood(["step", pipeline, "--node", "nope", "--outputs", join(work, "bad", "u")]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /No node "nope" in pipeline "penguins"; its nodes are penguins, clean, profile, split/,
    );
    const port = await step(
      "port",
      "--input",
      `in=${join(steps.outputs.clean!, "out")}`,
      "--input",
      `model=${work}`,
    );
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/Node "split" has no connected input "model"; its connected inputs are in/);
    const full = await dagwood([
      "step",
      pipeline,
      "--node",
      "penguins",
      "--outputs",
      steps.outputs.penguins!,
    ]);
    expect(full.code).toBe(2);
    expect(full.stderr).toMatch(/--outputs .* is not empty \(.*result\.json.*\): give a new or empty folder/);
  });

  it("refuses a project whose dagwood.json is invalid with exit 2 (not retried) and says what is wrong", async () => {
    const p = await makeProject(join(work, "bad", "p3"), recipe("penguins.dag.json"));
    await writeFile(join(work, "bad", "p3", "dagwood.json"), JSON.stringify({ dataFolders: 5 }));
    const out = join(work, "bad", "settings");
    const s = await dagwood(["step", p, "--node", "penguins", "--outputs", out]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/^dagwood step: .*dagwood\.json has invalid settings: dataFolders: /);
    expect(s.stderr).not.toMatch(/\n\s+at /);
    const result = JSON.parse(await readFile(join(out, "result.json"), "utf8")) as StepResult;
    expect(result).toMatchObject({ status: "refused", node: "penguins" });
    expect(result.error).toMatch(/dataFolders/);
  });
});

describe("dagwood step writes result.json when it fails inside", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function readResult(out: string): Promise<StepResult> {
    return JSON.parse(await readFile(join(out, "result.json"), "utf8")) as StepResult;
  }

  /** runStep in this process on the starter's ingest node, so the test can break the engine's parts. */
  async function stepInProcess(name: string, before?: (outputs: string) => Promise<void>) {
    const [{ loadAndPlan }, { catalog }, { runStep }] = await Promise.all([
      import("../cli/main"),
      import("../../nodes/index"),
      import("./step"),
    ]);
    const file = await makeProject(join(work, "inside", name), recipe("penguins.dag.json"));
    const { plan } = await loadAndPlan(file, [], catalog);
    const outputs = join(work, "inside", `${name}-out`);
    await before?.(outputs);
    const run = runStep({
      plan: plan!,
      nodeId: "penguins",
      projectDir: join(work, "inside", name),
      pipelinePath: file,
      inputs: {},
      outputs,
    });
    run.catch(() => undefined); // handled: each test awaits it
    return { run, outputs };
  }

  it("exits 1 with status failed when the project's store cannot be opened", async () => {
    const p = await makeProject(join(work, "inside", "store"), recipe("penguins.dag.json"));
    // A folder where the SQLite file goes: the store cannot open, whatever the user's rights.
    await mkdir(join(work, "inside", "store", ".dagwood", "metadata.sqlite"), { recursive: true });
    const out = join(work, "inside", "store-out");
    const s = await dagwood(["step", p, "--node", "penguins", "--outputs", out]);
    expect(s.code, s.stderr).toBe(1);
    expect(s.stderr).toMatch(/^dagwood step: /);
    const result = await readResult(out);
    expect(result).toMatchObject({ status: "failed", node: "penguins", block: "ingest.file", outputs: {} });
    expect(result.error).toBeTruthy();
    expect(s.stderr).toContain(result.error!);
  }, 60_000);

  it("records status failed with the engine's error when runPlan throws", async () => {
    const { SqliteMetadataStore } = await import("../store/metadata");
    vi.spyOn(SqliteMetadataStore.prototype, "startRun").mockImplementation(() => {
      throw new Error("injected: the store went away");
    });
    const { run, outputs } = await stepInProcess("engine");
    await expect(run).rejects.toThrow("injected: the store went away");
    const result = await readResult(outputs);
    expect(result).toMatchObject({
      format: "dagwood.step-result/1",
      status: "failed",
      node: "penguins",
      error: "injected: the store went away",
      outputs: {},
    });
  }, 60_000);

  it("records status failed when the node's values are not in the cache after it ran", async () => {
    const { Workspace } = await import("../data/workspace");
    const getCached = vi.spyOn(Workspace.prototype, "getCached").mockResolvedValue(undefined);
    const { run, outputs } = await stepInProcess("cache");
    await expect(run).rejects.toThrow(/Node "penguins" finished but its outputs are not in the cache/);
    expect(getCached).toHaveBeenCalled();
    const result = await readResult(outputs);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/not in the cache/);
    expect(result.cacheKey).toMatch(/\w/);
    expect(result.outputs).toEqual({});
  }, 60_000);

  it("writes a refused result.json for an invalid pipeline and a malformed --input (exit 2)", async () => {
    const p = await makeProject(join(work, "inside", "early"), recipe("penguins.dag.json"));
    const broken = join(work, "inside", "early", "broken.dag.json");
    const text = JSON.parse(await readFile(p, "utf8"));
    text.nodes[0].block = "no.such.block";
    await writeFile(broken, JSON.stringify(text));
    const invalidOut = join(work, "inside", "early-invalid");
    const invalid = await dagwood(["step", broken, "--node", "penguins", "--outputs", invalidOut]);
    expect(invalid.code).toBe(2);
    const r1 = await readResult(invalidOut);
    expect(r1).toMatchObject({ status: "refused", node: "penguins", pipeline: "penguins", outputs: {} });
    expect(r1.error).toMatch(/no\.such\.block/);

    const inputOut = join(work, "inside", "early-input");
    const input = await dagwood(["step", p, "--node", "split", "--outputs", inputOut, "--input", "in"]);
    expect(input.code).toBe(2);
    expect(input.stderr).toMatch(/--input expects port=PATH, got "in"/);
    const r2 = await readResult(inputOut);
    expect(r2).toMatchObject({ status: "refused", node: "split", pipeline: "penguins" });
    expect(r2.error).toBe('--input expects port=PATH, got "in"');
  }, 60_000);

  it("leaves the result.json of a non-empty --outputs alone", async () => {
    const { run, outputs } = await stepInProcess("full", async (out) => {
      await mkdir(out, { recursive: true });
      await writeFile(join(out, "result.json"), "theirs");
    });
    await expect(run).rejects.toThrow(/is not empty/);
    expect(await readFile(join(outputs, "result.json"), "utf8")).toBe("theirs");
  }, 60_000);
});

/** A copy of the port folder `src` whose table.parquet is `parquet` (other rows). */
async function makeSwapped(dir: string, src: string, parquet: string) {
  const { cp } = await import("node:fs/promises");
  await cp(src, dir, { recursive: true });
  await cp(parquet, join(dir, "table.parquet"));
}
