/**
 * The feature store as the app's Features view shows it (`listFeatures`):
 * the project's definitions (features/*.json), each view's applied version
 * and freshness, the services with the registered models that use them, the
 * online store and its materialisation history. Plain records: the renderer
 * imports these types without the feature store's code.
 */

/** A Feast value type (app/features/types.ts FeatureType). */
export type FeatureValueType =
  | "int32"
  | "int64"
  | "float32"
  | "float64"
  | "string"
  | "bool"
  | "bytes"
  | "unix_timestamp";

/** What a materialisation wrote into the online store for a view (app/features/types.ts MaterializationRecord). */
export interface FeatureMaterialization {
  view: string;
  version: number;
  /** ISO: the event-time window materialised. */
  start: string;
  end: string;
  rows: number;
  at: string;
  ms: number;
}

/** One thing wrong in the definitions, with its file and JSON path. */
export interface FeatureDefinitionProblem {
  file: string;
  path: string;
  message: string;
}

export interface FeatureEntitySummary {
  name: string;
  joinKeys: string[];
  valueType: FeatureValueType | null;
  description: string;
  owner: string | null;
  tags: Record<string, string>;
  /** "features/drivers.json". */
  file: string;
}

export interface FeatureViewSummary {
  name: string;
  file: string;
  entities: string[];
  /** Its entities' join keys, in order (the online key). */
  joinKeys: string[];
  features: { name: string; type: FeatureValueType }[];
  /** "1d", "12h", "0" (no limit). */
  ttl: string;
  online: boolean;
  owner: string | null;
  description: string;
  tags: Record<string, string>;
  /** A file (or glob) in the project, or the table a pipeline's `features.view` block writes. */
  source:
    | { kind: "file"; path: string; timestampField: string; createdTimestampColumn: string | null }
    | { kind: "block"; timestampField: string; createdTimestampColumn: string | null };
  /** The newest version `dagwood features apply` recorded (null: never applied). */
  version: number | null;
  /** The file's definition differs from the applied version (apply again). */
  changedSinceApply: boolean;
  freshness: {
    /** The view's latest materialisation (null: never materialised). */
    lastMaterialized: FeatureMaterialization | null;
    /** ISO: the newest event time in its source; rows in the source (null when it could not be read). */
    newestEvent: string | null;
    rows: number | null;
    /** Why the source could not be read (a block's table not written yet, a file gone), else null. */
    sourceError: string | null;
  };
}

export interface FeatureServiceSummary {
  name: string;
  file: string;
  description: string;
  owner: string | null;
  tags: Record<string, string>;
  /** Its features by view (a service entry naming a whole view lists all of that view's features). */
  features: { view: string; features: string[] }[];
  /** Registered model versions that name this service (registered with it), newest first. */
  models: { name: string; version: number; aliases: string[] }[];
}

export interface FeaturesOverview {
  /** Problems in features/*.json; when there are any, the lists below hold what could still be read (possibly nothing). */
  problems: FeatureDefinitionProblem[];
  /** The online store dagwood.json names: where it is, and why it cannot be reached (null: reachable). */
  online: { kind: "sqlite" | "redis"; location: string; error: string | null };
  entities: FeatureEntitySummary[];
  views: FeatureViewSummary[];
  services: FeatureServiceSummary[];
  /** Materialisations across views, newest first (at most 100). */
  materializations: FeatureMaterialization[];
}

/** A view's apply result (app/features/apply.ts AppliedView). */
export interface FeatureApplyResult {
  entities: number;
  services: number;
  views: {
    name: string;
    version: number;
    changed: boolean;
    file: string;
    rows: number | null;
    newestEvent: string | null;
    unchecked: string | null;
  }[];
}

/** Feast's answer to /get-online-features (app/features/server.ts OnlineFeaturesResponse). */
export interface OnlineFeaturesAnswer {
  metadata: { feature_names: string[] };
  results: {
    values: (number | string | boolean | null)[];
    statuses: ("PRESENT" | "NOT_FOUND" | "OUTSIDE_MAX_AGE")[];
    event_timestamps: string[];
  }[];
}
