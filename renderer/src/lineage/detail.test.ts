import { describe, expect, it } from "vitest";
import type { LineageGraph } from "../../../app/api/api";
import { aliasesOf, canaryText, gateText, humanize, metricFacts, nodeFacts, SHORT_HASH } from "./detail";

const DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const graph: LineageGraph = {
  nodes: [
    {
      id: `dataset:${DIGEST}`,
      kind: "dataset",
      label: "penguins.csv",
      detail: { source: "data/penguins.csv", digest: DIGEST, rows: 1344, columns: 7, fingerprint: "ab12" },
    },
    {
      id: "run:20261126T170221-a1b2c3",
      kind: "run",
      label: "penguins · 20261126T170221-a1b2c3",
      detail: {
        runId: "20261126T170221-a1b2c3",
        pipeline: "penguins",
        pipelineHash: DIGEST,
        startedAt: "2026-11-26T17:02:21Z",
        user: "ana",
        status: "succeeded",
      },
    },
    {
      id: "model:penguins:v2",
      kind: "modelVersion",
      label: "penguins v2",
      detail: {
        name: "penguins",
        version: 2,
        status: "ready",
        aliases: ["champion"],
        estimator: "gbdt",
        task: "classification",
        createdAt: "2026-11-26T17:03:00Z",
        createdBy: "ana",
        nodeId: "gbdt",
        metrics: { accuracy: 0.95, f1_macro: 0.94 },
      },
    },
    {
      id: "deployment:7",
      kind: "deployment",
      label: "succeeded → local",
      detail: {
        target: "local",
        ms: 1830,
        parity: {
          passed: true,
          maxAbsDiff: 0,
          rows: 86,
          source: "heldout",
          tolerance: 1e-5,
          labelMismatches: 0,
        },
        action: "deployment.succeeded",
        version: 2,
      },
    },
  ],
  edges: [
    { from: `dataset:${DIGEST}`, to: "run:20261126T170221-a1b2c3" },
    { from: "run:20261126T170221-a1b2c3", to: "model:penguins:v2" },
    { from: "model:penguins:v2", to: "deployment:7" },
  ],
};
const node = (id: string) => graph.nodes.find((n) => n.id === id)!;
const labels = (id: string) => nodeFacts(node(id), graph).map((f) => f.label);

describe("lineage facts", () => {
  it("labels keys in words, never camelCase", () => {
    for (const n of graph.nodes) {
      for (const label of labels(n.id)) expect(label).not.toMatch(/[a-z][A-Z]/);
    }
    expect(labels(`dataset:${DIGEST}`)).toEqual(
      expect.arrayContaining(["File", "Content hash (sha256)", "Rows", "Read by runs"]),
    );
    expect(humanize("reachableMs")).toBe("Reachable ms");
    expect(humanize("some_key")).toBe("Some key");
  });

  it("shows a hash by its first 12 characters and keeps the whole one to copy", () => {
    const digest = nodeFacts(node(`dataset:${DIGEST}`), graph).find(
      (f) => f.label === "Content hash (sha256)",
    );
    expect(digest).toEqual({
      label: "Content hash (sha256)",
      kind: "hash",
      text: DIGEST.slice(0, 12),
      full: DIGEST,
    });
    expect(SHORT_HASH).toBe(12);
    // A short value that only looks like hex is not cut.
    const fp = nodeFacts(node(`dataset:${DIGEST}`), graph).find((f) => f.label === "Table fingerprint");
    expect(fp).toMatchObject({ kind: "text", text: "ab12" });
  });

  it("names a version's run and datasets from the graph, with its aliases", () => {
    const facts = nodeFacts(node("model:penguins:v2"), graph);
    expect(facts[0]).toEqual({
      label: "Trained by run",
      kind: "nodes",
      nodes: [{ id: "run:20261126T170221-a1b2c3", label: "penguins · 170221-a1b2c3" }],
    });
    expect(facts[1]).toMatchObject({ label: "Datasets", nodes: [{ label: "penguins.csv" }] });
    expect(facts.find((f) => f.label === "Aliases")).toMatchObject({ text: "champion" });
    expect(facts.find((f) => f.label === "Version")).toMatchObject({ text: "v2" });
    expect(facts.find((f) => f.label === "Deployments")).toMatchObject({ nodes: [{ id: "deployment:7" }] });
    expect(aliasesOf(node("model:penguins:v2"))).toEqual(["champion"]);
    expect(metricFacts(node("model:penguins:v2")).map((m) => m.key)).toEqual(["accuracy", "f1_macro"]);
  });

  it("reads a deployment: its outcome, time taken and parity", () => {
    const facts = nodeFacts(node("deployment:7"), graph);
    expect(facts.find((f) => f.label === "Outcome")).toMatchObject({ text: "succeeded" });
    expect(facts.find((f) => f.label === "Time taken")).toMatchObject({ text: "1.8 s" });
    expect(facts.find((f) => f.label === "Parity")).toMatchObject({
      text: expect.stringContaining("86 held-out rows"),
    });
  });

  it("links a run id to the run", () => {
    expect(nodeFacts(node("run:20261126T170221-a1b2c3"), graph).find((f) => f.label === "Run")).toEqual({
      label: "Run",
      kind: "run",
      text: "170221-a1b2c3",
      runId: "20261126T170221-a1b2c3",
    });
  });
});

