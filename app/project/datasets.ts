/// <reference path="./picomatch.d.ts" />
/**
 * The datasets of dagwood.json (`datasets`): which entry a file belongs to,
 * and a safe in-place update of one entry. An entry names a file or files by
 * path or glob; `ingest.file` runs its suites on every read of a matching
 * file (nodes/ingest-file.ts), and the Data view groups versions by entry.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import {
  applyEdits,
  type FormattingOptions,
  findNodeAtLocation,
  modify,
  type ParseError,
  parse as parseJson,
  parseTree,
} from "jsonc-parser";
import picomatch from "picomatch";
import { writeFileAtomic } from "../store/atomic-write";
import type { Deprecation } from "../values/governance";
import {
  DATASET_NAME,
  type DatasetSettings,
  PROJECT_FILE,
  type ProjectSettings,
  ProjectSettingsError,
  ProjectSettingsSchema,
} from "./project";

const toPosix = (p: string) => p.split(sep).join("/");

/** A dataset entry a file belongs to. */
export interface DatasetEntry {
  name: string;
  settings: DatasetSettings;
}

/**
 * The ways a file can be named by an entry's path: relative to the project
 * ("data/flights.csv", "../shared/x.csv"), relative to each data folder that
 * holds it ("flights.csv" for a file in a data folder), and absolute.
 */
function namesOf(projectDir: string, dataFolders: readonly string[], absPath: string): string[] {
  const abs = resolve(absPath);
  const names = [toPosix(relative(projectDir, abs)), toPosix(abs)];
  for (const folder of dataFolders) {
    const root = resolve(projectDir, folder);
    const inside = relative(root, abs);
    if (inside && !inside.startsWith("..") && !isAbsolute(inside)) names.push(toPosix(inside));
  }
  return names;
}

/**
 * An entry's path as a pattern: "./", doubled slashes and a trailing slash dropped, so
 * "./data//x.csv" is "data/x.csv" and "data/sensors/" is "data/sensors".
 */
const patternOf = (path: string) => {
  const p = posix.normalize(toPosix(path)).replace(/(.)\/$/, "$1");
  return isAbsolute(path) ? p : p.replace(/^\.\//, "");
};

/**
 * The dagwood.json entry `absPath` belongs to: one whose path names it
 * exactly wins, else the one naming the nearest folder holding it, else the
 * first (in file order) whose glob matches it (picomatch syntax: `*`, `**`,
 * `?`, `{a,b}`, `[...]`). Paths are relative to the project, or to one of its
 * data folders, or absolute.
 */
export function findDatasetEntry(
  settings: Pick<ProjectSettings, "datasets" | "dataFolders">,
  projectDir: string,
  absPath: string,
): DatasetEntry | undefined {
  const names = namesOf(resolve(projectDir), settings.dataFolders, absPath);
  const entries = Object.entries(settings.datasets);
  for (const [name, entry] of entries) {
    if (names.includes(patternOf(entry.path))) return { name, settings: entry };
  }
  // A folder holds every file under it, at any depth: the nearest (longest) folder wins.
  let folder: (DatasetEntry & { length: number }) | undefined;
  for (const [name, entry] of entries) {
    const pattern = patternOf(entry.path);
    if (picomatch.scan(pattern).isGlob) continue;
    const inside = `${pattern.replace(/\/$/, "")}/`;
    if (names.some((n) => n.startsWith(inside)) && (!folder || pattern.length > folder.length))
      folder = { name, settings: entry, length: pattern.length };
  }
  if (folder) return { name: folder.name, settings: folder.settings };
  for (const [name, entry] of entries) {
    const pattern = patternOf(entry.path);
    if (!picomatch.scan(pattern).isGlob) continue;
    const matches = picomatch(pattern, { dot: true, windows: false });
    if (names.some((n) => matches(n))) return { name, settings: entry };
  }
  return undefined;
}

/** A bad update of a dataset entry: `invalid` (the patch) → 400, `broken` (dagwood.json itself) → 409. */
export class DatasetSettingsError extends Error {
  override name = "DatasetSettingsError";
  constructor(
    message: string,
    readonly code: "invalid" | "broken" | "not-found",
  ) {
    super(message);
  }
}

/** A change to one entry; for the optional fields, null removes the key. */
export interface DatasetSettingsPatch {
  path?: string;
  suites?: string[];
  onFailure?: "warn" | "fail";
  owner?: string | null;
  purpose?: string | null;
  reviewBy?: string | null;
  deprecated?: Deprecation | null;
  /**
   * Column tags (issue 19): per column named, its new tag list, replacing the old; null or no tags
   * removes the column's entry (and `columns` when none is left). Columns not named stay as they are.
   */
  columns?: Record<string, { tags: string[] } | null>;
}

const PATCH_KEYS = ["path", "suites", "onFailure", "owner", "purpose", "reviewBy", "deprecated"] as const;

/**
 * How the file indents (two spaces when it tells nothing) and ends its lines: every in-place
 * editor of dagwood.json writes in the file's own style.
 */
export function formattingOf(text: string): { unit: string; eol: string; options: FormattingOptions } {
  const unit = /\n([ \t]+)"/.exec(text)?.[1] ?? "  ";
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const options = unit.startsWith("\t")
    ? { insertSpaces: false, tabSize: 1, eol }
    : { insertSpaces: true, tabSize: unit.length, eol };
  return { unit: unit.startsWith("\t") ? "\t" : unit, eol, options };
}

type Format = ReturnType<typeof formattingOf>;

/** The whitespace that starts the line holding `offset`. */
function indentAt(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** Where the line holding `offset` ends (before its line break). */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf("\n", offset);
  if (nl < 0) return text.length;
  return text[nl - 1] === "\r" ? nl - 1 : nl;
}

/** A value as JSON text at `indent`: a short list of plain values on one line, objects spread over lines. */
function render(value: unknown, indent: string, f: Format): string {
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) {
    const one = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    if (one.length <= 80) return one;
  }
  return JSON.stringify(value, null, f.unit).split("\n").join(`${f.eol}${indent}`);
}

