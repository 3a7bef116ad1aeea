/**
 * `dagwood privacy scan <file or table>`: what personal data a data file or a
 * workspace table holds (app/privacy/scan.ts), read as `dagwood expect run
 * --data` reads it: a file with ingest.file's own reading in a private DuckDB,
 * a workspace table (t_…) from the project's workspace.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_SCAN_SEED, sampleLine, scanTable } from "../privacy/scan";
import type { ScanReport } from "../privacy/types";
import { EXIT, type Io, parse, UsageError } from "./args";
import { InputError, TABLE_NAME, withDataFile, withWorkspaceTable } from "./expect";
import { renderTable, toJson } from "./format";

/** A whole number ≥ min from an option's text, or a usage error naming the option. */
function wholeNumber(option: string, text: unknown, min: number, example: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(String(text)) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${option} takes a whole number ≥ ${min}, e.g. ${option} ${example}; got ${text}`);
  return n;
}

/** dagwood.json's privacy.scanSample of the project (the default when there is none). */
async function defaultSample(projectOpt: unknown): Promise<number> {
  const { findProjectDir, readProjectSettings } = await import("../project/project");
  const dir = projectOpt ? resolve(projectOpt as string) : findProjectDir(join(process.cwd(), "_"));
  try {
    return readProjectSettings(dir).privacy.scanSample;
  } catch (e) {
    throw new InputError(
      `${(e as Error).message}\n(privacy scan reads privacy.scanSample there; or pass --sample N)`,
    );
  }
}

const percent = (share: number) => {
  const p = share * 100;
  return `${p === 100 || p === 0 ? p.toFixed(0) : p >= 99.95 ? "99.9" : p < 0.05 ? "<0.1" : p.toFixed(1)} %`;
};

/** The report as a table: one line per column and kind, then the columns with nothing found, then the sample. */
export function renderScan(report: ScanReport): string {
  const rows: string[][] = [];
  for (const c of report.columns)
    for (const k of c.kinds)
      rows.push([c.column, k.kind, k.by === "name" ? "by name" : percent(k.share), k.examples.join(", ")]);
  const clean = report.columns.filter((c) => c.kinds.length === 0).map((c) => c.column);
  const found = report.columns.length - clean.length;
  const lines = [`Personal data in ${report.source}: ${found} of ${report.columns.length} columns`, ""];
  if (rows.length)
    lines.push(renderTable(["column", "kind", "share", "examples (masked)"], rows, new Set([2])), "");
  if (clean.length) lines.push(`Nothing found in: ${clean.join(", ")}`);
  lines.push(sampleLine(report), "");
  return lines.join("\n");
}

export async function privacyScanCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    json: { type: "boolean" },
    sample: { type: "string" },
    seed: { type: "string" },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      `privacy scan takes one data file or workspace table, e.g. dagwood privacy scan data/customers.csv${positionals.length ? ` (got ${positionals.join(" ")})` : ""}`,
    );
  const data = positionals[0]!;
  const given = wholeNumber("--sample", values.sample, 1, "10000");
  const seed = wholeNumber("--seed", values.seed, 0, "42");
  try {
    const sampleSize = given ?? (await defaultSample(values.project));
    const scan = (sql: Parameters<typeof scanTable>[0], table: Parameters<typeof scanTable>[1]) =>
      scanTable(sql, table, { sampleSize, seed: seed ?? DEFAULT_SCAN_SEED, source: data });
    const asTable = TABLE_NAME.test(data) && !existsSync(resolve(data));
    if (!asTable && !existsSync(resolve(data)))
      throw new InputError(
        `No file ${data} (looked in ${process.cwd()}). Give a CSV, TSV, Parquet, JSON or NDJSON file, or a node output table (t_…) of the project.`,
      );
    const outcome = asTable
      ? await withWorkspaceTable(io, values.project, data, scan)
      : await withDataFile(data, (sql, table) => scan(sql, table));
    if (typeof outcome === "number") return outcome;
    io.stdout.write(values.json ? toJson(outcome) : renderScan(outcome));
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
}
