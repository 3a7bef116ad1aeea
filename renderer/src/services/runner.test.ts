import { beforeEach, describe, expect, it, vi } from "vitest";
import type { RunEvent } from "../../../app/api/api";
import { useExperiments } from "../experiments/store";
import { useEditor } from "../store/editor";
import { useFullRefresh } from "../store/fullRefresh";
import { useRun } from "../store/run";
import type { PipelineDocument } from "../store/types";

/** The engine's event stream, driven by the test. */
const stream = vi.hoisted(() => ({
  listener: (_e: unknown): void => undefined,
  started: [] as Record<string, unknown>[],
}));
vi.mock("../api/client", () => ({
  api: {
    onEvent(listener: (e: unknown) => void) {
      stream.listener = listener;
      return () => undefined;
    },
    async startRun(req: Record<string, unknown>) {
      stream.started.push(req);
      return { runId: `run-${stream.started.length}` };
    },
  },
}));

const { startRun, subscribeToRunEvents } = await import("./runner");
const emit = (e: RunEvent) => stream.listener(e);

const document = (name: string) =>
  ({ format: "dagwood.pipeline/1", name, params: {}, nodes: [], edges: [] }) as unknown as PipelineDocument;

describe("runs started elsewhere (the CLI attached to this engine)", () => {
  beforeEach(() => {
    useRun.setState({ runId: null, status: "idle", nodes: {}, outputs: {}, log: [] });
    useEditor.setState({ document: document("penguins") });
    subscribeToRunEvents();
  });

  it("follows a run of the open pipeline live: node states, then its end", () => {
    emit({ type: "run.started", runId: "cli-1", pipeline: "penguins", nodes: ["a", "b"] });
    expect(useRun.getState()).toMatchObject({ runId: "cli-1", status: "running" });
    expect(useRun.getState().nodes).toEqual({ a: { state: "queued" }, b: { state: "queued" } });
    emit({ type: "node.started", runId: "cli-1", nodeId: "a", block: "split", reason: "new params" });
    expect(useRun.getState().nodes.a?.state).toBe("running");
    emit({
      type: "node.finished",
      runId: "cli-1",
      nodeId: "a",
      block: "split",
      status: "ran",
      ms: 5,
      outputs: {},
    });
    expect(useRun.getState().nodes.a?.state).toBe("done");
    emit({ type: "run.finished", runId: "cli-1", status: "succeeded", ms: 9 });
    expect(useRun.getState().status).toBe("succeeded");
  });

  it("leaves the editor's own run alone, and a run of another pipeline only refreshes Experiments when it ends", () => {
    useRun.setState({ runId: "mine", status: "running", nodes: { x: { state: "running" } } });
    emit({ type: "run.started", runId: "cli-2", pipeline: "penguins", nodes: ["a"] });
    expect(useRun.getState()).toMatchObject({
      runId: "mine",
      status: "running",
      nodes: { x: { state: "running" } },
    });

    useRun.setState({ runId: null, status: "idle", nodes: {} });
    const before = useExperiments.getState().revision;
    emit({ type: "run.started", runId: "cli-3", pipeline: "flights", nodes: ["a"] });
    expect(useRun.getState()).toMatchObject({ runId: null, status: "idle", nodes: {} });
    emit({ type: "run.finished", runId: "cli-3", status: "failed", ms: 1 });
    expect(useRun.getState().status).toBe("idle");
    expect(useExperiments.getState().revision).toBe(before + 1);
  });
});

describe("a full refresh armed in the inspector", () => {
  const withNodes = {
    ...document("shop"),
    nodes: [
      { id: "db", block: "ingest.database", params: {} },
      { id: "other", block: "split", params: {} },
    ],
  } as unknown as PipelineDocument;
  const finished = (runId: string, nodeId: string, status: "ran" | "failed" | "cached"): RunEvent => ({
    type: "node.finished",
    runId,
    nodeId,
    block: "ingest.database",
    status,
    ms: 1,
    outputs: {},
  });

  beforeEach(() => {
    stream.started.length = 0;
    useRun.setState({ runId: null, status: "idle", nodes: {}, outputs: {}, log: [] });
    useEditor.setState({ document: withNodes, path: "shop.dag.json" });
    useFullRefresh.setState({ armed: [] });
    subscribeToRunEvents();
  });

  it("goes with the next run as an option (the document unchanged), and is done once that run ran the node", async () => {
    useFullRefresh.getState().arm("db");
    useFullRefresh.getState().arm("gone"); // a node since deleted is not sent
    await startRun();
    expect(stream.started).toHaveLength(1);
    expect(stream.started[0]!.fullRefresh).toEqual(["db"]);
    expect(stream.started[0]!.document).toBe(withNodes);
    emit(finished("run-1", "db", "ran"));
    expect(useFullRefresh.getState().armed).toEqual(["gone"]);
    emit({ type: "run.finished", runId: "run-1", status: "succeeded", ms: 2 });
    await startRun();
    expect(stream.started[1]).not.toHaveProperty("fullRefresh");
  });

  it("stays armed when the node failed, or for another run's events", async () => {
    useFullRefresh.getState().arm("db");
    await startRun();
    emit(finished("someone-else", "db", "ran"));
    emit(finished("run-1", "db", "failed"));
    expect(useFullRefresh.getState().armed).toEqual(["db"]);
  });
});
