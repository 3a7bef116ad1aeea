/**
 * Which columns of a thing are personal, and that thing with their values
 * masked (mask.ts): a node output's preview, a version's held-out rows and
 * example request, the reports a run export copies. Masking is the default
 * wherever rows are shown or exported; values in clear need the user to ask
 * and confirm, and are recorded in the audit log as `privacy.unmasked`.
 *
 * A column is personal when it carries one of PERSONAL_TAGS (pii,
 * sensitive); the user's own tags group and describe columns but do not mask
 * them. A registered version's personal inputs are those its
 * ModelLineage.personalData names with a personal tag. No scan kind is
 * recorded with a tag, so values are masked without a kind (maskValue:
 * text keeps its first character, numbers and dates become null).
 *
 * The registry's own heldout.json stays as registered: a deploy's parity
 * check sends those rows to the served model and compares the answers, which
 * needs the real values. Rows leave it masked (inferExample), never the file.
 */
import type { V2Tensor } from "../deploy/client";
import type { AnyDagwoodModel } from "../ml/model";
import type { AuditEntry, ModelVersion, Registry } from "../store/types";
import type { ExplanationReport } from "../values/explanation";
import type { ProfileReport } from "../values/profile";
import { maskRows, maskValue } from "./mask";
import {
  type ColumnTag,
  PERSONAL_TAGS,
  type PersonalDataUse,
  type PiiKind,
  PROJECT_AUDIT_MODEL,
} from "./types";

/** Column name → the kind to mask it as (undefined: no kind known, maskValue's safe default). */
export type MaskColumns = ReadonlyMap<string, PiiKind | undefined>;

export const NO_MASK: MaskColumns = new Map();

export function isPersonalTag(tag: string): boolean {
  return PERSONAL_TAGS.includes(tag);
}

/** The columns with a personal tag, in their order. */
export function personalColumns(
  columns: readonly { name: string; tags?: readonly ColumnTag[] }[],
): MaskColumns {
  return new Map(
    columns.filter((c) => c.tags?.some((t) => isPersonalTag(t.tag))).map((c) => [c.name, undefined]),
  );
}

/** A version's model inputs that carry a personal tag (ModelLineage.personalData). */
export function versionPersonalInputs(version: Pick<ModelVersion, "lineage">): MaskColumns {
  return personalInputsOf(version.lineage.personalData);
}

/** The inputs of these uses (ModelLineage.personalData, a model value's personalData) with a personal tag. */
export function personalInputsOf(uses: readonly PersonalDataUse[] | undefined): MaskColumns {
  return new Map(
    (uses ?? []).filter((u) => u.tags.some((t) => isPersonalTag(t.tag))).map((u) => [u.input, undefined]),
  );
}

/**
 * A model (dagwood.model/1) as the app shows it, with the fitted categories of its personal text inputs
 * masked (a copy; the model itself needs them, so its files keep them: see categoriesInClear).
 */
export function maskModelCategories<T>(model: T, columns: MaskColumns): T {
  const features = (
    model as { preprocess?: { features?: { name: string; kind: string; categories?: unknown[] }[] } }
  ).preprocess?.features;
  if (!Array.isArray(features) || !features.some((f) => f.kind === "categorical" && columns.has(f.name)))
    return model;
  const m = model as { preprocess: Record<string, unknown> };
  return {
    ...model,
    preprocess: {
      ...m.preprocess,
      features: features.map((f) =>
        f.kind === "categorical" && columns.has(f.name) && Array.isArray(f.categories)
          ? { ...f, categories: f.categories.map((c) => maskValue(String(c), columns.get(f.name))) }
          : f,
      ),
    },
  } as T;
}

/** V2 tensors with the personal ones' values masked (a copy). */
export function maskTensors(tensors: readonly V2Tensor[], columns: MaskColumns): V2Tensor[] {
  return tensors.map((t) =>
    columns.has(t.name) ? { ...t, data: t.data.map((v) => maskValue(v, columns.get(t.name))) } : t,
  );
}

export { maskRows };

/**
 * A profile report with the personal columns' values masked: their most
 * frequent values, and the statistics that are one row's value (min, max,
 * quantiles, histogram edges) left out. Counts, nulls and distinct stay.
 */
