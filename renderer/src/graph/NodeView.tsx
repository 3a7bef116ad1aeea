/**
 * One block on the canvas: title, id, kind, typed ports and its state, with
 * its warning count and, once it has outputs, their headline (graph/headline.ts);
 * below COMPACT_BELOW_ZOOM, the same box with its title and handles only.
 * Memoized: it redraws only when its own node, run state, outputs, problems or
 * drawing (full or compact) change.
 */

import { Handle, type NodeProps, Position, type ReactFlowState, useStore } from "@xyflow/react";
import { type MouseEvent, memo } from "react";
import type { PortSpec } from "../../../app/api/api";
import { NodeDiffBadge, useNodeDiff } from "../changes/NodeDiff";
import { useChanges } from "../changes/store";
import { personalColumns, personalTitle } from "../data/tags";
import { type NodeWarnings, useRun, warningCount } from "../store/run";
import { useUi } from "../store/ui";
import { useValidation } from "../store/validation";
import { COMPACT_BELOW_ZOOM, NODE_GEOMETRY, nodeInnerHeight, portRowCenter } from "./geometry";
import { nodeHeadline, shownWarnings, warningTitle } from "./headline";
import { useNodeState } from "./nodeState";
import { portColor } from "./ports";
import type { FlowNode } from "./toFlow";
import "./results.css";
import "../data/tags.css";

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

const isZoomedOut = (s: ReactFlowState) => s.transform[2] < COMPACT_BELOW_ZOOM;

/** The amber count of a node's warnings; a click shows the run log with this node's lines only. */
function WarningBadge({ id, warnings }: { id: string; warnings: NodeWarnings }) {
  const { count, messages } = warnings;
  const openLog = (e: MouseEvent) => {
    // Not a click on the node as well, which would show its output in the drawer instead.
    e.stopPropagation();
    useRun.getState().setLogFilter(id);
    useUi.getState().showTab("log");
  };
  return (
    <button
      type="button"
      className="node-warnings nodrag"
      data-testid={`warnings-${id}`}
      title={warningTitle(count, messages)}
      aria-label={`${warningCount(count)}: show them in the run log`}
      onClick={openLog}
    >
      ⚠ {count.toLocaleString("en-US")}
    </button>
  );
}

interface CompactProps {
  id: string;
  title: string;
  className: string;
  state: string;
  inputs: readonly (readonly [string, PortSpec | undefined])[];
  outputs: readonly (readonly [string, PortSpec | undefined])[];
  problemCount: number;
  /** The full drawing's headline (it has a row for it: the compact box is as tall), drawn large here. */
  headline: string | null;
  /** Warnings counted on the node, shown as a large ⚠ count. */
  warnings: number;
  /** The Changes overlay's mark and the merge conflicts on the node (renderer/src/changes). */
  diff: ReturnType<typeof useNodeDiff>;
  diffCount: number;
}

/** The zoomed-out drawing: the full drawing's box (same height, handles at the same places). */
function CompactNode({
  id,
  title,
  className,
  state,
  inputs,
  outputs,
  problemCount,
  headline,
  warnings,
  diff,
  diffCount,
}: CompactProps) {
  const handle =
    (side: "input" | "output") =>
    ([name, spec]: readonly [string, PortSpec | undefined], i: number) => (
      <Handle
        key={name}
        type={side === "input" ? "target" : "source"}
        position={side === "input" ? Position.Left : Position.Right}
        id={name}
        className="port-handle"
        style={{ background: portColor(spec?.type), top: portRowCenter(i) }}
        data-testid={`handle-${id}-${name}`}
        data-port-type={spec?.type ?? "unknown"}
      />
    );
  return (
    <div
      className={`${className} compact${problemCount > 0 ? " has-problems" : ""}`}
      data-testid={`node-${id}`}
      data-state={state}
      data-diff={diff.kind}
      title={title}
    >
      <div className="node-head">
        <span className="node-title">{title}</span>
        <NodeDiffBadge kind={diff.kind} conflicts={diff.conflicts} count={diffCount} />
      </div>
      {/* The id and port rows' height, inside the border (a 1.5 px border is drawn 1 or 2 px wide);
          in it, large enough to read zoomed out: the node's id, its headline and warning count. */}
      <div
        className="node-compact-body"
        style={{
          height:
            nodeInnerHeight(Math.max(inputs.length, outputs.length)) -
            NODE_GEOMETRY.head +
            (headline !== null ? NODE_GEOMETRY.headline : 0),
        }}
      >
        <span className="node-compact-id">{id}</span>
        {headline !== null && (
          <span className="node-compact-headline" data-testid={`compact-headline-${id}`}>
            {headline}
          </span>
        )}
        {warnings > 0 && <span className="node-compact-warnings">⚠ {warnings}</span>}
      </div>
      {inputs.map(handle("input"))}
      {outputs.map(handle("output"))}
    </div>
  );
}

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
  const diff = useNodeDiff(id);
  const diffCount = useChanges((s) => (s.open ? (s.overlay?.marks.get(id)?.changes.length ?? 0) : 0));
  const className = `node state-${state}${selected ? " selected" : ""}${block ? "" : " unknown"}${diff.className}`;
  const compact = useStore(isZoomedOut);
  const produced = useRun((s) => s.outputs[id]);
  const warned = shownWarnings(state, run, produced);
  // Columns its last outputs carry a personal tag on (pii, sensitive): the node's mark.
  const personal = personalColumns(produced?.outputs);
  const personalMark = (
    <span className="node-personal" data-testid={`personal-${id}`} title={personalTitle(produced?.outputs)}>
      personal data
    </span>
  );
  const headline =
    state === "done" || state === "cached"
      ? nodeHeadline(
          produced?.outputs,
          outputs.map(([name]) => name),
        )
      : null;
  if (compact)
    return (
      <CompactNode
        id={id}
        title={title}
        className={className}
        state={state}
        inputs={inputs}
        outputs={outputs}
        problemCount={problemCount}
        headline={headline?.text ?? null}
        warnings={warned?.count ?? 0}
        diff={diff}
        diffCount={diffCount}
      />
    );
  return (
    <div className={className} data-testid={`node-${id}`} data-state={state} data-diff={diff.kind}>
      <div className="node-head">
        <span className="node-title">{title}</span>
        {warned && <WarningBadge id={id} warnings={warned} />}
        {personal.length > 0 && !headline && personalMark}
        <NodeDiffBadge kind={diff.kind} conflicts={diff.conflicts} count={diffCount} />
        <span className={`node-badge badge-${state}`}>{STATE_LABEL[state]}</span>
      </div>
      <div className="node-sub">
        <span className="node-id" title={id}>
          {id}
        </span>
        <span className="node-kind" title={block ? node.block : "unknown block"}>
          {block ? node.block : "unknown block"}
        </span>
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
      {headline && !personal.length && (
        <div className="node-headline" data-testid={`headline-${id}`} title={headline.title}>
          {headline.text}
        </div>
      )}
      {/* The mark shares the headline's row (the node's height stays as geometry.ts has it). */}
      {headline && personal.length > 0 && (
        <div className="node-headline with-personal">
          <span className="node-headline-text" data-testid={`headline-${id}`} title={headline.title}>
            {headline.text}
          </span>
          {personalMark}
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
