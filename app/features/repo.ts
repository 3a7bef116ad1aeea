/**
 * The project's feature definitions: every `features/*.json` read, checked
 * against its schema (app/features/types.ts) and against the others (names
 * unique across files, views naming known entities, services naming known
 * views and features). Every problem is reported at once, each with its file
 * and JSON path, so one `dagwood features apply` shows all there is to fix.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ParseError, parse as parseJson, printParseErrorCode } from "jsonc-parser";
import {
  type EntityDefinition,
  type FeatureRepo,
  type FeatureServiceDefinition,
  FeaturesFile,
  type FeatureType,
  type FeatureViewDefinition,
} from "./types";

/** The folder of a project that holds its feature definitions. */
export const FEATURES_DIR = "features";

/** One thing wrong in the definitions: where (file, JSON path) and what. */
export interface FeatureProblem {
  /** Relative to the project: "features/drivers.json". */
  file: string;
  /** A JSON path in that file: "featureViews[0].entities[1]" ("" for the whole file). */
  path: string;
  message: string;
}

/** The definitions cannot be used: every problem, each with its place. */
export class FeatureRepoError extends Error {
  override name = "FeatureRepoError";
  constructor(readonly problems: FeatureProblem[]) {
    super(
      `The feature definitions have ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${formatFeatureProblems(problems)}`,
    );
  }
}

export function formatFeatureProblems(problems: readonly FeatureProblem[]): string {
  return problems.map((p) => `  ${p.file}${p.path ? ` at ${p.path}` : ""}: ${p.message}`).join("\n");
}

function jsonPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** The definition files of a project, sorted (so problems and versions come in a stable order). */
export function featureFiles(projectDir: string): string[] {
  const dir = join(projectDir, FEATURES_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".json"))
    .map((e) => `${FEATURES_DIR}/${e.name}`)
    .sort();
}

/** Reads and checks every definition; never throws for bad definitions (they are in `problems`). */
export function checkFeatureRepo(projectDir: string): { repo: FeatureRepo; problems: FeatureProblem[] } {
  const repo: FeatureRepo = { entities: new Map(), views: new Map(), services: new Map(), files: new Map() };
  const problems: FeatureProblem[] = [];
  const parsed: { file: string; content: FeaturesFile }[] = [];

  for (const file of featureFiles(projectDir)) {
    const errors: ParseError[] = [];
    const json = parseJson(readFileSync(join(projectDir, file), "utf8"), errors, {
      allowTrailingComma: false,
      disallowComments: true,
    });
    if (errors.length) {
      const e = errors[0]!;
      problems.push({
        file,
        path: "",
        message: `not valid JSON (${printParseErrorCode(e.error)} at offset ${e.offset}): fix the file's syntax`,
      });
      continue;
    }
    const result = FeaturesFile.safeParse(json);
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push({ file, path: jsonPath(issue.path), message: issue.message });
      }
      continue;
    }
    parsed.push({ file, content: result.data });
  }

  // Names: one object per name across all files (Feast's registry is one namespace per kind).
  const define = <T extends { name: string }>(
    kind: "entity" | "feature view" | "feature service",
    map: Map<string, T>,
    key: string,
    file: string,
    path: string,
    item: T,
  ) => {
    const where = repo.files.get(`${kind}:${item.name}`);
    if (where) {
      problems.push({
        file,
        path,
        message: `${kind} "${item.name}" is already defined in ${where}: give one of them another name`,
      });
      return;
    }
    map.set(item.name, item);
    repo.files.set(key, file);
  };
  for (const { file, content } of parsed) {
    content.entities.forEach((e, i) => {
      define("entity", repo.entities, `entity:${e.name}`, file, `entities[${i}].name`, e);
    });
    content.featureViews.forEach((v, i) => {
      define("feature view", repo.views, `feature view:${v.name}`, file, `featureViews[${i}].name`, v);
    });
    content.featureServices.forEach((s, i) => {
      define(
        "feature service",
        repo.services,
        `feature service:${s.name}`,
        file,
        `featureServices[${i}].name`,
        s,
      );
    });
  }

  for (const { file, content } of parsed) {
    content.featureViews.forEach((v, i) => {
      if (repo.views.get(v.name) !== v) return;
      problems.push(...viewProblems(repo, v, file, `featureViews[${i}]`));
    });
    content.featureServices.forEach((s, i) => {
      if (repo.services.get(s.name) !== s) return;
      s.features.forEach((ref, j) => {
        const message = refProblem(repo, ref);
        if (message) problems.push({ file, path: `featureServices[${i}].features[${j}]`, message });
      });
    });
  }
  // Each file's problems together, files in name order (sort is stable: in-file order kept).
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { repo, problems };
}

