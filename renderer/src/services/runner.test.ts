import { beforeEach, describe, expect, it, vi } from "vitest";
import type { RunEvent } from "../../../app/api/api";
import { useExperiments } from "../experiments/store";
import { useEditor } from "../store/editor";
import { useRun } from "../store/run";
import type { PipelineDocument } from "../store/types";

/** The engine's event stream, driven by the test. */
const stream = vi.hoisted(() => ({ listener: (_e: unknown): void => undefined }));
vi.mock("../api/client", () => ({
  api: {
    onEvent(listener: (e: unknown) => void) {
      stream.listener = listener;
      return () => undefined;
    },
  },
}));

const { subscribeToRunEvents } = await import("./runner");
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
