/**
 * Exports a run or a registered model version as a plain folder that other
 * tools can pick up: JSON metadata in MLflow's spirit (`MLmodel.json`), the
 * ONNX file, the native model, the signature and the lineage.
 *
 * A folder is written beside its target under a temporary name and renamed
 * into place when complete, so a crash never leaves half an export.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { ArtifactError } from "../artifacts/location";
import { ensureProjectVersionFiles } from "../artifacts/version-files";
import { isInside } from "../data/workspace";
import { asModel } from "../ml/model";
import {
  categoriesInClear,
  isPersonalTag,
  type MaskColumns,
  maskReport,
  recordUnmasked,
  reportColumnsHit,
  versionPersonalInputs,
} from "../privacy/masking";
import { readProjectSettings } from "../project/project";
import type { MetadataStore, MetricRecord, ModelVersion } from "../store/types";

/** A user-facing tracking error; `code` tells the Api which status to answer with. */
export class TrackingError extends Error {
  override name = "TrackingError";
  constructor(
    message: string,
    readonly code: "not-found" | "invalid" | "conflict" | "forbidden" = "invalid",
  ) {
    super(message);
  }
}

/** What exports and the lineage graph need: the project folder and its metadata store. */
export interface TrackingContext {
  dir: string;
  metadata: MetadataStore;
}

export interface ExportedFolder {
  /** Relative to the project folder, with `/` separators; absolute when it lies outside the project. */
  dir: string;
  /** Relative to the export folder, sorted. */
  files: string[];
  /** Personal columns (a pii or sensitive tag) whose values the export masked; absent when none. */
  masked?: string[];
  /** Personal columns exported in clear at the user's request (audited as privacy.unmasked); absent when none. */
  unmasked?: string[];
}

const toPosix = (p: string) => p.split(sep).join("/");

/** JSON that keeps NaN and ±Infinity visible as strings instead of turning them into null. */
export function exportJson(value: unknown): string {
  const text = JSON.stringify(
    value,
    (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v),
    2,
  );
  return `${text}\n`;
}

function isEmptyOrMissing(path: string): boolean {
  if (!existsSync(path)) return true;
  return statSync(path).isDirectory() && readdirSync(path).length === 0;
}

/** Where an export may go. */
export interface ExportOptions {
  /**
   * Allow a folder outside the project: the CLI (the user's own shell, handing
   * files to other tools) may; the Api, which a browser page drives, may not.
   */
  allowOutside?: boolean;
  /**
   * Export personal columns' values in clear (app/privacy/masking.ts). The caller has had the user
   * confirm it; the export records a `privacy.unmasked` audit entry by `actor`.
   */
  unmasked?: boolean;
  actor?: string | null;
}

/** Refuses an export whose model files hold personal values (fitted categories) in clear, unless asked. */
function refuseCategoriesInClear(what: string, found: { file: string; input: string; categories: number }[]) {
  if (found.length === 0) return;
  const list = found.map((f) => `${f.input} (${f.categories} values, in ${f.file})`).join(", ");
  throw new TrackingError(
    `${what} holds personal data that cannot be masked: the fitted categories of ${list}, which the model needs to predict. Export it in clear (the command line: --unmasked; the app asks to confirm), which the audit log records, or train without that input.`,
    "forbidden",
  );
}

/** The personal inputs of a native model file whose categories it holds; [] when the file is not a model. */
function nativeCategoriesInClear(text: string, columns: MaskColumns, file: string) {
  if (columns.size === 0) return [];
  try {
    return categoriesInClear(asModel(JSON.parse(text)), columns).map((c) => ({ ...c, file }));
  } catch {
    return [];
  }
}

/**
 * The personal columns a run touched, by name: the columns its node outputs carry personal tags on
 * (derived ones too), the inputs its registered versions record as personal (with the columns their
 * tags came from and through), the columns an ingest node of its pipeline tags, and the dataset entries'
 * tagged columns in dagwood.json. A name tagged anywhere in these is masked in every report of the run
 * (masking too much, never too little).
 */