describe("lineage facts of the retraining loop", () => {
  const RETRAIN = "20261203T120000-bbbbbb";
  const loopGraph: LineageGraph = {
    nodes: [
      {
        id: "model:penguins:v1",
        kind: "modelVersion",
        label: "penguins v1",
        detail: { name: "penguins", version: 1, aliases: [] },
      },
      {
        id: "alert:3",
        kind: "alert",
        label: "alert · penguins-shift",
        // As app/tracking/lineage.ts sends it.
        detail: {
          monitor: "penguins-shift",
          window: { start: "2026-12-03T11:00:00.000Z", end: "2026-12-03T12:00:00.000Z" },
          reasons: ["drift: 3 of 4 columns drifted", "accuracy 0.71 < 0.91 − 0.05"],
          stage: "awaiting-approval",
          outcome: null,
          onBreach: "retrain",
          model: "penguins",
          target: "local",
          champion: 1,
          runId: RETRAIN,
          challenger: 2,
          gate: {
            metric: "accuracy",
            higherIsBetter: true,
            champion: 0.71,
            challenger: 0.93,
            margin: 0.01,
            rows: 40,
            passed: true,
          },
          canary: {
            target: "local",
            version: 2,
            percent: 20,
            since: "2026-12-03T12:10:00.000Z",
            until: "2026-12-03T13:10:00.000Z",
            metric: "accuracy",
            primary: { version: 1, rows: 80, labelled: 60, value: 0.7 },
            canary: { version: 2, rows: 20, labelled: 15, value: 0.9333 },
            held: true,
          },
          status: "open",
          at: "2026-12-03T12:00:05.000Z",
          updatedAt: "2026-12-03T12:05:00.000Z",
          loop: 3,
          auditId: 41,
        },
      },
      {
        id: `run:${RETRAIN}`,
        kind: "run",
        label: `penguins-retrain · ${RETRAIN}`,
        detail: { runId: RETRAIN, pipeline: "penguins-retrain", status: "succeeded" },
      },
      {
        id: "model:penguins:v2",
        kind: "modelVersion",
        label: "penguins v2",
        detail: { name: "penguins", version: 2, aliases: ["champion"] },
      },
      {
        id: "deployment:50",
        kind: "deployment",
        label: "canary 20% → local",
        detail: { target: "local", percent: 20, previous: 1, action: "deployment.canary", version: 2 },
      },
      {
        id: "deployment:51",
        kind: "deployment",
        label: "canary promoted → local",
        detail: {
          target: "local",
          previous: 1,
          operation: "promote",
          outcome: "promoted",
          action: "deployment.canaryEnded",
          version: 2,
        },
      },
    ],
    edges: [
      { from: "model:penguins:v1", to: "alert:3" },
      { from: "alert:3", to: `run:${RETRAIN}` },
      { from: `run:${RETRAIN}`, to: "model:penguins:v2" },
      { from: "model:penguins:v2", to: "deployment:50" },
      { from: "model:penguins:v2", to: "deployment:51" },
    ],
  };
  const at = (id: string) => loopGraph.nodes.find((n) => n.id === id)!;
  const fact = (id: string, label: string) => nodeFacts(at(id), loopGraph).find((f) => f.label === label);

  it("reads an alert in words: its version and run linked, window, reasons, stage, gate and canary", () => {
    const facts = nodeFacts(at("alert:3"), loopGraph);
    const labels = facts.map((f) => f.label);
    for (const label of labels) expect(label).not.toMatch(/[a-z][A-Z]/);
    // Each label once (the pane keys its lines by label).
    expect(new Set(labels).size).toBe(labels.length);
    expect(facts.slice(0, 3)).toEqual([
      {
        label: "Raised on version",
        kind: "nodes",
        nodes: [{ id: "model:penguins:v1", label: "penguins v1" }],
      },
      {
        label: "Retraining run",
        kind: "nodes",
        nodes: [{ id: `run:${RETRAIN}`, label: "penguins-retrain · 120000-bbbbbb" }],
      },
      { label: "Challenger", kind: "nodes", nodes: [{ id: "model:penguins:v2", label: "penguins v2" }] },
    ]);
    // Said by the links: not again as bare values.
    expect(labels).not.toContain("Run");
    expect(labels).not.toContain("Champion then");
    expect(fact("alert:3", "Monitor")).toMatchObject({ text: "penguins-shift" });
    expect(fact("alert:3", "Why")).toMatchObject({
      text: "drift: 3 of 4 columns drifted; accuracy 0.71 < 0.91 − 0.05",
    });
    expect(fact("alert:3", "Stage")).toMatchObject({ text: "awaiting approval" });
    expect(fact("alert:3", "Outcome")).toMatchObject({ text: "—" });
    expect(fact("alert:3", "On breach")).toMatchObject({ text: "retrain" });
    expect(fact("alert:3", "Alert")).toMatchObject({ text: "open" });
    expect(fact("alert:3", "Loop")).toMatchObject({ text: "#3" });
    expect(fact("alert:3", "Audit entry")).toMatchObject({ text: "#41" });
    expect(fact("alert:3", "Gate")).toMatchObject({
      text: "accuracy: challenger 0.93 vs champion 0.71 on 40 labelled rows (margin 0.01): passed",
    });
    const canary = fact("alert:3", "Canary");
    expect(canary).toMatchObject({
      text: expect.stringMatching(/^v2 took 20 % of local from .+ to .+: held/),
    });
    expect((canary as { text: string }).text).toMatch(/\(accuracy 0\.9333 vs 0\.7\)$/);
    const window = fact("alert:3", "Window") as { text: string };
    expect(window.text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d – \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it("names the alerts of a version and the alert that started a run", () => {
    expect(fact("model:penguins:v1", "Alerts")).toEqual({
      label: "Alerts",
      kind: "nodes",
      nodes: [{ id: "alert:3", label: "alert · penguins-shift" }],
    });
    expect(fact(`run:${RETRAIN}`, "Started by alert")).toMatchObject({ nodes: [{ id: "alert:3" }] });
    expect(fact("model:penguins:v2", "Alerts")).toBeUndefined();
  });

  it("shows the run id and champion as values when their nodes are not in the graph", () => {
    const alone: LineageGraph = { nodes: [at("alert:3")], edges: [] };
    const facts = nodeFacts(at("alert:3"), alone);
    expect(facts.find((f) => f.label === "Run")).toMatchObject({ kind: "run", runId: RETRAIN });
    expect(facts.find((f) => f.label === "Champion then")).toMatchObject({ text: "v1" });
    expect(facts.find((f) => f.label === "Challenger")).toMatchObject({ kind: "text", text: "v2" });
    expect(facts.some((f) => f.kind === "nodes")).toBe(false);
  });

  it("reads a canary's deployment entries: its share, and how it ended once", () => {
    expect(fact("deployment:50", "Outcome")).toMatchObject({ text: "canary" });
    expect(fact("deployment:50", "Traffic share")).toMatchObject({ text: "20 %" });
    expect(fact("deployment:50", "Previous version")).toMatchObject({ text: "v1" });
    const ended = nodeFacts(at("deployment:51"), loopGraph);
    expect(ended.filter((f) => f.label === "Outcome")).toEqual([
      { label: "Outcome", kind: "text", text: "canary promoted" },
    ]);
    expect(fact("deployment:51", "Step")).toMatchObject({ text: "promote the canary" });
  });

  it("says a canary is being judged until it is, and a gate that failed", () => {
    expect(
      canaryText({
        target: "local",
        version: 4,
        percent: 10,
        since: "2026-12-03T12:10:00.000Z",
        until: "2026-12-03T13:10:00.000Z",
        metric: "rmse",
        primary: null,
        canary: null,
        held: null,
      }),
    ).toMatch(/^v4 took 10 % of local from .+: being judged$/);
    expect(
      gateText({ metric: "rmse", champion: 1.5, challenger: null, margin: 0, rows: 12, passed: false }),
    ).toBe("rmse: challenger — vs champion 1.5 on 12 labelled rows: failed");
  });
});
