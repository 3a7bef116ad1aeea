/** The run store's warnings: counted per node from the event stream, kept when the node finishes, totalled for the run. */
import { beforeEach, describe, expect, it } from "vitest";
import type { RunEvent } from "../../../app/api/api";
import { runOutcome, useRun, WARNING_MESSAGES } from "./run";

const R = "run-1";
const apply = (e: RunEvent) => useRun.getState().apply(e);
const warn = (nodeId: string, message: string): RunEvent => ({
  type: "node.log",
  runId: R,
  nodeId,
  level: "warn",
  message,
});
const finished = (nodeId: string, status: "ran" | "cached" | "failed", warnings?: number): RunEvent => ({
  type: "node.finished",
  runId: R,
  nodeId,
  block: "train.logistic",
  status,
  ms: 5,
  outputs: {},
  ...(warnings !== undefined ? { warnings } : {}),
});

describe("run store: warnings", () => {
  beforeEach(() => {
    useRun.setState({
      runId: null,
      status: "idle",
      nodes: {},
      outputs: {},
      log: [],
      warnings: 0,
      logFilter: "old",
    });
    useRun.getState().starting();
    useRun.getState().begin(R);
    apply({ type: "run.started", runId: R, pipeline: "p", nodes: ["logistic", "split", "cachedModel"] });
  });

  it("a warning about the run itself (a deprecated pipeline) is in the log, with no node, and counts", () => {
    const message = 'Pipeline "p" is deprecated: superseded. Use pipelines/q.dag.json instead.';
    apply({ type: "run.warning", runId: R, message });
    expect(useRun.getState().log.at(-1)).toMatchObject({ level: "warn", message });
    expect(useRun.getState().log.at(-1)!.nodeId).toBeUndefined();
    expect(useRun.getState().warnings).toBe(1);
    expect(useRun.getState().nodes.logistic).toEqual({ state: "queued" });
    apply({ type: "run.finished", runId: R, status: "succeeded", ms: 9, warnings: 1 });
    expect(useRun.getState().warnings).toBe(1);
  });

  it("a node that warned while it ran keeps its count and messages once done; the run totals them", () => {
    expect(useRun.getState().logFilter).toBeNull();
    apply({
      type: "node.started",
      runId: R,
      nodeId: "logistic",
      block: "train.logistic",
      reason: "first run",
    });
    apply({ type: "node.log", runId: R, nodeId: "logistic", level: "info", message: "Fitted" });
    apply(warn("logistic", "Logistic regression did not converge"));
    expect(useRun.getState().nodes.logistic).toMatchObject({ state: "running", warnings: 1 });
    expect(useRun.getState().warnings).toBe(1);
    apply(finished("logistic", "ran", 1));
    apply({ type: "node.started", runId: R, nodeId: "split", block: "split", reason: "first run" });
    apply(finished("split", "ran"));
    const { nodes } = useRun.getState();
    expect(nodes.logistic).toMatchObject({
      state: "done",
      warnings: 1,
      warningMessages: ["Logistic regression did not converge"],
    });
    expect(nodes.split?.warnings).toBeUndefined();
    // The outputs keep their warnings: the node shows them for as long as it shows those outputs.
    expect(useRun.getState().outputs.logistic?.warnings).toEqual({
      count: 1,
      messages: ["Logistic regression did not converge"],
    });
    expect(useRun.getState().outputs.split?.warnings).toBeUndefined();

    apply({ type: "run.finished", runId: R, status: "succeeded", ms: 9500, warnings: 1 });
    const s = useRun.getState();
    expect(s.status).toBe("succeeded");
    expect(s.warnings).toBe(1);
    expect(s.ms).toBe(9500);
    // The finished nodes keep their warnings after the run; the log's last line says it.
    expect(s.nodes.logistic?.warnings).toBe(1);
    expect(s.log.at(-1)).toMatchObject({ level: "warn", message: "Run succeeded with 1 warning in 9500 ms" });
  });

  it("a cached node counts the warnings repeated from the run that computed it", () => {
    apply(warn("cachedModel", "(cached) did not converge"));
    apply(finished("cachedModel", "cached", 1));
    expect(useRun.getState().nodes.cachedModel).toMatchObject({
      state: "cached",
      warnings: 1,
      warningMessages: ["(cached) did not converge"],
    });
  });

  it("keeps the first messages only, but counts them all (the engine's count wins)", () => {
    for (let i = 0; i < WARNING_MESSAGES + 3; i++) apply(warn("logistic", `w${i}`));
    apply(finished("logistic", "failed", WARNING_MESSAGES + 3));
    const n = useRun.getState().nodes.logistic!;
    expect(n.state).toBe("failed");
    expect(n.warnings).toBe(WARNING_MESSAGES + 3);
    expect(n.warningMessages).toEqual(Array.from({ length: WARNING_MESSAGES }, (_, i) => `w${i}`));
  });

  it("a run's events without counts (an older engine) still count the warn lines", () => {
    apply(warn("logistic", "w"));
    apply(finished("logistic", "ran"));
    apply({ type: "run.finished", runId: R, status: "succeeded", ms: 1 });
    expect(useRun.getState().nodes.logistic?.warnings).toBe(1);
    expect(useRun.getState().warnings).toBe(1);
  });

  it("a new run starts at no warnings; the log filter is set, cleared by Clear", () => {
    apply(warn("logistic", "w"));
    useRun.getState().setLogFilter("logistic");
    expect(useRun.getState().logFilter).toBe("logistic");
    useRun.getState().clearLog();
    expect(useRun.getState().logFilter).toBeNull();
    useRun.getState().starting();
    useRun.getState().begin("run-2");
    expect(useRun.getState().warnings).toBe(0);
    expect(useRun.getState().nodes).toEqual({});
  });

  it("the outcome text", () => {
    expect(runOutcome("succeeded", 0)).toBe("succeeded");
    expect(runOutcome("succeeded", 2)).toBe("succeeded with 2 warnings");
    expect(runOutcome("failed", 1)).toBe("failed with 1 warning");
  });
});