/** A trailing comment (or nothing) after a value, up to the line's end. */
const ONLY_COMMENT = /^[ \t]*(\/\/.*|\/\*.*\*\/[ \t]*)?$/;

/**
 * Sets (or, with undefined, removes) the key at `path`, touching only that
 * property's own lines: a new key goes on a new line after the object's last
 * one (a comment ending that line stays there), a removed key takes its line
 * with it. Layouts this does not handle fall back to jsonc-parser's `modify`.
 */
function setKey(text: string, path: string[], value: unknown, f: Format): string {
  const fallback = () => applyEdits(text, modify(text, path, value, { formattingOptions: f.options }));
  const key = path.at(-1)!;
  const parent = findNodeAtLocation(parseTree(text)!, path.slice(0, -1));
  if (!parent) {
    if (value === undefined) return text;
    return setKey(text, path.slice(0, -1), { [key]: value }, f);
  }
  if (parent.type !== "object") return fallback();
  const props = parent.children ?? [];
  const at = props.findIndex((p) => p.children?.[0]?.value === key);
  const prop = props[at];
  if (prop && value !== undefined) {
    const old = prop.children![1]!;
    const indent = indentAt(text, prop.offset);
    return text.slice(0, old.offset) + render(value, indent, f) + text.slice(old.offset + old.length);
  }
  if (prop) {
    const start = text.lastIndexOf("\n", prop.offset - 1) + 1;
    const end = prop.offset + prop.length;
    const rest = text.slice(end, lineEnd(text, end));
    const ownLine =
      /^[ \t]*$/.test(text.slice(start, prop.offset)) && ONLY_COMMENT.test(rest.replace(/^,/, ""));
    if (!ownLine) return fallback();
    const nl = text.indexOf("\n", end);
    const cut = nl < 0 ? text.length : nl + 1;
    if (props.length === 1) {
      return `${text.slice(0, parent.offset)}{}${text.slice(parent.offset + parent.length)}`;
    }
    if (at < props.length - 1) return text.slice(0, start) + text.slice(cut);
    // The last one goes: the comma after the one before it goes too.
    const prev = props[at - 1]!;
    const prevEnd = prev.offset + prev.length;
    const comma = /^[ \t]*,/.exec(text.slice(prevEnd));
    if (!comma) return fallback();
    return text.slice(0, prevEnd) + text.slice(prevEnd + comma[0].length, start) + text.slice(cut);
  }
  if (value === undefined) return text;
  const last = props.at(-1);
  if (!last) {
    const outer = indentAt(text, parent.offset);
    const inner = outer + f.unit;
    const body = `${f.eol}${inner}${JSON.stringify(key)}: ${render(value, inner, f)}${f.eol}${outer}`;
    return `${text.slice(0, parent.offset)}{${body}}${text.slice(parent.offset + parent.length)}`;
  }
  const end = last.offset + last.length;
  const eolAt = lineEnd(text, end);
  const rest = text.slice(end, eolAt);
  if (!ONLY_COMMENT.test(rest)) return fallback();
  const indent = indentAt(text, last.offset);
  const line = `${f.eol}${indent}${JSON.stringify(key)}: ${render(value, indent, f)}`;
  return `${text.slice(0, end)},${rest}${line}${text.slice(eolAt)}`;
}