export function runPersonalColumns(ctx: TrackingContext, runId: string): Map<string, undefined> {
  const names = new Set<string>();
  const { registry } = ctx.metadata;
  for (const m of registry.listModels())
    for (const v of registry.listVersions(m.name)) {
      if (v.runId !== runId) continue;
      for (const use of v.lineage.personalData ?? []) {
        const tags = use.tags.filter((t) => isPersonalTag(t.tag));
        if (tags.length === 0) continue;
        names.add(use.input);
        for (const t of tags) {
          names.add(t.origin.column);
          for (const hop of t.via) names.add(hop.column);
        }
      }
    }
  // The columns the run's node outputs carried personal tags on, those derived by lineage too
  // (email_domain ← email through SQL): the engine records them on each output (OutputSummary.tags).
  for (const n of ctx.metadata.nodeRuns(runId))
    for (const out of Object.values(n.outputs ?? {})) {
      const tags = (out as { tags?: Record<string, { tag: string }[]> } | null)?.tags;
      for (const [column, list] of Object.entries(tags ?? {}))
        if (Array.isArray(list) && list.some((t) => isPersonalTag(t.tag))) names.add(column);
    }
  const pipeline = ctx.metadata.pipelineText(runId);
  if (pipeline !== null) {
    try {
      const parsed = JSON.parse(pipeline) as { nodes?: { params?: { columnTags?: unknown } }[] };
      for (const node of parsed.nodes ?? []) {
        const tags = node.params?.columnTags;
        if (!tags || typeof tags !== "object") continue;
        for (const [column, list] of Object.entries(tags))
          if (Array.isArray(list) && list.some((t) => typeof t === "string" && isPersonalTag(t)))
            names.add(column);
      }
    } catch {
      // a pipeline text that does not parse names no columns
    }
  }
  try {
    for (const entry of Object.values(readProjectSettings(ctx.dir).datasets ?? {}))
      for (const [column, c] of Object.entries(entry.columns ?? {}))
        if (c.tags.some(isPersonalTag)) names.add(column);
  } catch {
    // no or unreadable dagwood.json: nothing tagged there
  }
  return new Map([...names].sort().map((n) => [n, undefined]));
}

/**
 * The absolute export folder for `requested` (relative to the project), or
 * the default one. Refuses the project folder itself, its `.dagwood` state, a
 * folder outside the project unless `allowOutside`, and an existing non-empty
 * folder the user named; the default folder gets a numbered suffix instead.
 */
export function resolveExportDir(
  projectDir: string,
  requested: string | undefined,
  fallback: string,
  opts: ExportOptions = {},
): string {
  const root = resolve(projectDir);
  const wanted = requested ?? fallback;
  const abs = isAbsolute(wanted) ? resolve(wanted) : resolve(root, wanted);
  const state = join(root, ".dagwood");
  const refused = new TrackingError(
    opts.allowOutside
      ? `Cannot export to "${wanted}": that is the project folder or its .dagwood state. Choose another folder, such as exports/my-model.`
      : `Cannot export to "${wanted}": the export folder must be inside the project folder (and not the project folder itself or .dagwood). Choose a folder such as exports/my-model.`,
    "forbidden",
  );
  if (abs === root || isInside(abs, [state])) throw refused;
  if (!opts.allowOutside && !isInside(abs, [root])) throw refused;
  // A link may point elsewhere: check the nearest folder that exists, as the OS sees it.
  let probe = abs;
  while (!existsSync(probe)) probe = dirname(probe);
  const real = realpathSync(probe);
  const realRoot = realpathSync(root);
  if (real === realRoot && probe === abs) throw refused;
  if (existsSync(state) && isInside(real, [realpathSync(state)])) throw refused;
  if (!opts.allowOutside && !isInside(real, [realRoot])) throw refused;
  if (isEmptyOrMissing(abs)) return abs;
  if (requested !== undefined) {
    throw new TrackingError(
      `Cannot export to "${requested}": it exists and is not empty. Remove it, or choose another folder.`,
      "conflict",
    );
  }
  for (let n = 2; ; n++) {
    const candidate = `${abs}-${n}`;
    if (isEmptyOrMissing(candidate)) return candidate;
  }
}

type Entry = { path: string; data: string | Buffer } | { path: string; copyFrom: string };

