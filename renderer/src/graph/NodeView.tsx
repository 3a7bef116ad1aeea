/** One block on the canvas: title, id, kind, typed ports and its state. Memoized: it redraws only when its own node, run state or problems change. */
import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";
import type { PortSpec } from "../../../app/api/api";
import { useUi } from "../store/ui";
import { useValidation } from "../store/validation";
import { useNodeState } from "./nodeState";
import { portColor } from "./ports";
import type { FlowNode } from "./toFlow";

interface PortRowProps {
  nodeId: string;
  name: string;
  spec: PortSpec | undefined;
  side: "input" | "output";
}

function PortRow({ nodeId, name, spec, side }: PortRowProps) {
  const color = portColor(spec?.type);
  const isInput = side === "input";
  const openOutput = () => useUi.getState().showData(name);
  return (
    <div className={`port port-${side}`}>
      <Handle
        type={isInput ? "target" : "source"}
        position={isInput ? Position.Left : Position.Right}
        id={name}
        className="port-handle"
        style={{ background: color }}
        data-testid={`handle-${nodeId}-${name}`}
        data-port-type={spec?.type ?? "unknown"}
        onClick={isInput ? undefined : openOutput}
        title={`${name}: ${spec?.type ?? "unknown type"}${spec?.optional ? " (optional)" : ""}`}
      />
      <span className="port-name">
        {name}
        {spec?.optional ? "?" : ""}
      </span>
      <span className="port-type" style={{ color }}>
        {spec?.type ?? "?"}
      </span>
    </div>
  );
}

const STATE_LABEL: Record<string, string> = {
  idle: "idle",
  stale: "stale",
  queued: "queued",
  running: "running",
  cached: "cached",
  done: "done",
  failed: "failed",
  skipped: "skipped",
};

function NodeViewImpl({ id, data, selected }: NodeProps<FlowNode>) {
  const { node, block, guessedPorts } = data;
  const { state, run } = useNodeState(id);
  const problemCount = useValidation((s) => s.problems.reduce((n, p) => (p.nodeId === id ? n + 1 : n), 0));
  const inputs = block
    ? Object.entries(block.inputs)
    : (guessedPorts?.inputs ?? []).map((p) => [p, undefined] as const);
  const outputs = block
    ? Object.entries(block.outputs)
    : (guessedPorts?.outputs ?? []).map((p) => [p, undefined] as const);
  const title = node.label ?? block?.title ?? node.block;
  return (
    <div
      className={`node state-${state}${selected ? " selected" : ""}${block ? "" : " unknown"}`}
      data-testid={`node-${id}`}
      data-state={state}
    >
      <div className="node-head">
        <span className="node-title">{title}</span>
        <span className={`node-badge badge-${state}`}>{STATE_LABEL[state]}</span>
      </div>
      <div className="node-sub">
        <span className="node-id">{id}</span>
        <span className="node-kind">{block ? node.block : "unknown block"}</span>
      </div>
      <div className="node-ports">
        <div className="node-inputs">
          {inputs.map(([name, spec]) => (
            <PortRow key={name} nodeId={id} name={name} spec={spec} side="input" />
          ))}
        </div>
        <div className="node-outputs">
          {outputs.map(([name, spec]) => (
            <PortRow key={name} nodeId={id} name={name} spec={spec} side="output" />
          ))}
        </div>
      </div>
      {state === "running" && (
        <div className="node-progress" title={run?.message}>
          <div
            className="node-progress-bar"
            style={{ width: `${Math.round((run?.progress ?? 0) * 100)}%` }}
          />
        </div>
      )}
      {state === "running" && run?.message && <div className="node-message">{run.message}</div>}
      {state === "failed" && run?.error && (
        <div className="node-error" title={run.error}>
          <span>{run.error}</span>
        </div>
      )}
      {problemCount > 0 && (
        <div className="node-problems" title="See the Problems panel">
          {problemCount} problem{problemCount > 1 ? "s" : ""}
        </div>
      )}
    </div>
  );
}

export const NodeView = memo(NodeViewImpl);
