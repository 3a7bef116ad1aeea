/**
 * `dagwood datasets list|show`: the project's datasets (dagwood.json's
 * entries and the files runs read), their versions, schema changes and test
 * history, through the Api's dataset methods. They open only the metadata
 * store, never DuckDB, so they start fast and work while a run is going.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ApiError, type ApiResults, parseApiArgs } from "../api/api";
import type { DatasetMethod } from "../api/api-methods";
import { createDatasetHandlers } from "../api/handlers/datasets";
import type { MetadataStore } from "../store/types";
import type { DatasetDetail, DatasetSummary, DatasetTest } from "../values/datasets";
import { EXIT, type Io, parse, runSubcommand, type Subcommands, UsageError } from "./args";
import { formatTime, renderTable, toJson } from "./format";

type Call = <M extends DatasetMethod>(method: M, args: unknown) => Promise<ApiResults[M]>;

/**
 * Runs `fn` with the dataset methods over the project's store; a project
 * no run has used yet gets an empty in-memory store, so its dagwood.json
 * datasets still list (with no versions).
 */
async function withDatasets(
  io: Io,
  projectOpt: unknown,
  fn: (call: Call) => Promise<number>,
): Promise<number> {
  const { findProjectDir } = await import("../project/project");
  const { readProjectSettings } = await import("../project/project");
  const { openProjectStore } = await import("../store/open");
  const { SqliteMetadataStore } = await import("../store/metadata");
  const dir = projectOpt ? resolve(projectOpt as string) : findProjectDir(join(process.cwd(), "_"));
  if (!existsSync(dir)) throw new UsageError(`--project ${projectOpt}: no such folder`);
  const db = join(dir, ".dagwood", "metadata.sqlite");
  let metadata: MetadataStore;
  try {
    // A project without a store yet reads as an empty one (nothing is created).
    metadata =
      openProjectStore(dir, readProjectSettings(dir), { existingOnly: true }) ??
      new SqliteMetadataStore(":memory:", { projectDir: dir });
  } catch (e) {
    io.stderr.write(`Cannot open ${db}: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
  const handlers = createDatasetHandlers(() => ({ dir, metadata }));
  const call: Call = async (method, args) =>
    (handlers[method] as (a: unknown) => Promise<never>)(parseApiArgs(method, args));
  try {
    return await fn(call);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 400) throw new UsageError(e.message);
    io.stderr.write(`${e.message}\n`);
    return EXIT.failed;
  } finally {
    metadata.close();
  }
}

const shortDigest = (d: string) => d.slice(0, 12);
const count = (n: number) => n.toLocaleString("en-US");
const mark = (ok: boolean) => (ok ? "✓" : "✗");

function lastTestText(s: DatasetSummary): string {
  const t = s.lastTest;
  if (!t) return s.suites.length ? "not run" : "—";
  return `${mark(t.success)} ${t.successful}/${t.evaluated} ${formatTime(t.at)}`;
}

async function datasetsList(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("datasets list takes no positional arguments");
  return withDatasets(io, values.project, async (call) => {
    const datasets = await call("listDatasets", {});
    if (values.json) {
      io.stdout.write(toJson(datasets));
      return EXIT.ok;
    }
    if (!datasets.length) {
      io.stdout.write(
        'No datasets yet: name one in dagwood.json "datasets", or run a pipeline that reads a file.\n',
      );
      return EXIT.ok;
    }
    const rows = datasets.map((d) => [
      d.name + (d.governance.deprecated ? " (deprecated)" : ""),
      d.governance.owner ?? "—",
      String(d.versions),
      d.latest ? count(d.latest.rows) : "—",
      lastTestText(d),
    ]);
    io.stdout.write(
      `${renderTable(["dataset", "owner", "versions", "rows", "last test"], rows, new Set([2, 3]))}\n`,
    );
    return EXIT.ok;
  });
}

function failureLines(t: DatasetTest): string[] {
  return t.failed.map((f) => {
    const column = typeof f.kwargs.column === "string" ? `(${f.kwargs.column})` : "";
    const what =
      f.exception_message ??
      (f.unexpected_count !== null
        ? `${count(f.unexpected_count)} unexpected${f.unexpected_percent !== null ? ` (${f.unexpected_percent.toFixed(2)} %)` : ""}`
        : `observed ${JSON.stringify(f.observed_value)}`);
    const examples = f.partial_unexpected_list.length
      ? `; e.g. ${f.partial_unexpected_list
          .slice(0, 5)
          .map((v) => JSON.stringify(v))
          .join(", ")}`
      : "";
    return `      ✗ ${f.expectation_type}${column}: ${what}${examples}`;
  });
}

function detailText(d: DatasetDetail): string {
  const g = d.governance;
  const lines = [
    `${d.name}${d.configured ? "" : " (no dagwood.json entry)"}`,
    `  path:     ${d.path}`,
    `  owner:    ${g.owner ?? "—"}`,
  ];
  if (g.purpose) lines.push(`  purpose:  ${g.purpose}`);
  if (g.reviewBy) lines.push(`  review by ${g.reviewBy}`);
  if (g.deprecated) {
    const instead = g.deprecated.replacement ? `; use ${g.deprecated.replacement}` : "";
    lines.push(`  DEPRECATED: ${g.deprecated.reason}${instead}`);
  }
  lines.push(`  suites:   ${d.suites.length ? d.suites.join(", ") : "—"}`, "");
  lines.push(`Versions (${d.versions}, newest first):`);
  if (d.allVersions.length) {
    const rows = d.allVersions.map((v) => [
      shortDigest(v.digest),
      count(v.rows),
      String(v.schema.length),
      formatTime(v.firstSeen),
      formatTime(v.lastSeen),
      String(v.runs.length),
      v.source,
    ]);
    lines.push(
      renderTable(
        ["digest", "rows", "columns", "first seen", "last seen", "runs", "source"],
        rows,
        new Set([1, 2, 5]),
      )
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
  } else lines.push("  none yet: no run has read it");
  if (d.schemaChanges.length) {
    lines.push("", "Schema changes (newest first):");
    for (const c of d.schemaChanges) {
      const parts = [
        ...c.added.map((x) => `+${x.name} ${x.type}`),
        ...c.removed.map((x) => `-${x.name} ${x.type}`),
        ...c.retyped.map((x) => `${x.name} ${x.from} → ${x.to}`),
      ];
      lines.push(`  ${shortDigest(c.from)} → ${shortDigest(c.to)}: ${parts.join(", ")}`);
    }
  }
  lines.push("", "Tests (newest first):");
  if (!d.tests.length) lines.push(d.suites.length ? "  none yet" : "  no suites attached");
  for (const t of d.tests) {
    lines.push(
      `  ${mark(t.success)} ${formatTime(t.at)}  ${t.suite}  ${t.successful}/${t.evaluated} passed  version ${shortDigest(t.digest)}  run ${t.runId}`,
    );
    lines.push(...failureLines(t));
  }
  lines.push("", "Used by:");
  lines.push(`  pipelines: ${d.usedBy.pipelines.join(", ") || "—"}`);
  lines.push(`  models:    ${d.usedBy.models.map((m) => `${m.name}:${m.version}`).join(", ") || "—"}`);
  return lines.join("\n");
}

async function datasetsShow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length !== 1)
    throw new UsageError(
      "datasets show takes one dataset: its dagwood.json name, or the path of a file read",
    );
  return withDatasets(io, values.project, async (call) => {
    const detail = await call("getDataset", { name: positionals[0] });
    io.stdout.write(values.json ? toJson(detail) : `${detailText(detail)}\n`);
    return EXIT.ok;
  });
}

const DATASETS: Subcommands = {
  list: datasetsList,
  show: datasetsShow,
};

export function datasetsCommand(args: string[], io: Io): Promise<number> {
  return runSubcommand("datasets", DATASETS, args, io);
}
