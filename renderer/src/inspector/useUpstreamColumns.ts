/**
 * The columns of the table feeding a node, when a run has produced it: the
 * column pickers offer them. Table names are content-addressed, so a table's
 * columns never change and are asked for once.
 */
import { useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { splitEndpoint } from "../document/endpoints";
import { useEditor } from "../store/editor";
import { type NodeOutputs, useRun } from "../store/run";
import type { EdgeDoc } from "../store/types";

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

/** The workspace table on a node's first connected input whose source has produced a table. */
function upstreamTable(
  edges: EdgeDoc[],
  outputs: Record<string, NodeOutputs>,
  nodeId: string,
): string | undefined {
  for (const e of edges) {
    if (splitEndpoint(e.to).node !== nodeId) continue;
    const from = splitEndpoint(e.from);
    const table = outputs[from.node]?.outputs[from.port]?.table;
    if (table) return table;
  }
  return undefined;
}

export function useUpstreamColumns(nodeId: string): string[] | undefined {
  const edges = useEditor((s) => s.document?.edges);
  const outputs = useRun((s) => s.outputs);
  const table = useMemo(() => upstreamTable(edges ?? [], outputs, nodeId), [edges, outputs, nodeId]);
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
  return columns && columns.table === table ? columns.names : undefined;
}