/** Writes every entry into a temporary folder beside `target`, then renames it into place. */
async function writeFolder(projectDir: string, target: string, entries: Entry[]): Promise<ExportedFolder> {
  await mkdir(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.partial`);
  try {
    for (const e of entries) {
      const dest = join(temp, e.path);
      await mkdir(dirname(dest), { recursive: true });
      if ("copyFrom" in e) await copyFile(e.copyFrom, dest);
      else await writeFile(dest, e.data);
    }
    if (existsSync(target)) await rmdir(target); // empty: checked before
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST")
      throw new TrackingError(
        `Cannot export to ${toPosix(relative(projectDir, target))}: something else wrote there meanwhile. Try again.`,
        "conflict",
      );
    throw e;
  }
  const rel = relative(projectDir, target);
  return {
    dir: rel.startsWith("..") || isAbsolute(rel) ? target : toPosix(rel),
    files: entries.map((e) => toPosix(e.path)).sort(),
  };
}

/** The latest value per `nodeId.metric`: the highest step, then the latest logged. */
export function latestMetrics(metrics: readonly MetricRecord[]): Record<string, number> {
  const best = new Map<string, { step: number; value: number }>();
  for (const m of metrics) {
    const key = `${m.nodeId}.${m.name}`;
    const step = m.step ?? -1;
    const prev = best.get(key);
    if (!prev || step >= prev.step) best.set(key, { step, value: m.value });
  }
  return Object.fromEntries([...best].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.value]));
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** Every metric point: node,name,step,value,ts (NaN and Infinity as text). */
export function metricsCsv(metrics: readonly MetricRecord[]): string {
  const lines = ["node,name,step,value,ts"];
  for (const m of metrics)
    lines.push(
      [m.nodeId, m.name, m.step === null ? "" : String(m.step), String(m.value), m.ts ?? ""]
        .map(csvField)
        .join(","),
    );
  return `${lines.join("\n")}\n`;
}

/** An artifact's place in the export: `artifacts/<node>/<name>`, never outside it. */
function artifactEntryPath(nodeId: string, name: string): string | null {
  const parts = [nodeId, ...name.split(/[\\/]/)];
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\0"))) return null;
  return ["artifacts", ...parts].join("/");
}

/** Exports a run: run.json, pipeline.dag.json, metrics.csv and the run's artifacts. Default folder: exports/run-<id>. */
export async function exportRun(
  ctx: TrackingContext,
  runId: string,
  dir?: string,
  opts: ExportOptions = {},
): Promise<ExportedFolder> {
  const { metadata } = ctx;
  const run = metadata.getRun(runId);
  if (!run)
    throw new TrackingError(
      `No run ${runId} in this project. \`dagwood runs list\` shows its runs.`,
      "not-found",
    );
  const target = resolveExportDir(ctx.dir, dir, `exports/run-${runId}`, opts);
  const metrics = metadata.metrics(runId);
  const entries: Entry[] = [];
  const personal = runPersonalColumns(ctx, runId);
  const masked = new Set<string>();
  const inClear: { file: string; input: string; categories: number }[] = [];
  const artifacts = [];
  for (const a of metadata.artifacts(runId)) {
    const source = resolve(ctx.dir, a.path);
    const entryPath = artifactEntryPath(a.nodeId, a.name);
    // Only files inside the project are copied; a file gone since the run is listed as missing.
    const present = entryPath !== null && isInside(source, [ctx.dir]) && existsSync(source);
    if (present)
      entries.push(await maskedArtifact(entryPath, source, a.kind, personal, opts, masked, inClear));
    artifacts.push({ ...a, file: present ? entryPath : null });
  }
  if (!opts.unmasked) refuseCategoriesInClear(`Run ${runId}`, inClear);
  for (const c of inClear) masked.add(c.input);
  const pipelineText = metadata.pipelineText(runId);
  if (pipelineText !== null) entries.push({ path: "pipeline.dag.json", data: pipelineText });
  entries.push({ path: "metrics.csv", data: metricsCsv(metrics) });
  const trials =
    run.kind === "pipeline"
      ? metadata.searchRuns({ parentRunId: runId, includeChildren: true, limit: 1000 })
      : null;
  entries.push({
    path: "run.json",
    data: exportJson({
      format: "dagwood.run-export/1",
      run,
      params: metadata.resolvedParams(runId),
      metrics: latestMetrics(metrics),
      tags: run.tags,
      environment: run.environment,
      nodes: metadata.nodeRuns(runId).map((n) => ({
        id: n.nodeId,
        block: n.block,
        blockVersion: n.blockVersion,
        status: n.status,
        reason: n.reason,
        ms: n.ms,
        error: n.error,
        cacheKey: n.cacheKey,
        inputs: n.inputs,
        outputs: n.outputs,
      })),
      datasets: metadata.datasets(runId),
      artifacts,
      trials: trials?.runs.map((t) => ({ id: t.id, params: t.params, metrics: t.metrics })) ?? [],
    }),
  });
  const written = await writeFolder(ctx.dir, target, entries);
  return withPrivacy(ctx, written, personal, masked, opts, { what: "runs export", details: { run: runId } });
}

