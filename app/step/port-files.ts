/**
 * A port value as files, for `dagwood step` (one node run in its own process,
 * as an orchestrator's task): one folder per port, which an orchestrator moves
 * as it is (an Argo artifact is a path; a folder is archived and unpacked).
 *
 *   <port>/value.json      PortManifest: the port's type and fingerprint; a table's columns and
 *                          rows, a JSON value's data; the sha256 of every file below
 *   <port>/table.parquet   a table's rows (DuckDB's COPY … (FORMAT parquet), insertion order kept)
 *   <port>/files/<path>    the files a JSON value names by their path in the project (a model's
 *                          ONNX file and reference profile), restored at that path by the reader
 *
 * The fingerprints are the engine's own (Workspace.describeTable, executeBlock), so a node
 * run from files gets the cache key a local run computes; a folder whose content does not
 * give its recorded fingerprint is refused.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { ident, literal } from "../data/sql";
import type { Workspace } from "../data/workspace";
import { dataFingerprint } from "../engine/execute";
import type { ColumnInfo, PortValue } from "../engine/ports";
import type { PersonalDataUse } from "../privacy/types";
import { PORT_TYPES, type PortType } from "../values/port-types";

export const PORT_FORMAT = "dagwood.port/1";
export const MANIFEST_FILE = "value.json";
export const TABLE_FILE = "table.parquet";

/** What `<port>/value.json` holds. */
export interface PortManifest {
  format: typeof PORT_FORMAT;
  type: PortType;
  fingerprint: string;
  /** The node and output port that produced the value, for the record. */
  node: string;
  port: string;
  /** A table's columns and row count; its rows are in table.parquet. */
  columns?: ColumnInfo[];
  rows?: number;
  file?: typeof TABLE_FILE;
  /** The JSON value of any other port type. */
  data?: unknown;
  /** Files a JSON value names (path relative to the project, "/"-separated) → sha256 of the bytes. */
  files?: Record<string, string>;
  /** A model's inputs that carry tags (DataValue.personalData), part of its fingerprint. */
  personalData?: PersonalDataUse[];
}

/** A port folder that cannot be used: missing, malformed, or not what its manifest records. */
export class PortFileError extends Error {}

/** Paths of the project files a JSON value names: every `file` member holding a relative path under .dagwood/. */
export function namedFiles(data: unknown): string[] {
  const found = new Set<string>();
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "file" && typeof x === "string" && /^\.dagwood[\\/]/.test(x)) found.add(x);
        else visit(x);
      }
    }
  };
  visit(data);
  return [...found].sort();
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** The folders of a project whose files a port value may carry: run artifacts and registered versions. */
const CARRIED_DIRS = [".dagwood/artifacts/", ".dagwood/registry/"];

/**
 * A path a JSON value names, normalised ("/"-separated), when it stays inside .dagwood/artifacts/ or
 * .dagwood/registry/; else an error naming it. ".dagwood/../dagwood.json" would otherwise let a port
 * folder overwrite any file of the consumer's project (its settings, a pipeline, the metadata store).
 */
function carriedPath(rel: string, what: string): string {
  const norm = normalize(rel).split(sep).join("/");
  if (isAbsolute(rel) || norm.split("/").includes("..") || !CARRIED_DIRS.some((d) => norm.startsWith(d)))
    throw new PortFileError(
      `${what} names the path "${rel}", which leaves its folder: a port value carries files under ${CARRIED_DIRS.join(" or ")} only`,
    );
  return norm;
}

/** Refuses `path` when it or a folder on its way is a link out of `base`, naming where it leads. */
async function withinFolder(base: string, path: string, what: string): Promise<void> {
  const [real, realBase] = await Promise.all([realpath(path), realpath(base)]);
  if (real !== realBase && !real.startsWith(`${realBase}${sep}`))
    throw new PortFileError(
      `${what}: ${path} is a link to ${real}, outside its port folder; a port folder holds its files, not links`,
    );
}

