/**
 * The columns of the table feeding a node, for the column pickers: as the
 * core infers them from the document before any run (app/engine/schema.ts),
 * else as a run produced them. Table names are content-addressed, so a run
 * table's columns never change and are asked for once.
 */
import { useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { type NodeOutputs, useRun } from "../store/run";
import { useValidation } from "../store/validation";
import { inferredColumns, tableSources } from "./upstreamSchema";

const columnsByTable = new Map<string, Promise<string[]>>();

function columnsOf(table: string): Promise<string[]> {
  let found = columnsByTable.get(table);
  if (!found) {
    found = api.previewTable({ table, limit: 1 }).then((page) => page.columns.map((c) => c.name));
    // A table dropped from the workspace may come back after a run: do not remember the failure.
    found.catch(() => columnsByTable.delete(table));
    columnsByTable.set(table, found);
  }
  return found;
}

/** The workspace table of the first source a run has produced. */
function runTable(sources: { node: string; port: string }[], outputs: Record<string, NodeOutputs>) {
  for (const s of sources) {
    const table = outputs[s.node]?.outputs[s.port]?.table;
    if (table) return table;
  }
  return undefined;
}

export function useUpstreamColumns(nodeId: string): string[] | undefined {
  const edges = useEditor((s) => s.document?.edges);
  const kind = useEditor((s) => s.document?.nodes.find((n) => n.id === nodeId)?.block);
  const inputs = useCatalog((s) => (kind ? s.byKind.get(kind)?.inputs : undefined));
  const outputs = useRun((s) => s.outputs);
  const schemas = useValidation((s) => s.schemas);
  const sources = useMemo(
    // Without the block (unknown kind), every input is tried.
    () => tableSources(edges ?? [], nodeId, (port) => !inputs || inputs[port]?.type === "table"),
    [edges, nodeId, inputs],
  );
  const inferred = useMemo(() => inferredColumns(sources, schemas), [sources, schemas]);
  // The inferred columns follow the document as edited; a run's table is what an earlier version made.
  const table = inferred && !inferred.open ? undefined : runTable(sources, outputs);
  const [columns, setColumns] = useState<{ table: string; names: string[] }>();
  useEffect(() => {
    if (!table) return;
    let live = true;
    columnsOf(table).then(
      (names) => live && setColumns({ table, names }),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [table]);
  if (table && columns?.table === table) return columns.names;
  return inferred?.names;
}