function viewProblems(
  repo: FeatureRepo,
  v: FeatureViewDefinition,
  file: string,
  at: string,
): FeatureProblem[] {
  const out: FeatureProblem[] = [];
  const known = [...repo.entities.keys()];
  const keys = new Map<string, string>();
  v.entities.forEach((name, j) => {
    const entity = repo.entities.get(name);
    if (!entity) {
      out.push({
        file,
        path: `${at}.entities[${j}]`,
        message: `unknown entity "${name}": define it in "entities" (known: ${known.length ? known.join(", ") : "none"})`,
      });
      return;
    }
    for (const k of entity.joinKeys) {
      const other = keys.get(k);
      if (other && other !== name)
        out.push({
          file,
          path: `${at}.entities[${j}]`,
          message: `join key "${k}" belongs to both "${other}" and "${name}": a view's entities need distinct join keys`,
        });
      keys.set(k, name);
    }
  });
  const seen = new Set<string>();
  const reserved = new Set([...keys.keys(), v.source.timestampField, v.source.createdTimestampColumn]);
  v.features.forEach((f, j) => {
    if (seen.has(f.name))
      out.push({ file, path: `${at}.features[${j}].name`, message: `feature "${f.name}" is listed twice` });
    if (reserved.has(f.name))
      out.push({
        file,
        path: `${at}.features[${j}].name`,
        message: `"${f.name}" is a join key or timestamp column of the view, not a feature: remove it from "features"`,
      });
    seen.add(f.name);
  });
  if (v.source.createdTimestampColumn && v.source.createdTimestampColumn === v.source.timestampField)
    out.push({
      file,
      path: `${at}.source.createdTimestampColumn`,
      message: "the created-timestamp column must differ from the event timestamp field",
    });
  return out;
}

/** Why a `view:feature` or `view` reference does not resolve, or null when it does. */
function refProblem(repo: FeatureRepo, ref: string): string | null {
  const [viewName, feature] = ref.split(":") as [string, string | undefined];
  const view = repo.views.get(viewName);
  if (!view) {
    const views = [...repo.views.keys()];
    return `unknown feature view "${viewName}" (known: ${views.length ? views.join(", ") : "none"})`;
  }
  if (feature !== undefined && !view.features.some((f) => f.name === feature))
    return `feature view "${viewName}" has no feature "${feature}" (it has: ${view.features.map((f) => f.name).join(", ")})`;
  return null;
}

/** Every definition of the project; bad definitions throw a FeatureRepoError listing all their problems. */
export function loadFeatureRepo(projectDir: string): FeatureRepo {
  const { repo, problems } = checkFeatureRepo(projectDir);
  if (problems.length) throw new FeatureRepoError(problems);
  return repo;
}

/** One feature a training set or lookup asks for. */
export interface FeatureRef {
  view: string;
  feature: string;
  type: FeatureType;
}

/** A bad feature reference in a request (unknown view, feature or service): the message names it. */
export class FeatureRefError extends Error {
  override name = "FeatureRefError";
}

/**
 * The features `features` (`view:feature`, or `view` for all of its
 * features) or the service `service` name, in the order given, each once.
 */
export function resolveFeatureRefs(
  repo: FeatureRepo,
  request: { features?: readonly string[]; service?: string },
): FeatureRef[] {
  if ((request.features === undefined) === (request.service === undefined))
    throw new FeatureRefError("Name either the features (view:feature, …) or a feature service, not both");
  let refs: readonly string[];
  if (request.service !== undefined) {
    const service: FeatureServiceDefinition | undefined = repo.services.get(request.service);
    if (!service) {
      const known = [...repo.services.keys()];
      throw new FeatureRefError(
        `Unknown feature service "${request.service}" (known: ${known.length ? known.join(", ") : "none"})`,
      );
    }
    refs = service.features;
  } else {
    refs = request.features!;
    if (!refs.length) throw new FeatureRefError("Name at least one feature (view:feature)");
  }
  const problems = refs.flatMap((r) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(:[A-Za-z_][A-Za-z0-9_]*)?$/.test(r))
      return [`"${r}" is not a feature reference: write view:feature`];
    const p = refProblem(repo, r);
    return p ? [p] : [];
  });
  if (problems.length) throw new FeatureRefError(problems.join("; "));
  const out: FeatureRef[] = [];
  const seen = new Set<string>();
  for (const r of refs) {
    const [viewName, feature] = r.split(":") as [string, string | undefined];
    const view = repo.views.get(viewName)!;
    for (const f of view.features) {
      if (feature !== undefined && f.name !== feature) continue;
      const key = `${viewName}:${f.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ view: viewName, feature: f.name, type: f.type });
    }
  }
  return out;
}

/** A view's join keys, in the order of its entities and their join keys (the online key's order). */
export function viewJoinKeys(repo: FeatureRepo, view: FeatureViewDefinition): string[] {
  return view.entities.flatMap((e) => (repo.entities.get(e) as EntityDefinition).joinKeys);
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** A view's TTL in milliseconds; 0 means no limit. */
export function ttlMs(ttl: string): number {
  if (ttl === "0") return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(ttl);
  if (!m) throw new Error(`"${ttl}" is not a duration: write e.g. "1d", "12h", or "0" for none`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}
