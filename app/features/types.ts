/**
 * The feature store's shared shapes: the definitions a project keeps in
 * `features/*.json` (entities, feature views, feature services — Feast's
 * objects, https://docs.feast.dev/getting-started/concepts), and the online
 * store every backend (SQLite, Redis) implements.
 *
 *   { "format": "dagwood.features/1",
 *     "entities": [{ "name": "driver", "joinKeys": ["driver_id"] }],
 *     "featureViews": [{ "name": "driver_stats", "entities": ["driver"], "ttl": "1d",
 *       "source": { "path": "data/driver_stats.parquet", "timestampField": "event_timestamp" },
 *       "features": [{ "name": "conv_rate", "type": "Float64" }] }],
 *     "featureServices": [{ "name": "driver_activity", "features": ["driver_stats:conv_rate"] }] }
 */
import { z } from "zod";

export const FEATURES_FORMAT = "dagwood.features/1";

/** Names of entities, views, services and features: they appear in `view:feature` references and in store keys. */
export const FEATURE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const name = z.string().regex(FEATURE_NAME, "a name: a letter or _, then letters, digits, _ (at most 128)");

/** Feast's value types (feast/types.py PrimitiveFeastType), as Feast writes them. */
export const FeatureType = z.enum([
  "Int32",
  "Int64",
  "Float32",
  "Float64",
  "String",
  "Bool",
  "UnixTimestamp",
  "Bytes",
]);
export type FeatureType = z.infer<typeof FeatureType>;

export const EntityDefinition = z.strictObject({
  name,
  /** The columns that identify the entity (Feast's join keys), in order. */
  joinKeys: z.array(name).min(1).max(8),
  valueType: FeatureType.optional(),
  description: z.string().max(10_000).default(""),
  owner: z.string().max(256).optional(),
  tags: z.record(z.string(), z.string()).default({}),
});
export type EntityDefinition = z.output<typeof EntityDefinition>;

export const FeatureViewSource = z.union([
  z.strictObject({
    /** A Parquet or CSV file (or glob) relative to the project or in a data folder. */
    path: z.string().min(1).max(4096),
    timestampField: name,
    /** Among rows with the same keys and event time, the latest created time wins. */
    createdTimestampColumn: name.optional(),
  }),
  z.strictObject({
    /** Written by a pipeline's `features.view` block (the view's offline table). */
    block: z.literal(true),
    timestampField: name,
    createdTimestampColumn: name.optional(),
  }),
]);
export type FeatureViewSource = z.output<typeof FeatureViewSource>;

export const FeatureViewDefinition = z.strictObject({
  name,
  entities: z.array(name).min(1).max(8),
  source: FeatureViewSource,
  features: z
    .array(z.strictObject({ name, type: FeatureType }))
    .min(1)
    .max(1000),
  /** How old a feature row may be for an entity row or a lookup ("1d", "12h", "30m"; "0" for no limit), as Feast's ttl. */
  ttl: z.string().regex(/^(0|\d+(\.\d+)?\s*(s|m|h|d|w))$/, 'a duration, e.g. "1d", "12h", or "0" for none'),
  /** Materialised into the online store. */
  online: z.boolean().default(true),
  owner: z.string().max(256).optional(),
  description: z.string().max(10_000).default(""),
  tags: z.record(z.string(), z.string()).default({}),
});
export type FeatureViewDefinition = z.output<typeof FeatureViewDefinition>;

export const FeatureServiceDefinition = z.strictObject({
  name,
  /** `view:feature`, or `view` for all of its features. */
  features: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(:[A-Za-z_][A-Za-z0-9_]*)?$/))
    .min(1)
    .max(10_000),
  owner: z.string().max(256).optional(),
  description: z.string().max(10_000).default(""),
  tags: z.record(z.string(), z.string()).default({}),
});
export type FeatureServiceDefinition = z.output<typeof FeatureServiceDefinition>;

/** One `features/*.json` file. */
export const FeaturesFile = z.strictObject({
  format: z.literal(FEATURES_FORMAT),
  entities: z.array(EntityDefinition).default([]),
  featureViews: z.array(FeatureViewDefinition).default([]),
  featureServices: z.array(FeatureServiceDefinition).default([]),
});
export type FeaturesFile = z.output<typeof FeaturesFile>;

/** Every definition of a project (all its features/*.json), names unique across files. */
export interface FeatureRepo {
  entities: Map<string, EntityDefinition>;
  views: Map<string, FeatureViewDefinition>;
  services: Map<string, FeatureServiceDefinition>;
  /** Which file defines each object ("features/drivers.json"), for messages. */
  files: Map<string, string>;
}

/** A feature value as the online store keeps it: JSON-able (Int64 beyond 2^53 as a decimal string). */
export type FeatureValue = number | string | boolean | null;

/**
 * The online key of an entity: its join-key values in the view's join-key
 * order, as canonical JSON (`[1001]`, `["a", 7]`), so every backend and
 * every reader agree.
 */
export type EntityKey = string;

export interface OnlineRow {
  key: EntityKey;
  /** feature name → value. */
  values: Record<string, FeatureValue>;
  /** ms since the epoch (UTC). */
  eventTs: number;
  /**
   * The JSON text of the values, when the writer has it already (a
   * materialisation gets it from DuckDB): the stores keep it as it is, and
   * `values` is then not read (a materialisation leaves it empty).
   */
  valuesJson?: string;
}

export interface OnlineRecord {
  values: Record<string, FeatureValue>;
  eventTs: number;
}

/** What a materialisation wrote into the online store for a view. */
export interface MaterializationRecord {
  view: string;
  /** The view's definition version (`dagwood features apply`). */
  version: number;
  /** ISO: the event-time window materialised. */
  start: string;
  end: string;
  rows: number;
  at: string;
  ms: number;
}

/**
 * An online store (app/features/online/): SQLite at .dagwood/online.sqlite by
 * default, or Redis. A materialisation is atomic per view: readers see the
 * old values until the new ones are all written; one interrupted changes
 * nothing.
 */
export interface OnlineStore {
  readonly kind: "sqlite" | "redis";
  /** Upserts the rows (the latest row per key already chosen), newer event times only, atomically for the view; records the materialisation. */
  materialize(
    view: string,
    rows: OnlineRow[] | AsyncIterable<OnlineRow[]>,
    record: Omit<MaterializationRecord, "rows" | "at" | "ms">,
  ): Promise<MaterializationRecord>;
  /** Rows pushed as they arrive (`/push`): upserted when newer than what is there. */
  push(view: string, rows: OnlineRow[]): Promise<number>;
  /** The records of `keys` (null: no row for the key), with only `features` in `values`. */
  get(view: string, keys: EntityKey[], features: readonly string[]): Promise<(OnlineRecord | null)[]>;
  /** The last materialisation of each view (for materialize-incremental and the app), newest first per view. */
  materializations(view?: string): Promise<MaterializationRecord[]>;
  close(): Promise<void>;
}
