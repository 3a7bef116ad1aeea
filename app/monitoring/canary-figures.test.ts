/**
 * A canary's figures from a real `dagwood serve` on loopback: traffic with
 * request ids split between the champion and a canary, feedback labels for
 * most of it, requests and labels before and after the span. The expected
 * figures are counted here from the answers the server gave and the labels
 * sent, not with the monitoring code.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openArtifactLocation } from "../artifacts/location";
import { shareTestVersion } from "../artifacts/testing";
import { deployCanary } from "../deploy/canary";
import { deployVersion } from "../deploy/deploy";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "../deploy/testing";
import { createServer, type DagwoodServer } from "../serving/server";
import { inferTestRow } from "../serving/testing";
import { SqliteMetadataStore } from "../store/metadata";
import { CanaryFiguresError, canaryFigures } from "./canary-figures";

const TOKEN = "figures-token";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const COLORS = ["red", "green", "blue"];
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The world after the shift: the class boundary the canary (trained with shift 2) learnt. */
const truth = (x: number, color: string) => (x + (color === "red" ? 3 : 0) > 7 ? "high" : "low");

let repo: string;
let server: DagwoodServer;
let url: string;
let project: TestDeployProject;
let since: number;
let until: number;
/** Each request of the span: which version answered, what it said, and the label sent (if any). */
const sent: { id: string; version: number; said: string; probs: number[]; label: string | null }[] = [];
/** The classes in the order of the models' probabilities. */
let classes: string[];

async function infer(
  id: string,
  x: number,
  color: string,
): Promise<{ version: number; said: string; probs: number[] }> {
  const res = await inferTestRow(url, "m", id, x, color);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { model_version: string; outputs: { name: string; data: unknown[] }[] };
  return {
    version: Number(body.model_version),
    said: String(body.outputs.find((o) => o.name === "label")!.data[0]),
    probs: body.outputs.find((o) => o.name === "probabilities")!.data as number[],
  };
}

async function label(items: { id: string; label: string }[]) {
  const res = await fetch(`${url}/v2/models/m/feedback`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ feedback: items }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Requests (and their labels) outside the span: they must count nowhere. */
async function outside(prefix: string) {
  const items: { id: string; label: string }[] = [];
  for (let i = 0; i < 8; i++) {
    const id = `${prefix}-${i}`;
    // Labelled so that, were they counted, both arms would look perfect or hopeless.
    const answer = await infer(id, 6, "green");
    items.push({ id, label: prefix === "early" ? answer.said : answer.said === "high" ? "low" : "high" });
  }
  await label(items);
}

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "dagwood-canary-figures-"));
  server = createServer({ repository: repo, token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0, "127.0.0.1");
  project = createDeployProject({ local: { url, kind: "dagwood" } });
  writeFileSync(
    join(project.dir, "dagwood.json"),
    JSON.stringify({ targets: { local: { url, kind: "dagwood" } } }),
  );
  classes = (await registerTestVersion(project)).model.classes!.map(String); // v1: the champion, boundary x + bonus > 5
  await registerTestVersion(project, { shift: 2 }); // v2: the challenger, boundary > 7
  await deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens });
  await deployCanary({ project, target: "local", name: "m", ref: 2, percent: 40, actor: null, tokens });

  await outside("early");
  await pause(20);
  since = Date.now();
  await pause(5);
  const labels: { id: string; label: string }[] = [];
  for (let i = 0; i < 120; i++) {
    const id = `req-${i}`;
    const x = ((i * 37) % 100) / 10;
    const color = COLORS[i % 3]!;
    const answer = await infer(id, x, color);
    // Every fifth request gets no label.
    const l = i % 5 === 4 ? null : truth(x, color);
    if (l !== null) labels.push({ id, label: l });
    sent.push({ id, ...answer, label: l });
  }
  // Requests to a version's own URL (role "direct", as a deploy's parity check sends) inside the
  // span, labelled against their answers: in neither arm, or the figures below would be off.
  const direct: { id: string; label: string }[] = [];
  for (const v of [1, 2]) {
    for (let i = 0; i < 6; i++) {
      const id = `direct-${v}-${i}`;
      const res = await fetch(`${url}/v2/models/m/versions/${v}/infer`, {
        method: "POST",
        body: JSON.stringify({
          id,
          inputs: [
            { name: "x", datatype: "FP64", shape: [1, 1], data: [i] },
            { name: "color", datatype: "BYTES", shape: [1, 1], data: ["blue"] },
          ],
        }),
      });
      expect(res.status).toBe(200);
      const said = String(
        ((await res.json()) as { outputs: { name: string; data: unknown[] }[] }).outputs.find(
          (o) => o.name === "label",
        )!.data[0],
      );
      direct.push({ id, label: said === "high" ? "low" : "high" });
    }
  }
  await label([...labels, ...direct]);
  await pause(5);
  until = Date.now();
  await pause(20);
  await outside("late");
});