export function maskProfile(report: ProfileReport, columns: MaskColumns): ProfileReport {
  if (!report.columns.some((c) => columns.has(c.name))) return report;
  return {
    ...report,
    columns: report.columns.map((c) =>
      columns.has(c.name)
        ? {
            ...c,
            min: null,
            max: null,
            quantiles: c.quantiles === null ? null : {},
            histogram: null,
            top:
              c.top?.map((t) => ({ ...t, value: String(maskValue(String(t.value), columns.get(c.name))) })) ??
              null,
          }
        : c,
    ),
  };
}

/**
 * An explanation report with the categories of personal text inputs masked in
 * its partial dependence grid (numeric grids are quantiles or the few distinct
 * values the chart needs, and stay).
 */
export function maskExplanation(report: ExplanationReport, columns: MaskColumns): ExplanationReport {
  const hit = (f: string) => columns.has(f);
  if (!report.partialDependence.some((pd) => hit(pd.feature) && pd.kind === "categorical")) return report;
  return {
    ...report,
    partialDependence: report.partialDependence.map((pd) =>
      hit(pd.feature) && pd.kind === "categorical"
        ? { ...pd, grid: pd.grid.map((g) => String(maskValue(String(g), columns.get(pd.feature)))) }
        : pd,
    ),
  };
}

interface ValidationResultLike {
  expectation_type?: unknown;
  kwargs?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

/** The columns a validation result is about (kwargs column, column_A/column_B, column_list). */
function resultColumns(r: ValidationResultLike): string[] {
  const k = r.kwargs ?? {};
  const out = [k.column, k.column_A, k.column_B, ...(Array.isArray(k.column_list) ? k.column_list : [])];
  return out.filter((c): c is string => typeof c === "string");
}

/** Every value inside masked (booleans stay, numbers become null): for lists and records of a column's values. */
function maskDeep(v: unknown, kind: PiiKind | undefined): unknown {
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, kind));
  if (v !== null && typeof v === "object" && !(v instanceof Date))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskDeep(x, kind)]));
  return maskValue(v, kind);
}

/** Expectations whose observed_value is one or more of the column's values (not a count or an average). */
const OBSERVES_VALUES = /^expect_column_(min|max|median|quantile_values|distinct_values|most_common_value)_/;

/**
 * A validation report (Great Expectations' result) with the values of personal columns masked: the
 * unexpected values listed, an observed value that is the column's own (min, max, median, quantiles,
 * distinct values) and the details. Counts and percentages stay.
 */
export function maskValidation<T>(report: T, columns: MaskColumns): T {
  const results = (report as { results?: ValidationResultLike[] }).results;
  if (!Array.isArray(results)) return report;
  const masked = results.map((r) => {
    const hit = resultColumns(r).filter((c) => columns.has(c));
    if (hit.length === 0 || !r.result) return r;
    const kind = hit.length === 1 ? columns.get(hit[0]!) : undefined;
    const result: Record<string, unknown> = { ...r.result };
    for (const key of ["partial_unexpected_list", "partial_unexpected_counts", "unexpected_list", "details"])
      if (key in result) result[key] = maskDeep(result[key], kind);
    if ("observed_value" in result && OBSERVES_VALUES.test(String(r.expectation_type))) {
      const o = result.observed_value as { quantiles?: unknown; values?: unknown } | null;
      result.observed_value =
        o && typeof o === "object" && !Array.isArray(o) && "quantiles" in o
          ? { ...o, values: maskDeep(o.values, kind) }
          : maskDeep(o, kind);
    }
    return { ...r, result };
  });
  return { ...report, results: masked };
}

/** A report with personal columns' values masked: profiles, explanations and validations; other kinds hold no column values. */
export function maskReport(report: unknown, columns: MaskColumns): unknown {
  if (columns.size === 0) return report;
  const kind = (report as { kind?: unknown } | null)?.kind;
  if (kind === "profile") return maskProfile(report as ProfileReport, columns);
  if (kind === "explanation") return maskExplanation(report as ExplanationReport, columns);
  if (kind === "validation") return maskValidation(report, columns);
  return report;
}