/**
 * An artifact as the export copies it: a profile or explanation report with the personal columns' values masked
 * (unless unmasked), anything else as it is (bytes unchanged). Fills `masked` with the columns it
 * masked and `inClear` with a native model's personal categories.
 */
async function maskedArtifact(
  path: string,
  source: string,
  kind: string,
  personal: MaskColumns,
  opts: ExportOptions,
  masked: Set<string>,
  inClear: { file: string; input: string; categories: number }[],
): Promise<Entry> {
  if (personal.size === 0 || (kind !== "report" && kind !== "model.native"))
    return { path, copyFrom: source };
  const text = await readFile(source, "utf8");
  if (kind === "model.native") {
    inClear.push(...nativeCategoriesInClear(text, personal, path));
    return { path, copyFrom: source };
  }
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    return { path, copyFrom: source };
  }
  const hit = reportColumnsHit(report, personal);
  if (hit.length === 0) return { path, copyFrom: source };
  for (const c of hit) masked.add(c);
  if (opts.unmasked) return { path, copyFrom: source };
  return { path, data: JSON.stringify(maskReport(report, personal)) };
}

/** The export's record of masking, and the audit entry of an unmasked one. */
function withPrivacy(
  ctx: TrackingContext,
  written: ExportedFolder,
  personal: MaskColumns,
  touched: ReadonlySet<string>,
  opts: ExportOptions,
  about: { what: string; model?: string; version?: number; details?: Record<string, unknown> },
): ExportedFolder {
  const columns = [...touched].sort();
  if (personal.size === 0 || columns.length === 0) return written;
  if (!opts.unmasked) return { ...written, masked: columns };
  recordUnmasked(ctx.metadata.registry, {
    actor: opts.actor ?? null,
    what: about.what,
    where: written.dir,
    columns,
    ...(about.model !== undefined ? { model: about.model } : {}),
    ...(about.version !== undefined ? { version: about.version } : {}),
    ...(about.details ? { details: about.details } : {}),
  });
  return { ...written, unmasked: columns };
}

interface TensorSpecLike {
  name?: unknown;
  dtype?: unknown;
  shape?: unknown;
}

const MLFLOW_DTYPE: Record<string, string> = {
  FP32: "float32",
  FP64: "float64",
  INT64: "int64",
  BYTES: "object",
};

/** MLflow keeps a signature's inputs and outputs as JSON text of tensor specs. */
function mlflowTensorSpecs(specs: unknown): string {
  const list = Array.isArray(specs) ? (specs as TensorSpecLike[]) : [];
  return JSON.stringify(
    list.map((s) => ({
      name: s.name,
      type: "tensor",
      "tensor-spec": {
        dtype: MLFLOW_DTYPE[String(s.dtype)] ?? String(s.dtype).toLowerCase(),
        shape: s.shape,
      },
    })),
  );
}

/** The ir_version an ONNX file declares: ModelProto field 1, a varint, comes first. */
export function onnxIrVersion(bytes: Uint8Array): number | null {
  if (bytes[0] !== 0x08) return null;
  let value = 0;
  for (let i = 1, shift = 0; i < Math.min(bytes.length, 10); i++, shift += 7) {
    value += (bytes[i]! & 0x7f) * 2 ** shift;
    if (!(bytes[i]! & 0x80)) return value;
  }
  return null;
}

/** "2026-11-26 16:57:07.123000", as MLflow writes utc_time_created. */
function mlflowTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")}.${String(d.getUTCMilliseconds()).padStart(3, "0")}000`;
}

/** The registry file of a version, which must still be there. */
function registryFile(ctx: TrackingContext, v: ModelVersion, rel: string, what: string): string {
  const abs = resolve(ctx.dir, rel);
  if (!isInside(abs, [ctx.dir]) || !existsSync(abs))
    throw new TrackingError(
      `The ${what} of ${v.name} v${v.version} is missing from the registry (${rel}). Register the model again from its run.`,
      "not-found",
    );
  return abs;
}

