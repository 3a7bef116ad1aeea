/** previewTable and profileTable: pages and profiles of node output tables in the workspace. */
import profileBlock from "../../../nodes/analyze-profile";
import { ident } from "../../data/sql";
import type { BlockContext } from "../../engine/block";
import { currentUser } from "../../engine/environment";
import { parseParams } from "../../engine/execute";
import { hashFile } from "../../engine/files";
import { resolveProjectPath } from "../../engine/paths";
import type { ColumnInfo, TableValue } from "../../engine/ports";
import { standaloneContext } from "../../engine/standalone-context";
import {
  CONFIRM_NEEDED,
  type MaskColumns,
  maskProfile,
  maskRows,
  NO_MASK,
  personalColumns,
  recordUnmasked,
  unconfirmed,
} from "../../privacy/masking";
import type { Project } from "../../project/project";
import { ApiError, type ApiResults } from "../api";
import type { CoreState, Handlers } from "./state";

/** JSON-safe cell values: dates as ISO text, big integers as text, bytes as hex. */
function jsonCell(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(jsonCell);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonCell(x)]));
  return v;
}

async function requireTableValue(p: Project, table: string): Promise<TableValue> {
  if (!(await p.workspace.tableExists(table))) {
    throw new ApiError(404, `No table ${table} in the workspace: run the pipeline again to produce it.`);
  }
  return p.workspace.describeTable(table);
}

/**
 * The personal columns of a node output table, from the columns its cache entry records (the engine
 * carries their tags there, app/engine/execute.ts); none for a table no entry names.
 */
async function personalColumnsOf(p: Project, table: string): Promise<MaskColumns> {
  const quoted = JSON.stringify(table);
  for (const e of await p.workspace.cacheEntries()) {
    if (!e.outputs.includes(quoted)) continue;
    const outputs = JSON.parse(e.outputs) as Record<
      string,
      { type?: string; name?: string; columns?: ColumnInfo[] }
    >;
    for (const v of Object.values(outputs))
      if (v.type === "table" && v.name === table) return personalColumns(v.columns ?? []);
  }
  return NO_MASK;
}

/** A block context for a preview: not a run, so it records nothing and reads no lineage. */
function previewContext(p: Project, sql: BlockContext["sql"]): BlockContext {
  return standaloneContext(sql, p.dir, {
    prefix: "preview",
    runId: "preview",
    nodeId: "preview",
    artifactDir: p.artifactsDir,
    resolvePath: (x) => resolveProjectPath(p.dir, p.allowedDirs, x),
    hashFile: (path) => hashFile(path),
    registry: p.metadata.registry,
  });
}

export function tableHandlers(state: CoreState): Handlers<"previewTable" | "profileTable"> {
  return {
    async previewTable({ table, offset, limit, orderBy, ...unmask }) {
      if (unconfirmed(unmask)) throw new ApiError(400, CONFIRM_NEEDED);
      const p = state.requireProject();
      const t = await requireTableValue(p, table);
      const personal = await personalColumnsOf(p, table);
      if (orderBy && !t.columns.some((c) => c.name === orderBy.column)) {
        throw new ApiError(400, `Cannot sort by "${orderBy.column}": the table has no such column`);
      }
      const sql = await p.workspace.session();
      try {
        // rowid breaks ties, so the pages of a sorted table neither repeat nor skip rows.
        const order = orderBy
          ? ` ORDER BY ${ident(orderBy.column)} ${orderBy.desc ? "DESC" : "ASC"} NULLS LAST, rowid`
          : " ORDER BY rowid";
        const rows = await sql.all(`SELECT * FROM ${ident(table)}${order} LIMIT ${limit} OFFSET ${offset}`);
        const cells = rows.map((r) => jsonCell(r) as Record<string, unknown>);
        const columns = t.columns.map((c) =>
          personal.has(c.name) ? { name: c.name, type: c.type, personal: true as const } : c,
        );
        if (personal.size === 0) return { table, columns, rows: cells, offset, total: t.rows };
        if (unmask.unmasked) {
          recordUnmasked(p.metadata.registry, {
            actor: currentUser(),
            what: "table preview",
            where: "the app",
            columns: [...personal.keys()],
            details: { table, offset, rows: cells.length },
          });
          return { table, columns, rows: cells, offset, total: t.rows };
        }
        // Sorting by a masked column still orders by its real values: the order is the table's, not the masks'.
        return {
          table,
          columns,
          rows: maskRows(cells, personal),
          offset,
          total: t.rows,
          masked: [...personal.keys()],
        };
      } finally {
        sql.close();
      }
    },
    async profileTable({ table }) {
      const p = state.requireProject();
      const input = await requireTableValue(p, table);
      const sql = await p.workspace.session();
      try {
        const out = await profileBlock.run(
          previewContext(p, sql),
          { in: input },
          parseParams(profileBlock, {}) as never,
        );
        // The profile's most frequent values and extremes are values too: masked for personal columns.
        return maskProfile(
          (out.report as { data: ApiResults["profileTable"] }).data,
          await personalColumnsOf(p, table),
        );
      } finally {
        sql.close();
      }
    },
  };
}
