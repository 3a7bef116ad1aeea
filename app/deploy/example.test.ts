import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { deployVersion } from "./deploy";
import { inferExample } from "./example";
import { asHeldout } from "./heldout";
import { DeployError } from "./targets";
import { caught, createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const TOKEN = "s3cret";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };

/** A V2 parameter value: a string, a number or a boolean (open-inference-protocol, inference_grpc.md "Parameters"). */
const isParameterValue = (v: unknown) => ["string", "number", "boolean"].includes(typeof v);

/**
 * The shapes the Open Inference Protocol's REST schema requires
 * (kserve/open-inference-protocol, specification/protocol/open_inference_rest.yaml):
 * an inference_response has model_name and outputs; each response_output has
 * name, shape (integers), datatype and data, and optional parameters (an object).
 */
function expectV2Response(body: Record<string, unknown>) {
  expect(typeof body.model_name).toBe("string");
  expect(Array.isArray(body.outputs)).toBe(true);
  for (const o of body.outputs as Record<string, unknown>[]) {
    for (const required of ["name", "shape", "datatype", "data"]) expect(o).toHaveProperty(required);
    expect(typeof o.name).toBe("string");
    expect(typeof o.datatype).toBe("string");
    expect((o.shape as unknown[]).every((d) => Number.isInteger(d))).toBe(true);
    expect(Array.isArray(o.data)).toBe(true);
    if ("parameters" in o) {
      expect(typeof o.parameters).toBe("object");
      expect(Object.values(o.parameters as object).every(isParameterValue)).toBe(true);
    }
  }
}