/**
 * Exports a model version: MLmodel.json, model.onnx, model.json (native),
 * signature.json and lineage.json. Default folder: exports/<name>-v<version>.
 */
export async function exportModelVersion(
  ctx: TrackingContext,
  name: string,
  ref: number | string,
  dir?: string,
  opts: ExportOptions = {},
): Promise<ExportedFolder> {
  const { registry } = ctx.metadata;
  const v = registry.getVersion(name, ref);
  if (!v) {
    if (!registry.getModel(name))
      throw new TrackingError(
        `No registered model "${name}". \`dagwood models list\` shows them.`,
        "not-found",
      );
    throw new TrackingError(
      typeof ref === "number"
        ? `Model "${name}" has no version ${ref}.`
        : `Model "${name}" has no alias "${ref}". \`dagwood models show ${name}\` lists its aliases.`,
      "not-found",
    );
  }
  try {
    await ensureProjectVersionFiles(ctx.dir, v);
  } catch (e) {
    if (e instanceof ArtifactError) throw new TrackingError(e.message, "not-found");
    throw e;
  }
  const onnxFile = registryFile(ctx, v, v.onnxPath, "ONNX file");
  const nativeFile = registryFile(ctx, v, v.nativePath, "native model file");
  const onnxBytes = await readFile(onnxFile);
  let native: { kind?: string; onnx?: { opsets?: Record<string, number> } } = {};
  let nativeText = "";
  try {
    nativeText = await readFile(nativeFile, "utf8");
    native = JSON.parse(nativeText);
  } catch {
    // a native file that does not parse still exports; the flavor says less
  }
  // A models export holds no rows, only the model: its personal values are a text input's fitted
  // categories, which model.onnx and model.json need, so such an export is in clear or not at all.
  const personal = versionPersonalInputs(v);
  const inClear = nativeCategoriesInClear(nativeText, personal, "model.json and model.onnx");
  if (!opts.unmasked) refuseCategoriesInClear(`${name} v${v.version}`, inClear);
  const target = resolveExportDir(ctx.dir, dir, `exports/${name}-v${v.version}`, opts);
  const signature = (v.signature ?? {}) as { inputs?: unknown; outputs?: unknown };
  const opsets = native.onnx?.opsets ?? {};
  const mlmodel = {
    artifact_path: ".",
    run_id: v.runId,
    model_uuid: createHash("sha256")
      .update(`${v.name}\n${v.version}\n${v.modelFingerprint}`)
      .digest("hex")
      .slice(0, 32),
    utc_time_created: mlflowTime(v.createdAt),
    flavors: {
      onnx: {
        data: "model.onnx",
        ir_version: onnxIrVersion(onnxBytes),
        opset: opsets[""] ?? null,
        opsets,
        providers: ["CPUExecutionProvider"],
      },
      dagwood: {
        data: "model.json",
        format: native.kind ?? null,
        estimator: v.estimator,
        task: v.task,
        model_fingerprint: v.modelFingerprint,
        parity: v.parity,
        // Called by entity keys: the feature service whose features fill the inputs.
        ...(v.featureService ? { feature_service: v.featureService } : {}),
      },
    },
    signature: {
      inputs: mlflowTensorSpecs(signature.inputs),
      outputs: mlflowTensorSpecs(signature.outputs),
    },
    metrics: v.metrics,
    params: v.lineage.params,
    registered_model: { name: v.name, version: v.version, aliases: v.aliases, status: v.status },
    lineage: "lineage.json",
  };
  const written = await writeFolder(ctx.dir, target, [
    { path: "MLmodel.json", data: exportJson(mlmodel) },
    { path: "model.onnx", data: onnxBytes },
    { path: "model.json", copyFrom: nativeFile },
    { path: "signature.json", data: exportJson(v.signature) },
    {
      path: "lineage.json",
      data: exportJson({
        model: { name: v.name, version: v.version, fingerprint: v.modelFingerprint },
        ...v.lineage,
      }),
    },
  ]);
  const touched = new Set(inClear.map((c) => c.input));
  return withPrivacy(ctx, written, personal, touched, opts, {
    what: "models export",
    model: v.name,
    version: v.version,
  });
}