/** Writes one output value as a port folder at `dir` (created; must not hold another value). */
export async function writePortFolder(
  dir: string,
  value: PortValue,
  from: { node: string; port: string },
  workspace: Workspace,
  projectDir: string,
): Promise<PortManifest> {
  await mkdir(dir, { recursive: true });
  const manifest: PortManifest = {
    format: PORT_FORMAT,
    type: value.type,
    fingerprint: value.fingerprint,
    node: from.node,
    port: from.port,
  };
  if (value.type === "table") {
    const sql = await workspace.session();
    try {
      await sql.run(
        `COPY (SELECT * FROM ${ident(value.name)}) TO ${literal(join(dir, TABLE_FILE))} (FORMAT parquet)`,
      );
    } finally {
      sql.close();
    }
    manifest.columns = value.columns;
    manifest.rows = value.rows;
    manifest.file = TABLE_FILE;
  } else {
    manifest.data = value.data;
    if (value.personalData?.length) manifest.personalData = value.personalData;
    const files: Record<string, string> = {};
    for (const rel of namedFiles(value.data)) {
      const path = carriedPath(rel, `Output "${from.port}"`);
      const dest = join(dir, "files", path);
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(join(projectDir, path), dest);
      files[path] = await sha256File(dest);
    }
    if (Object.keys(files).length) manifest.files = files;
  }
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

/** The manifest of a port folder, checked for shape; `what` names it in errors (input "train"). */
export async function readManifest(dir: string, what: string): Promise<PortManifest> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory())
    throw new PortFileError(
      `${what}: no folder at ${dir}. Pass the folder the upstream step wrote for its output port (its --outputs DIR/<port>).`,
    );
  const path = join(dir, MANIFEST_FILE);
  let m: PortManifest;
  try {
    m = JSON.parse(await readFile(path, "utf8")) as PortManifest;
  } catch (e) {
    throw new PortFileError(
      `${what}: cannot read ${path} (${(e as Error).message}). A port folder holds the value.json its step wrote.`,
    );
  }
  if (!m || m.format !== PORT_FORMAT)
    throw new PortFileError(`${what}: ${path} is not a port manifest (format should be "${PORT_FORMAT}")`);
  if (!PORT_TYPES.includes(m.type)) throw new PortFileError(`${what}: ${path} has unknown type "${m.type}"`);
  if (typeof m.fingerprint !== "string" || !m.fingerprint)
    throw new PortFileError(`${what}: ${path} records no fingerprint`);
  if (m.type === "table" && (!Array.isArray(m.columns) || typeof m.rows !== "number"))
    throw new PortFileError(`${what}: ${path} is a table without its columns and rows`);
  return m;
}

/**
 * Reads a port folder into the project: a table into a new workspace table `tableName`, the files a
 * JSON value names to their path in the project. Refuses a folder whose content does not give the
 * fingerprint (and file hashes) its manifest records.
 */
export async function readPortFolder(
  dir: string,
  what: string,
  workspace: Workspace,
  projectDir: string,
  tableName: string,
): Promise<{ value: PortValue; manifest: PortManifest }> {
  const m = await readManifest(dir, what);
  if (m.type === "table") {
    const file = join(dir, TABLE_FILE);
    if (!(await stat(file).catch(() => undefined))?.isFile())
      throw new PortFileError(`${what}: ${file} is missing; the folder's table was not copied whole`);
    await withinFolder(dir, file, what);
    // Parquet has no type for some DuckDB types (ENUM, some integer widths): each column is cast
    // back to the type the manifest records, so the table is the one the upstream node made.
    const select = m
      .columns!.map((c) => `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`)
      .join(", ");
    const sql = await workspace.session();
    try {
      await sql.run(
        `CREATE TABLE ${ident(tableName)} AS SELECT ${select} FROM read_parquet(${literal(file)})`,
      );
    } catch (e) {
      throw new PortFileError(
        `${what}: ${file} does not hold the columns its value.json records (${(e as Error).message})`,
      );
    } finally {
      sql.close();
    }
    const value = await workspace.describeTable(tableName);
    if (value.fingerprint !== m.fingerprint) {
      await workspace.dropTable(tableName);
      throw new PortFileError(
        `${what}: ${file} has fingerprint ${value.fingerprint} (${value.rows} rows), but its value.json records ${m.fingerprint} (${m.rows} rows). The file was changed or replaced after its step wrote it: run the upstream step again.`,
      );
    }
    // The column tags (app/privacy/tags.ts) travel in the manifest; the table's content does not hold them.
    const tagged = new Map((m.columns ?? []).filter((c) => c.tags?.length).map((c) => [c.name, c.tags!]));
    const columns = value.columns.map((c) => (tagged.has(c.name) ? { ...c, tags: tagged.get(c.name)! } : c));
    return { value: { ...value, columns }, manifest: m };
  }
  const fingerprint = dataFingerprint(m.data, m.personalData);
  if (fingerprint !== m.fingerprint)
    throw new PortFileError(
      `${what}: the ${m.type} in ${join(dir, MANIFEST_FILE)} has fingerprint ${fingerprint}, but the file records ${m.fingerprint}. It was edited after its step wrote it: run the upstream step again.`,
    );
  const named = namedFiles(m.data).map((p) => carriedPath(p, what));
  for (const rel of named) {
    const src = join(dir, "files", rel);
    const expected = m.files?.[rel];
    const actual = await sha256File(src).catch(() => undefined);
    if (actual === undefined)
      throw new PortFileError(
        `${what}: the ${m.type} names ${rel}, which is missing from ${join(dir, "files")}`,
      );
    await withinFolder(dir, src, what);
    if (expected !== actual)
      throw new PortFileError(
        `${what}: ${src} has sha256 ${actual}, but value.json records ${expected ?? "none"}. Run the upstream step again.`,
      );
    const dest = join(projectDir, rel);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(src, dest);
  }
  const personalData = m.personalData?.length ? { personalData: m.personalData } : {};
  return {
    value: { type: m.type, data: m.data, fingerprint: m.fingerprint, ...personalData } as PortValue,
    manifest: m,
  };
}

/** `rel` resolved against `base` unless absolute. */
export function resolveFrom(base: string, rel: string): string {
  return isAbsolute(rel) ? rel : resolve(base, rel);
}

/** For error messages: a path relative to the current folder when inside it. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