describe("the infer example", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  let server: DagwoodServer;
  let url: string;
  let repo: string;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-example-repo-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
    project = createDeployProject({ local: { url, kind: "dagwood" } });
    await registerTestVersion(project, { name: "clf" });
    await registerTestVersion(project, { name: "clf", shift: 1, heldout: false });
    await registerTestVersion(project, { name: "reg", task: "regression" });
    for (const [name, ref] of [
      ["clf", 1],
      ["reg", 1],
    ] as const) {
      await deployVersion({ project, target: "local", name, ref, actor: "ana", tokens });
    }
  });
  afterAll(async () => {
    await server.close();
    project.close();
    rmSync(repo, { recursive: true, force: true });
  });

  const post = async (model: string, body: unknown, version?: number) => {
    const res = await fetch(`${url}/v2/models/${model}${version ? `/versions/${version}` : ""}/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      // Exactly the text a pasted `-d '<body>'` sends.
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("fills a held-out row the version was evaluated on, and the served model answers it", async () => {
    const example = await inferExample(project, "clf", 1);
    expect(example.source).toBe("heldout");
    // The row is the first complete row of heldout.json (written from testRows: x 0.5, color red).
    const version = project.registry.getVersion("clf", 1)!;
    const held = asHeldout(
      JSON.parse(readFileSync(join(project.dir, version.heldoutPath!), "utf8")),
      "heldout.json",
    );
    expect(example.body.inputs).toEqual(
      held.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: [1, 1], data: [t.data[0]] })),
    );
    expect(example.body.inputs.map((i) => i.data[0])).toEqual([0.5, "red"]);
    const answer = await post("clf", example.body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expectV2Response(answer.body);
    // The registry's own prediction for that held-out row is what the server answers.
    const label = (answer.body.outputs as { name: string; data: unknown[] }[]).find(
      (o) => o.name === "label",
    );
    expect(label?.data).toEqual([held.expected.label![0]]);
  });

  it("returns class names with the probabilities, in the answer and the model metadata", async () => {
    const example = await inferExample(project, "clf", 1);
    const answer = await post("clf", example.body);
    const outputs = answer.body.outputs as {
      name: string;
      data: number[];
      parameters?: Record<string, unknown>;
    }[];
    const probabilities = outputs.find((o) => o.name === "probabilities")!;
    const label = outputs.find((o) => o.name === "label")!;
    const names = JSON.parse(String(probabilities.parameters?.class_names)) as unknown[];
    // The model was trained on the classes "low" and "high": sorted, as the registry keeps them.
    expect(names).toEqual(["high", "low"]);
    expect(example.classes).toEqual(names);
    // The label is the class whose probability is highest.
    const top = probabilities.data.indexOf(Math.max(...probabilities.data));
    expect(label.data[0]).toBe(names[top]);
    expect(probabilities.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // Only the probabilities carry parameters.
    expect(label).not.toHaveProperty("parameters");

    const metadata = (await (await fetch(`${url}/v2/models/clf`)).json()) as Record<string, unknown>;
    const parameters = metadata.parameters as Record<string, unknown>;
    expect(JSON.parse(String(parameters.class_names))).toEqual(["high", "low"]);
    expect(Object.values(parameters).every(isParameterValue)).toBe(true);
  });

  it("a regression answer has no class names", async () => {
    const example = await inferExample(project, "reg", 1);
    expect(example.classes).toBeUndefined();
    expect(example.outputs.map((o) => o.name)).toEqual(["prediction"]);
    const answer = await post("reg", example.body);
    expect(answer.status).toBe(200);
    expectV2Response(answer.body);
    expect(answer.body.outputs as object[]).toEqual([
      expect.not.objectContaining({ parameters: expect.anything() }),
    ]);
    const metadata = (await (await fetch(`${url}/v2/models/reg`)).json()) as Record<string, unknown>;
    expect(metadata.parameters).not.toHaveProperty("class_names");
  });

  it("without held-out rows, types the values from the model's preprocessing and says so", async () => {
    const example = await inferExample(project, "clf", 2);
    expect(example.source).toBe("typed");
    expect(example.note).toMatch(/no held-out rows/);
    const [x, color] = example.inputs;
    expect(x).toMatchObject({ name: "x", datatype: "FP64", kind: "number", how: "a number" });
    expect(typeof x!.value).toBe("number");
    expect(x!.missing).toMatch(/^null is/);
    // A text input is sent as one of its categories, a string.
    expect(color).toMatchObject({ name: "color", datatype: "BYTES", kind: "category" });
    expect(color!.categories).toContain(color!.value);
    expect(color!.how).toBe("a category, as a string");
    // Deployed now, the typed row is answered as well.
    await deployVersion({ project, target: "local", name: "clf", ref: 2, actor: "ana", tokens });
    const answer = await post("clf", example.body, 2);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  });

  it("says a date is sent as epoch milliseconds (UTC), and shows the date it stands for", async () => {
    // The same registered version, its numeric input read as a DATE column of the training table.
    const registry = Object.create(project.registry) as typeof project.registry;
    registry.getVersion = (name, ref) => {
      const v = project.registry.getVersion(name, ref);
      if (!v) return v;
      const inputs = v.signature.inputs.map((i) => (i.name === "x" ? { ...i, sourceType: "DATE" } : i));
      return { ...v, signature: { ...v.signature, inputs } };
    };
    const typed = await inferExample({ dir: project.dir, registry }, "clf", 2);
    const x = typed.inputs.find((i) => i.name === "x")!;
    expect(x.kind).toBe("date");
    expect(x.how).toMatch(/epoch milliseconds \(UTC/);
    expect(x.how).toContain("2015-06-01 is 1433116800000");
    expect(Date.UTC(2015, 5, 1)).toBe(1433116800000);
    // A typed date is a whole UTC day, and reads as that day.
    expect(Number(x.value) % 86_400_000).toBe(0);
    expect(x.shown).toBe(new Date(Number(x.value)).toISOString().slice(0, 10));
    // A held-out value is sent as it was kept, and shown as its date.
    const held = await inferExample({ dir: project.dir, registry }, "clf", 1);
    const hx = held.inputs.find((i) => i.name === "x")!;
    expect(hx.value).toBe(0.5);
    expect(hx.shown).toBe("1970-01-01");
  });

  it("says what null becomes for a date used by its parts: imputed parts, or left missing", async () => {
    const version = project.registry.getVersion("clf", 2)!;
    const native = JSON.parse(readFileSync(join(project.dir, version.nativePath), "utf8"));
    const asDateParts = (impute: { strategy: "median"; value: number } | null) => {
      const file = `parts-${impute ? "imputed" : "missing"}.json`;
      const features = native.preprocess.features.map((f: { name: string }) =>
        f.name === "x"
          ? {
              name: "x",
              kind: "numeric",
              sourceType: "DATE",
              impute: null,
              scale: null,
              dateParts: ["year", "month"].map((part) => ({ part, impute, scale: null })),
            }
          : f,
      );
      writeFileSync(
        join(project.dir, file),
        JSON.stringify({ ...native, preprocess: { ...native.preprocess, features } }),
      );
      const registry = Object.create(project.registry) as typeof project.registry;
      registry.getVersion = (name, ref) => {
        const v = project.registry.getVersion(name, ref);
        return v ? { ...v, nativePath: file } : v;
      };
      return { dir: project.dir, registry };
    };
    const imputed = await inferExample(asDateParts({ strategy: "median", value: 6 }), "clf", 2);
    expect(imputed.inputs.find((i) => i.name === "x")!.missing).toMatch(/each of its parts is replaced/);
    // impute "none" (trees): nothing replaces a missing date's parts.
    const missing = await inferExample(asDateParts(null), "clf", 2);
    const x = missing.inputs.find((i) => i.name === "x")!;
    expect(x.missing).not.toMatch(/replaced|imputed/);
    expect(x.missing).toMatch(/handles as it was trained to/);
  });

  it("skips held-out rows with a missing value, and still works pasted when every row misses one", async () => {
    // Version 1's held-out rows replaced by rows that each miss a value but the last.
    const withHeldout = (file: string) => {
      const registry = Object.create(project.registry) as typeof project.registry;
      registry.getVersion = (name, ref) => {
        const v = project.registry.getVersion(name, ref);
        return v ? { ...v, heldoutPath: file } : v;
      };
      return { dir: project.dir, registry };
    };
    const heldout = (x: (number | null)[], color: (string | null)[]) => ({
      format: "dagwood.heldout/1",
      rows: x.length,
      inputs: [
        { name: "x", datatype: "FP64", shape: [x.length, 1], data: x },
        { name: "color", datatype: "BYTES", shape: [x.length, 1], data: color },
      ],
      expected: { label: x.map(() => "low"), probabilities: x.flatMap(() => [0.5, 0.5]) },
    });
    writeFileSync(
      join(project.dir, "gappy.json"),
      JSON.stringify(heldout([null, 0.25, 0.75], ["red", null, "blue"])),
    );
    const complete = await inferExample(withHeldout("gappy.json"), "clf", 1);
    expect(complete.source).toBe("heldout");
    expect(complete.note).toContain("held-out row 3 of 3");
    expect(complete.body.inputs.map((i) => i.data)).toEqual([[0.75], ["blue"]]);

    // No complete row: the first one, its missing number sent as null and its missing text as "" (the
    // wire form of a missing text); the server takes it as pasted and the model imputes.
    writeFileSync(join(project.dir, "holes.json"), JSON.stringify(heldout([null, 0.5], [null, null])));
    const holes = await inferExample(withHeldout("holes.json"), "clf", 1);
    expect(holes.body.inputs.map((i) => i.data)).toEqual([[null], [""]]);
    expect(holes.inputs.map((i) => i.shown)).toEqual(["null (missing)", '"" (missing)']);
    const answer = await post("clf", JSON.parse(JSON.stringify(holes.body)));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expectV2Response(answer.body);
  });

  it("names what is missing when the model or version is unknown", async () => {
    const e = await caught(inferExample(project, "clf", 9));
    expect(e).toBeInstanceOf(DeployError);
    expect(e.code).toBe("not-found");
    expect(e.message).toMatch(/Model "clf" has no version 9/);
    expect((await caught(inferExample(project, "nope", 1))).message).toMatch(/"nope"/);
  });
});