function describeIssues(issues: { path: PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Edits of a project's dagwood.json are applied one after another (read, edit, write). */
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `edit` after every earlier edit of the project's dagwood.json has
 * finished: every in-place editor of the file (datasets, the privacy policy)
 * goes through here, so two edits never read the same text and one is lost.
 */
export function queueProjectFileEdit<T>(dir: string, edit: () => Promise<T>): Promise<T> {
  const key = resolve(dir);
  const next = (queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(edit);
  queues.set(key, next);
  next
    .finally(() => {
      if (queues.get(key) === next) queues.delete(key);
    })
    .catch(() => undefined);
  return next;
}

/**
 * Edits dataset `name` in dagwood.json in place: only the keys the patch
 * names change (jsonc-parser `modify`), so the file's other content, comments
 * and formatting stay as they are. A new name creates the entry (it needs a
 * `path`). The result is checked with the project's settings schema before
 * anything is written, and written atomically: a bad patch or a broken file
 * leaves the file as it was. Answers the entry as the file now holds it.
 */
export function updateDatasetSettings(
  dir: string,
  name: string,
  patch: DatasetSettingsPatch,
): Promise<DatasetSettings> {
  const key = resolve(dir);
  return queueProjectFileEdit(key, () => applyDatasetPatch(key, name, patch));
}

/** The patch's column tags applied one column at a time, so the other columns' lines stay as they are. */
function patchColumns(
  text: string,
  name: string,
  columns: DatasetSettingsPatch["columns"],
  format: Format,
): string {
  if (!columns) return text;
  for (const [column, value] of Object.entries(columns)) {
    const tags = value?.tags.length ? [...new Set(value.tags)] : undefined;
    text = setKey(text, ["datasets", name, "columns", column], tags && { tags }, format);
  }
  const tree = parseTree(text);
  const left = tree && findNodeAtLocation(tree, ["datasets", name, "columns"]);
  if (left?.type === "object" && !left.children?.length)
    text = setKey(text, ["datasets", name, "columns"], undefined, format);
  return text;
}

async function applyDatasetPatch(
  dir: string,
  name: string,
  patch: DatasetSettingsPatch,
): Promise<DatasetSettings> {
  if (!DATASET_NAME.test(name)) {
    throw new DatasetSettingsError(
      `"${name}" is not a dataset name: use a letter, then letters, digits, _ . - (at most 128), e.g. flights.`,
      "invalid",
    );
  }
  const file = join(dir, PROJECT_FILE);
  const original = existsSync(file) ? readFileSync(file, "utf8") : "{}\n";
  const errors: ParseError[] = [];
  const before = parseJson(original, errors, { allowTrailingComma: false });
  if (errors.length || before === null || typeof before !== "object" || Array.isArray(before)) {
    throw new DatasetSettingsError(
      `${file} is not a valid JSON object${errors[0] ? ` (at offset ${errors[0].offset})` : ""}; it was left as it is. Fix it, then try again.`,
      "broken",
    );
  }
  const existing = (before as { datasets?: Record<string, unknown> }).datasets?.[name];
  if (existing === undefined && patch.path === undefined) {
    throw new DatasetSettingsError(
      `dagwood.json has no dataset "${name}"; to create it, give its "path" (a file, a folder or a glob, e.g. data/flights/*.parquet).`,
      "invalid",
    );
  }
  const format = formattingOf(original);
  let text = original;
  for (const k of PATCH_KEYS) {
    if (!(k in patch) || patch[k] === undefined) continue;
    text = setKey(text, ["datasets", name, k], patch[k] === null ? undefined : patch[k], format);
  }
  text = patchColumns(text, name, patch.columns, format);
  const checked = ProjectSettingsSchema.safeParse(parseJson(text));
  if (!checked.success) {
    const mine = checked.error.issues.filter((i) => i.path[0] === "datasets" && i.path[1] === name);
    throw new DatasetSettingsError(
      `Dataset "${name}" was not changed: ${describeIssues(mine.length ? mine : checked.error.issues)}`,
      mine.length || !existsSync(file) ? "invalid" : "broken",
    );
  }
  const entry = checked.data.datasets[name];
  if (!entry) throw new ProjectSettingsError(`dataset "${name}" vanished from ${file} while it was updated`);
  if (text !== original) await writeFileAtomic(file, text);
  return entry;
}
