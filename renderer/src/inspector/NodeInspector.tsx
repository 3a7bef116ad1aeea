import { useShallow } from "zustand/react/shallow";
import { NodeChangesNote } from "../changes/NodeChangesNote";
import { setNodeParams } from "../document/ops";
import { useNodeState } from "../graph/nodeState";
import { portColor } from "../graph/ports";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { type NodeWarnings, useRun, warningCount } from "../store/run";
import type { NodeDoc } from "../store/types";
import { useValidation } from "../store/validation";
import { ColumnTagsParam, useDatasetOf } from "./ColumnTagsParam";
import { DATABASE_SOURCE_PARAMS, DatabaseSource } from "./database/DatabaseSource";
import type { JsonSchema } from "./jsonSchema";
import { NodeIdField } from "./NodeIdField";
import { OutputColumns } from "./OutputColumns";
import { SchemaForm } from "./SchemaForm";
import { useUpstreamColumns } from "./useUpstreamColumns";
import "./inspector.css";

function Ports({ title, ports }: { title: string; ports: [string, { type: string; optional?: boolean }][] }) {
  if (!ports.length) return null;
  return (
    <div className="inspector-ports">
      <span className="muted">{title}</span>
      {ports.map(([name, spec]) => (
        <span key={name} className="port-chip" style={{ borderColor: portColor(spec.type) }}>
          {name}
          {spec.optional ? "?" : ""}: <b style={{ color: portColor(spec.type) }}>{spec.type}</b>
        </span>
      ))}
    </div>
  );
}

/**
 * The warnings logged where the node's outputs were computed, in full: the node's badge shows the
 * count and the run log cuts long lines at the panel's width (the date-parts note, a model that did
 * not converge), so the node's own form is where they read whole.
 */
function NodeWarningsNote({ warnings }: { warnings: NodeWarnings }) {
  const messages = [...new Set(warnings.messages)];
  return (
    <div className="inspector-warnings" data-testid="inspector-warnings" role="note">
      <div className="inspector-warnings-head">⚠ {warningCount(warnings.count)}</div>
      <ul>
        {messages.map((m) => (
          <li key={m}>{m}</li>
        ))}
      </ul>
      {warnings.count > warnings.messages.length && (
        <div className="muted small">The others are in the run log.</div>
      )}
    </div>
  );
}

/** The schema without the params a block's own panel draws (it shows their problems too). */
function withoutParams(schema: JsonSchema, names: readonly string[]): JsonSchema {
  const properties = Object.fromEntries(
    Object.entries(schema.properties ?? {}).filter(([k]) => !names.includes(k)),
  );
  return { ...schema, properties, required: schema.required?.filter((k) => !names.includes(k)) };
}

export function NodeInspector({ node }: { node: NodeDoc }) {
  const block = useCatalog((s) => s.byKind.get(node.block));
  const paramNames = useEditor(useShallow((s) => Object.keys(s.document?.params ?? {})));
  const problems = useValidation(useShallow((s) => s.problems.filter((p) => p.nodeId === node.id)));
  const columns = useUpstreamColumns(node.id);
  const { state, run } = useNodeState(node.id);
  const warnings = useRun((s) => s.outputs[node.id]?.warnings);
  const nodeProblems = problems.filter((p) => p.param === undefined || p.param.length === 0);
  // Column tags (privacy): an ingest node's own `columnTags` param gets its own editor below.
  const tagsParam = !!(block?.paramsSchema as JsonSchema | undefined)?.properties?.columnTags;
  const dataset = useDatasetOf(node.block === "ingest.file" ? node.params.path : undefined);
  const ownSchema = useValidation((s) => s.schemas[node.id]);
  const ownColumns = Object.values(ownSchema ?? {}).flatMap((p) => p?.columns.map((c) => c.name) ?? []);
  const ownTable = useRun(
    (s) => Object.values(s.outputs[node.id]?.outputs ?? {}).find((o) => o.table)?.table,
  );
  const tablePorts = block
    ? Object.entries(block.outputs)
        .filter(([, spec]) => spec.type === "table")
        .map(([name]) => name)
    : [];
  const setParams = (params: Record<string, unknown>) => {
    const editor = useEditor.getState();
    // Typing in one field is one undo step.
    if (editor.document)
      editor.commit(setNodeParams(editor.document, node.id, params), { coalesce: `params:${node.id}` });
  };
  return (
    <>
      <div className="inspector-head">
        <div className="inspector-title">{node.label ?? block?.title ?? node.block}</div>
        <div className="muted mono">{node.block}</div>
        <span className={`node-badge badge-${state}`}>{state}</span>
      </div>
      {block?.description && <p className="inspector-desc">{block.description}</p>}
      {run?.error && <div className="inspector-error">{run.error}</div>}
      {run?.reason && (state === "done" || state === "running") && (
        <div className="muted small inspector-reason">Why it ran: {run.reason}</div>
      )}
      {warnings && warnings.count > 0 && <NodeWarningsNote warnings={warnings} />}
      <NodeChangesNote id={node.id} />
      <NodeIdField id={node.id} />
      {block && (
        <>
          <Ports title="in" ports={Object.entries(block.inputs)} />
          <Ports title="out" ports={Object.entries(block.outputs)} />
        </>
      )}
      {nodeProblems.map((p) => (
        <div className="field-message" key={`${p.path}:${p.message}`}>
          {p.message}
        </div>
      ))}
      {/* A database read is chosen from the database's own catalog (its connection, tables, columns). */}
      {block && node.block === "ingest.database" && (
        <>
          <h3 className="inspector-section">Source</h3>
          <DatabaseSource
            nodeId={node.id}
            params={node.params}
            problems={problems}
            onPatch={(changes) => {
              const next = { ...node.params, ...changes };
              for (const [k, v] of Object.entries(changes)) if (v === undefined) delete next[k];
              setParams(next);
            }}
          />
        </>
      )}
      {tagsParam && (
        <>
          <h3 className="inspector-section">Column tags</h3>
          <ColumnTagsParam
            value={node.params.columnTags}
            columns={ownColumns.length ? ownColumns : undefined}
            dataset={dataset}
            table={ownTable}
            onChange={(columnTags) => {
              const next = { ...node.params, columnTags };
              if (columnTags === undefined) delete next.columnTags;
              setParams(next);
            }}
          />
        </>
      )}
      <h3 className="inspector-section">Parameters</h3>
      {block ? (
        <SchemaForm
          schema={
            node.block === "ingest.database" || tagsParam
              ? withoutParams(block.paramsSchema as JsonSchema, [
                  ...(node.block === "ingest.database" ? DATABASE_SOURCE_PARAMS : []),
                  ...(tagsParam ? ["columnTags"] : []),
                ])
              : (block.paramsSchema as JsonSchema)
          }
          value={node.params}
          onChange={setParams}
          problems={problems}
          columns={columns}
          paramNames={paramNames}
        />
      ) : (
        <>
          <p className="muted small">
            This Dagwood does not know the block <b>{node.block}</b>. Its parameters are kept exactly as they
            are and saved unchanged.
          </p>
          <pre className="json-view">{JSON.stringify(node.params, null, 2)}</pre>
        </>
      )}
      <OutputColumns nodeId={node.id} ports={tablePorts} />
    </>
  );
}