afterAll(async () => {
  project.close();
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

/** The figures of one arm, counted from the answers and the labels sent. */
function counted(version: number) {
  const mine = sent.filter((s) => s.version === version);
  const labelled = mine.filter((s) => s.label !== null);
  const right = labelled.filter((s) => s.said === s.label).length;
  return { version, rows: mine.length, labelled: labelled.length, value: right / labelled.length };
}

/** Log loss as scikit-learn defines it (sklearn.metrics.log_loss): −mean ln p(true class). */
function countedLogLoss(version: number) {
  const labelled = sent.filter((s) => s.version === version && s.label !== null);
  const sum = labelled.reduce((a, s) => a - Math.log(s.probs[classes.indexOf(s.label!)]!), 0);
  return sum / labelled.length;
}

describe("canaryFigures", () => {
  /** The figures of model m on target local over the span, canary v2, graded by accuracy; `over` changes any of it. */
  const figuresOf = (over: Partial<Parameters<typeof canaryFigures>[0]> = {}) =>
    canaryFigures({
      dir: project.dir,
      metadata: project.metadata,
      target: "local",
      model: "m",
      canaryVersion: 2,
      since,
      until,
      metric: "accuracy",
      task: "binary",
      tokens,
      ...over,
    });

  it("grades each arm on its labelled rows of the span, as counted by hand; the canary is the better one", async () => {
    const figures = await figuresOf();
    const primary = counted(1);
    const canary = counted(2);
    // Both arms took a share: about 40 % of 120 for the canary.
    expect(canary.rows).toBeGreaterThan(20);
    expect(primary.rows).toBeGreaterThan(40);
    expect(primary.rows + canary.rows).toBe(120);
    expect(figures.primary).toEqual({ ...primary, value: expect.closeTo(primary.value, 12) });
    expect(figures.canary).toEqual({ ...canary, value: expect.closeTo(canary.value, 12) });
    expect(canary.value).toBe(1);
    expect(primary.value).toBeLessThan(0.9);

    const loss = await figuresOf({ metric: "log_loss" });
    expect(loss.primary!.value).toBeCloseTo(countedLogLoss(1), 9);
    expect(loss.canary!.value).toBeCloseTo(countedLogLoss(2), 9);
    expect(loss.canary!.value!).toBeLessThan(loss.primary!.value!);
  });

  it("answers null for an arm with no rows in the span", async () => {
    const figures = await figuresOf({ canaryVersion: 3, metric: "f1_macro" });
    expect(figures.canary).toBeNull();
    expect(figures.primary).toMatchObject({
      version: 1,
      rows: counted(1).rows,
      labelled: counted(1).labelled,
    });
    // Before the traffic: neither arm answered anything.
    const empty = await figuresOf({ since: since - 60_000, until: since - 50_000 });
    expect(empty).toEqual({ primary: null, canary: null });
  });

  it("refuses a metric the task does not grade, a backwards span, a Triton target and a missing token, saying what to do", async () => {
    await expect(figuresOf({ metric: "rmse" })).rejects.toThrow(
      /metric "rmse" is not graded for a binary model; use one of accuracy, f1_macro, log_loss/,
    );
    await expect(figuresOf({ until: since })).rejects.toThrow(CanaryFiguresError);
    await expect(figuresOf({ until: since })).rejects.toThrow(/must end after it starts/);
    await expect(figuresOf({ canaryVersion: 1.5 })).rejects.toThrow(
      /the canary's version must be a version number \(1, 2, …\), got 1\.5/,
    );
    await expect(
      figuresOf({
        tokens: {
          env: {},
          platform: "aix",
          run: () => {
            throw new Error("none");
          },
        },
      }),
    ).rejects.toThrow(/the inference log of local:m: .*401.*needs the target's token/);
    const tri = createDeployProject();
    try {
      writeFileSync(
        join(tri.dir, "dagwood.json"),
        JSON.stringify({ targets: { tri: { url: "http://127.0.0.1:9", kind: "triton" } } }),
      );
      await expect(figuresOf({ dir: tri.dir, metadata: tri.metadata, target: "tri" })).rejects.toThrow(
        /target "tri" is a Triton server, which keeps no inference log/,
      );
    } finally {
      tri.close();
    }
  });
});

describe("canaryFigures on another machine of a shared store", () => {
  it("fetches the canary version's files from the artifact location before reading its classes (log loss as counted)", async () => {
    const root = mkdtempSync(join(tmpdir(), "dagwood-canary-shared-"));
    const shared = join(root, "share");
    const machineB = join(root, "b");
    mkdirSync(shared);
    mkdirSync(join(machineB, ".dagwood"), { recursive: true });
    const settingsOfB = (artifacts: boolean) =>
      writeFileSync(
        join(machineB, "dagwood.json"),
        JSON.stringify({
          targets: { local: { url, kind: "dagwood" } },
          ...(artifacts ? { artifacts: { kind: "folder", path: shared } } : {}),
        }),
      );
    // v2 registered again on machine A once the project has a shared folder: its files are uploaded.
    const location = openArtifactLocation({ kind: "folder", path: shared }, project.dir);
    const v2 = await shareTestVersion(project.registry, project.dir, location, "m", 2);
    // Machine B: another checkout on the same store, with none of the registry's files.
    const storeB = new SqliteMetadataStore(join(project.dir, ".dagwood", "metadata.sqlite"), {
      projectDir: machineB,
    });
    const nativeOnB = join(machineB, v2.nativePath);
    // A target that does not tell its classes (its model metadata is refused): only the model file names them.
    const noMetadata: typeof fetch = (input, init) =>
      /\/v2\/models\/m$/.test(String(input))
        ? Promise.resolve(new Response("{}", { status: 404 }))
        : fetch(input, init);
    const onB = (over: Partial<Parameters<typeof canaryFigures>[0]> = {}) =>
      canaryFigures({
        dir: machineB,
        metadata: storeB,
        target: "local",
        model: "m",
        canaryVersion: 2,
        since,
        until,
        metric: "log_loss",
        task: "binary",
        tokens,
        fetch: noMetadata,
        ...over,
      });
    try {
      // Without the location in its dagwood.json, machine B cannot get the classes: it says what to do.
      settingsOfB(false);
      const refused = await onB().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CanaryFiguresError);
      expect((refused as Error).message).toMatch(
        /class names of the canary's model: m v2 was registered with its files in folder .*this machine lacks model\.json.*Set "artifacts"/,
      );
      expect(existsSync(nativeOnB)).toBe(false);

      settingsOfB(true);
      const loss = await onB();
      // Log loss needs the probabilities named by the model's classes: graded on both arms, as counted.
      expect(loss.canary!.value).toBeCloseTo(countedLogLoss(2), 9);
      expect(loss.primary!.value).toBeCloseTo(countedLogLoss(1), 9);
      expect(readFileSync(nativeOnB, "utf8")).toBe(readFileSync(join(project.dir, v2.nativePath), "utf8"));
      expect(existsSync(join(dirname(nativeOnB), "model.onnx"))).toBe(true);
    } finally {
      storeB.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