/** The personal columns a report holds values of (a profile's columns, an explanation's categorical features, a validation's columns). */
export function reportColumnsHit(report: unknown, columns: MaskColumns): string[] {
  const r = report as { kind?: unknown } | null;
  if (r?.kind === "profile")
    return (r as ProfileReport).columns.map((c) => c.name).filter((n) => columns.has(n));
  if (r?.kind === "validation") {
    const results = (r as { results?: ValidationResultLike[] }).results;
    const hit = (Array.isArray(results) ? results : []).flatMap((x) =>
      resultColumns(x).filter((c) => columns.has(c)),
    );
    return [...new Set(hit)];
  }
  if (r?.kind === "explanation")
    return (r as ExplanationReport).partialDependence
      .filter((pd) => pd.kind === "categorical" && columns.has(pd.feature))
      .map((pd) => pd.feature);
  return [];
}

/** A personal input whose fitted categories the model itself holds, in clear. */
export interface CategoriesInClear {
  input: string;
  categories: number;
}

/**
 * The personal inputs whose values a model file holds: a text input's fitted
 * categories are part of model.json and model.onnx (the encoder maps them to
 * codes), so masking them would change what the model predicts. An export of
 * such a model carries them in clear, and so needs the user to ask.
 */
export function categoriesInClear(model: AnyDagwoodModel, columns: MaskColumns): CategoriesInClear[] {
  return model.preprocess.features
    .filter((f) => f.kind === "categorical" && columns.has(f.name) && f.categories.length > 0)
    .map((f) => ({ input: f.name, categories: f.kind === "categorical" ? f.categories.length : 0 }));
}

/** What an unmasked read or export records. */
export interface UnmaskedRecord {
  actor: string | null;
  /** What was shown or exported: "models export", "table preview", "example request"… */
  what: string;
  /** Where it went: a folder, "the app", a table name. */
  where: string;
  /** The personal columns shown or exported in clear. */
  columns: readonly string[];
  /** The version concerned; absent for entries about the project. */
  model?: string;
  version?: number;
  /** Anything else worth keeping (a run id, a table). */
  details?: Record<string, unknown>;
}

/** Appends `privacy.unmasked`: model and version for a version's data, else the project's "*". */
export function recordUnmasked(registry: Pick<Registry, "appendAudit">, r: UnmaskedRecord): AuditEntry {
  return registry.appendAudit({
    actor: r.actor,
    action: "privacy.unmasked",
    model: r.model ?? PROJECT_AUDIT_MODEL,
    version: r.model !== undefined && r.version !== undefined ? r.version : null,
    details: { what: r.what, where: r.where, columns: [...r.columns], ...(r.details ?? {}) },
  });
}

/** Whether a request asks for values in clear without confirming it (the Api refuses it with CONFIRM_NEEDED). */
export function unconfirmed(args: {
  unmasked?: boolean | undefined;
  confirm?: boolean | undefined;
}): boolean {
  return args.unmasked === true && args.confirm !== true;
}

/** The error text for an unmasked request that was not confirmed (the Api answers 400 with it). */
export const CONFIRM_NEEDED =
  "Showing personal data in clear needs confirmation: send confirm: true with unmasked: true. The request is recorded in the audit log (privacy.unmasked).";

/**
 * A dataset's test history with the unexpected and observed values of its
 * personal columns masked (`columnTags`: the dataset entry's tags in
 * dagwood.json, as DatasetSummary.columnTags has them); counts stay.
 */
export function maskDatasetTests<
  T extends {
    failed: {
      kwargs: Record<string, unknown>;
      partial_unexpected_list: unknown[];
      observed_value?: unknown;
      expectation_type: string;
    }[];
  },
>(tests: readonly T[], columnTags: Readonly<Record<string, readonly string[]>>): T[] {
  const personal = new Set(
    Object.entries(columnTags)
      .filter(([, tags]) => tags.some(isPersonalTag))
      .map(([column]) => column),
  );
  if (personal.size === 0) return tests.slice();
  return tests.map((t) => ({
    ...t,
    failed: t.failed.map((f) => {
      if (!resultColumns(f).some((c) => personal.has(c))) return f;
      const masked = {
        ...f,
        partial_unexpected_list: f.partial_unexpected_list.map((v) => maskDeep(v, undefined)),
      };
      if ("observed_value" in f && OBSERVES_VALUES.test(f.expectation_type))
        masked.observed_value = maskDeep(f.observed_value, undefined);
      return masked;
    }),
  }));
}
