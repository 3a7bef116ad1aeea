/** previewTable and profileTable: pages and profiles of node output tables in the workspace. */
import profileBlock from "../../../nodes/analyze-profile";
import { ident } from "../../data/sql";
import type { BlockContext } from "../../engine/block";
import { parseParams } from "../../engine/execute";
import { hashFile } from "../../engine/files";
import { resolveProjectPath } from "../../engine/paths";
import type { TableValue } from "../../engine/ports";
import { standaloneContext } from "../../engine/standalone-context";
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
    async previewTable({ table, offset, limit, orderBy }) {
      const p = state.requireProject();
      const t = await requireTableValue(p, table);
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
        return {
          table,
          columns: t.columns,
          rows: rows.map((r) => jsonCell(r) as Record<string, unknown>),
          offset,
          total: t.rows,
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
        return (out.report as { data: ApiResults["profileTable"] }).data;
      } finally {
        sql.close();
      }
    },
  };
}
