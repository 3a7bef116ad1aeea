/** The selected node's outputs: a table (rows, schema, profile), a report (charts or JSON), or a summary. */
import { useState } from "react";
import { useShallow } from "zustand/react/shallow";
import { useNodeState } from "../graph/nodeState";
import { portColor } from "../graph/ports";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { type OutputSummary, useRun } from "../store/run";
import type { NodeState } from "../store/types";
import { useUi } from "../store/ui";
import { ModelOutput, ReportOutput, TableProfile } from "./ReportOutput";
import { SchemaList, TableView } from "./TableView";

type TableTab = "rows" | "schema" | "profile";

/** A table output's caption: the node and port it comes from (the engine's table name means nothing to a user), and its size. */
function tableCaption(nodeId: string, port: string, rows: number | undefined): string {
  return `${nodeId} · ${port}${rows === undefined ? "" : ` · ${rows.toLocaleString()} rows`}`;
}

function TableOutput({ table, caption }: { table: string; caption: string }) {
  const [tab, setTab] = useState<TableTab>("rows");
  return (
    <div className="table-output">
      <div className="subtabs">
        {(["rows", "schema", "profile"] as const).map((t) => (
          <button
            type="button"
            key={t}
            className={`subtab${tab === t ? " active" : ""}`}
            data-testid={`data-tab-${t}`}
            onClick={() => setTab(t)}
          >
            {t === "rows" ? "Rows" : t === "schema" ? "Schema" : "Profile"}
          </button>
        ))}
        <span className="mono muted small table-name" data-testid="table-caption" title={caption}>
          {caption}
        </span>
      </div>
      {tab === "rows" && <TableView table={table} />}
      {tab === "schema" && <SchemaList table={table} />}
      {tab === "profile" && <TableProfile table={table} />}
    </div>
  );
}

const NO_OUTPUT: Partial<Record<NodeState, string>> = {
  idle: "No output yet. Run the pipeline (or select this node and use Run to here) to produce it.",
  failed: "This node failed, so it has no output: its error is in the inspector and the run log.",
  skipped: "This node was skipped because a node upstream failed.",
  queued: "Waiting for its turn in the run…",
  running: "Running…",
};

function portLabel(summary: OutputSummary | undefined): string {
  if (!summary) return "";
  if (summary.type === "table" && summary.rows !== undefined)
    return ` · ${summary.rows.toLocaleString()} rows`;
  return "";
}

function NodeData({ nodeId }: { nodeId: string }) {
  const node = useEditor((s) => s.document?.nodes.find((n) => n.id === nodeId));
  const block = useCatalog((s) => (node ? s.byKind.get(node.block) : undefined));
  const produced = useRun((s) => s.outputs[nodeId]);
  const { state } = useNodeState(nodeId);
  const wanted = useUi((s) => s.dataPort);
  const ports = Object.keys(block?.outputs ?? produced?.outputs ?? {});
  const port = wanted && ports.includes(wanted) ? wanted : ports[0];
  if (!ports.length || !port) return <p className="muted panel-empty">{nodeId} has no outputs.</p>;
  const summary = produced?.outputs[port];
  return (
    <div className="node-data">
      <div className="port-tabs">
        <span className="mono node-data-id">{nodeId}</span>
        {ports.map((p) => {
          const type = block?.outputs[p]?.type ?? produced?.outputs[p]?.type;
          return (
            <button
              type="button"
              key={p}
              className={`port-tab${p === port ? " active" : ""}`}
              data-testid={`data-port-${p}`}
              onClick={() => useUi.getState().showData(p)}
            >
              <span className="port-dot" style={{ background: portColor(type) }} />
              {p}
              <span className="muted">
                {" "}
                {type}
                {portLabel(produced?.outputs[p])}
              </span>
            </button>
          );
        })}
        {produced && (state === "stale" || state === "idle") && (
          <span className="stale-note">
            From an earlier run: the node has changed since. Run it to refresh.
          </span>
        )}
      </div>
      {!summary || !produced ? (
        <p className="muted panel-empty">{NO_OUTPUT[state] ?? NO_OUTPUT.idle}</p>
      ) : summary.type === "table" && summary.table ? (
        <TableOutput
          key={summary.table}
          table={summary.table}
          caption={tableCaption(nodeId, port, summary.rows)}
        />
      ) : summary.type === "report" ? (
        <ReportOutput runId={produced.runId} nodeId={nodeId} port={port} />
      ) : summary.type === "model" ? (
        <ModelOutput runId={produced.runId} nodeId={nodeId} port={port} />
      ) : (
        <pre className="json-view">{JSON.stringify(summary, null, 2)}</pre>
      )}
    </div>
  );
}

export function DataDrawer() {
  const selected = useEditor(useShallow((s) => [...s.selection.nodes]));
  return (
    <div className="data-drawer" data-testid="data-drawer">
      {selected.length === 1 ? (
        <NodeData nodeId={selected[0]!} />
      ) : (
        <p className="muted panel-empty">
          {selected.length ? "Select a single node" : "Select a node"} to see the data it produced.
        </p>
      )}
    </div>
  );
}
