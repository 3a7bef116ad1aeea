/**
 * The feature server: Feast's feature-server HTTP protocol
 * (sdk/python/feast/feature_server.py, docs/reference/feature-servers/
 * python-feature-server.md) over a project's definitions and its online
 * store, so Feast's HTTP clients work unchanged. Routes:
 *
 *   GET  /health                    (open)
 *   POST /get-online-features       (open, or the token with --infer-token)
 *   POST /push                      (token)
 *   POST /materialize               (token)
 *   POST /materialize-incremental   (token)
 *
 * The same route table is served on its own (`dagwood features serve`,
 * `createFeatureServer`) and mounted in the model server (`dagwood serve
 * --project DIR`, `featureServeRoutes`), with the model server's checks:
 * Host and Origin, the token, the body limit (413), `{"error": …}` answers.
 *
 * The answer of /get-online-features is Feast's `GetOnlineFeaturesResponse`
 * as its server writes it (MessageToDict with feast/proto_json.py's patches):
 * `metadata.feature_names` lists the entity key columns given in `entities`,
 * then the features, grouped by view in the order the views are first named
 * (Feast orders features within a view as a Python set does, so its clients
 * find a column by name); `results` has one entry per name (column-major,
 * protos/feast/serving/ServingService.proto: the docs' example still shows
 * the older row-major answer), each with a value, a status and an event
 * timestamp per entity row. Join keys carry the timestamp
 * 1970-01-01T00:00:00Z; a key with no row is NOT_FOUND with a null value and
 * that same zero timestamp; a row older than its view's TTL is
 * OUTSIDE_MAX_AGE (Feast's FieldStatus), its value kept for the caller to
 * judge (Feast's Python server does not check the TTL on online reads:
 * feast/utils.py `_populate_response_from_feature_data`).
 *
 * A push names its feature view as `push_source_name` (the views are their
 * own push sources here) and goes to the online store, the offline store or
 * both (`to`, as Feast's PushMode).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  answerFailure,
  BodyTooLarge,
  bearerToken,
  findRoute,
  HostGuard,
  JsonText,
  listenHttp,
  type RouteSpec,
  readBody,
  sendJson,
  Token,
} from "../net/http-guard";
import { parseJson, type ServeRoute } from "../serving/routes";
import { RequestError, type TensorMeta, type V2Tensor } from "../serving/tensors";
import { entityKey, OnlineStoreError } from "./online/values";
import { type FeatureRef, FeatureRefError, resolveFeatureRefs, ttlMs, viewJoinKeys } from "./repo";
import type {
  EntityKey,
  FeatureRepo,
  FeatureValue,
  FeatureViewDefinition,
  OnlineRecord,
  OnlineRow,
  OnlineStore,
} from "./types";

/** What the feature routes read and write. */
export interface FeatureService {
  /** The definitions (a function: read again per request, e.g. after `features apply`). */
  repo: FeatureRepo | (() => FeatureRepo);
  store: OnlineStore;
  /** `/materialize`; without it the route answers 501 naming what is missing. */
  materialize?: (options: { start: Date; end: Date; views?: string[] }) => Promise<unknown>;
  /** `/materialize-incremental`. */
  materializeIncremental?: (options: { end: Date; views?: string[] }) => Promise<unknown>;
  /**
   * `/push` with `to: "offline"` or `"online_and_offline"`: appends the rows
   * to the view's offline store (app/features/offline-push.ts
   * appendOfflineRows), answering how many; a frame that does not fit the
   * view is a RequestError naming its column and row. Without it those
   * pushes answer 501.
   */
  pushOffline?: (repo: FeatureRepo, view: FeatureViewDefinition, frame: PushFrame) => Promise<number>;
  /** ms since the epoch, for TTL checks (tests pin it). */
  now?: () => number;
}

export type FeatureStatus = "PRESENT" | "NOT_FOUND" | "OUTSIDE_MAX_AGE";

/** Feast's answer to /get-online-features. */
export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: { values: FeatureValue[]; statuses: FeatureStatus[]; event_timestamps: string[] }[];
}

/** An unset protobuf Timestamp, as Feast answers for join keys and rows not found (feast/utils.py `null_ts`). */
const ZERO_TIMESTAMP = "1970-01-01T00:00:00Z";

/** The last timestamp written: rows materialised together often share their event time. */
let lastStamp = { ms: Number.NaN, text: "" };

/** A protobuf Timestamp in JSON (RFC 3339, UTC, fractional seconds only when there are some). */
function timestamp(ms: number): string {
  if (ms === lastStamp.ms) return lastStamp.text;
  const iso = new Date(ms).toISOString();
  const text = iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso;
  lastStamp = { ms, text };
  return text;
}

/** Body limits: lookups and pushes carry rows; materialize calls are small. */
export const FEATURE_BODY_LIMIT = 8 * 1024 * 1024;
export const FEATURE_CONTROL_BODY_LIMIT = 64 * 1024;

function repoOf(service: FeatureService): FeatureRepo {
  return typeof service.repo === "function" ? service.repo() : service.repo;
}

function parseBody(body: Buffer): Record<string, unknown> {
  const value = parseJson(body, false);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RequestError("the request body must be a JSON object");
  return value as Record<string, unknown>;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new RequestError(`"${field}" must be a list of strings`);
  return value as string[];
}

/** `entities: {key: [values]}`: every column a list of the same length, values JSON scalars. */
function entityColumns(value: unknown): { names: string[]; columns: FeatureValue[][]; rows: number } {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RequestError(
      '"entities" must be an object of join key → list of values, e.g. {"driver_id": [1001]}',
    );
  const names = Object.keys(value);
  if (names.length === 0) throw new RequestError('"entities" names no join key');
  const columns = names.map((n) => (value as Record<string, unknown>)[n]);
  let rows = -1;
  names.forEach((n, i) => {
    const column = columns[i];
    if (!Array.isArray(column)) throw new RequestError(`entities.${n} must be a list of values`);
    if (
      column.some(
        (v) => v === null || (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean"),
      )
    )
      throw new RequestError(`entities.${n} holds a value that is not a number, string or boolean`);
    if (rows >= 0 && column.length !== rows)
      throw new RequestError(
        `the entity columns differ in length (${names[0]}: ${rows} values, ${n}: ${column.length}); give one value per row in each`,
      );
    rows = column.length;
  });
  return { names, columns: columns as FeatureValue[][], rows };
}

/** The features asked for, as Feast reads them: `features` or `feature_service`, unknown names a 400 naming them. */
function requestedFeatures(repo: FeatureRepo, body: Record<string, unknown>): FeatureRef[] {
  const features = stringList(body.features, "features");
  const service = body.feature_service;
  if (service !== undefined && service !== null && typeof service !== "string")
    throw new RequestError('"feature_service" must be a feature service name');
  if (features !== undefined && typeof service === "string")
    throw new RequestError('give "features" or "feature_service", not both');
  if (features === undefined && typeof service !== "string")
    throw new RequestError('name the features ("features": ["view:feature", …]) or a "feature_service"');
  // A lookup names single features; `view` alone (all of a view) is for services and training sets.
  const whole = (features ?? []).filter((f) => !f.includes(":"));
  if (whole.length)
    throw new RequestError(`${whole.map((f) => `"${f}"`).join(", ")}: name each feature as view:feature`);
  try {
    return resolveFeatureRefs(repo, typeof service === "string" ? { service } : { features: features! });
  } catch (e) {
    if (e instanceof FeatureRefError) throw new RequestError(e.message);
    throw e;
  }
}

/**
 * What a lookup of one request shape (the features or service, full names or
 * not, the entity columns it names) reads and answers: worked out once per
 * shape and definitions, then reused by every request of that shape.
 */
interface LookupPlan {
  /** The answer's `metadata.feature_names`: the entity columns, then the features. */
  featureNames: string[];
  views: {
    name: string;
    features: string[];
    /** The view's join keys as indices into the request's entity columns, in the view's join-key order. */
    keyAt: number[];
    /** ms; 0: no limit. */
    ttl: number;
  }[];
  /** The answer's JSON text up to its first result: `{"metadata":{"feature_names":[…]},"results":[`. */
  head: string;
}

/** Plans per definitions (a reload brings new definitions, so new plans), at most PLAN_CACHE_SIZE shapes each. */
const plans = new WeakMap<FeatureRepo, Map<string, LookupPlan>>();
const PLAN_CACHE_SIZE = 256;

/** A request's shape as text; undefined without an entities object (no plan: the checks say what is wrong). */
function shapeOf(body: Record<string, unknown>): string | undefined {
  const entities = body.entities;
  if (typeof entities !== "object" || entities === null || Array.isArray(entities)) return undefined;
  return JSON.stringify([
    body.features ?? null,
    body.feature_service ?? null,
    body.full_feature_names ?? false,
    Object.keys(entities),
  ]);
}

/** The views to read for `refs` and the answer's names; join keys missing from `entityNames`, or extra ones, are a 400. */
function planLookup(
  repo: FeatureRepo,
  refs: readonly FeatureRef[],
  fullNames: boolean,
  entityNames: readonly string[],
): LookupPlan {
  const byView = new Map<string, string[]>();
  for (const r of refs) {
    const list = byView.get(r.view);
    if (list) list.push(r.feature);
    else byView.set(r.view, [r.feature]);
  }
  const columnAt = new Map(entityNames.map((n, i) => [n, i]));
  const needed = new Set<string>();
  const missing: string[] = [];
  const views: LookupPlan["views"] = [];
  for (const [viewName, features] of byView) {
    const view = repo.views.get(viewName)!;
    const joinKeys = viewJoinKeys(repo, view);
    for (const key of joinKeys) {
      needed.add(key);
      if (!columnAt.has(key)) missing.push(`${key} (for ${viewName})`);
    }
    views.push({
      name: viewName,
      features,
      keyAt: joinKeys.map((k) => columnAt.get(k)!),
      ttl: ttlMs(view.ttl),
    });
  }
  if (missing.length)
    throw new RequestError(
      `"entities" lacks the join key${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
    );
  const extra = entityNames.filter((n) => !needed.has(n));
  if (extra.length)
    throw new RequestError(
      `"entities" names ${extra.join(", ")}, not a join key of the views asked for (they use: ${[...needed].join(", ")})`,
    );
  const featureNames = [...entityNames];
  for (const v of views) for (const f of v.features) featureNames.push(fullNames ? `${v.name}__${f}` : f);
  return {
    featureNames,
    views,
    head: `{"metadata":{"feature_names":${JSON.stringify(featureNames)}},"results":[`,
  };
}

type EntityColumns = ReturnType<typeof entityColumns>;

/** A request's plan (from the cache when its shape was seen with these definitions) and its entity columns. */
function lookupRequest(
  repo: FeatureRepo,
  body: Record<string, unknown>,
): { plan: LookupPlan; entities: EntityColumns } {
  const shape = shapeOf(body);
  let cache = plans.get(repo);
  const known = shape === undefined ? undefined : cache?.get(shape);
  if (known) return { plan: known, entities: entityColumns(body.entities) };
  // A shape not seen yet: every check, in the order a request is read.
  const refs = requestedFeatures(repo, body);
  const fullNames = body.full_feature_names ?? false;
  if (typeof fullNames !== "boolean") throw new RequestError('"full_feature_names" must be true or false');
  const entities = entityColumns(body.entities);
  const plan = planLookup(repo, refs, fullNames, entities.names);
  if (shape !== undefined) {
    if (!cache) {
      cache = new Map();
      plans.set(repo, cache);
    }
    if (cache.size >= PLAN_CACHE_SIZE) cache.clear();
    cache.set(shape, plan);
  }
  return { plan, entities };
}

/** One view's rows for the entity rows, with each row's status and event timestamp. */
interface ViewRows {
  records: (OnlineRecord | null)[];
  statuses: FeatureStatus[];
  eventTimestamps: string[];
}

/** Reads each view of the plan for the entity rows (one store call per view, the views at once). */
async function readViews(
  service: FeatureService,
  plan: LookupPlan,
  entities: EntityColumns,
): Promise<ViewRows[]> {
  const now = service.now?.() ?? Date.now();
  const read = async (view: LookupPlan["views"][number]): Promise<ViewRows> => {
    const keys: EntityKey[] = [];
    const keyColumns = view.keyAt.map((i) => entities.columns[i]!);
    for (let row = 0; row < entities.rows; row++) keys.push(entityKey(keyColumns.map((c) => c[row])));
    const records = await storeCall(() => service.store.get(view.name, keys, view.features));
    const statuses: FeatureStatus[] = [];
    const eventTimestamps: string[] = [];
    for (const record of records) {
      if (record === null) {
        statuses.push("NOT_FOUND");
        eventTimestamps.push(ZERO_TIMESTAMP);
      } else {
        statuses.push(view.ttl > 0 && now - record.eventTs > view.ttl ? "OUTSIDE_MAX_AGE" : "PRESENT");
        eventTimestamps.push(timestamp(record.eventTs));
      }
    }
    return { records, statuses, eventTimestamps };
  };
  return plan.views.length === 1 ? [await read(plan.views[0]!)] : await Promise.all(plan.views.map(read));
}

/** /get-online-features: the features of each entity row from the online store, in Feast's shape. */
export async function getOnlineFeatures(
  service: FeatureService,
  body: Record<string, unknown>,
): Promise<OnlineFeaturesResponse> {
  const { plan, entities } = lookupRequest(repoOf(service), body);
  const read = await readViews(service, plan, entities);
  const results: OnlineFeaturesResponse["results"] = entities.columns.map((values) => ({
    values,
    statuses: values.map(() => "PRESENT" as const),
    event_timestamps: values.map(() => ZERO_TIMESTAMP),
  }));
  plan.views.forEach((view, i) => {
    const { records, statuses, eventTimestamps } = read[i]!;
    for (const feature of view.features)
      results.push({
        values: records.map((r) => (r === null ? null : (r.values[feature] ?? null))),
        statuses: statuses.slice(),
        event_timestamps: eventTimestamps.slice(),
      });
  });
  return { metadata: { feature_names: [...plan.featureNames] }, results };
}

/** A feature value as JSON (what JSON.stringify writes for it). */
function jsonValue(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  return JSON.stringify(v) ?? "null";
}

/** `count` copies of a JSON value as a JSON list. */
function repeatedList(json: string, count: number): string {
  return count === 0 ? "[]" : `[${`${json},`.repeat(count - 1)}${json}]`;
}

/**
 * /get-online-features answered as JSON text: the answer of
 * getOnlineFeatures, written out directly instead of built as objects and
 * then serialised (the lookup's hot path).
 */
export async function getOnlineFeaturesJson(
  service: FeatureService,
  body: Record<string, unknown>,
): Promise<string> {
  const { plan, entities } = lookupRequest(repoOf(service), body);
  const read = await readViews(service, plan, entities);
  const keyColumnTail = `],"statuses":${repeatedList('"PRESENT"', entities.rows)},"event_timestamps":${repeatedList(`"${ZERO_TIMESTAMP}"`, entities.rows)}}`;
  let out = plan.head;
  let first = true;
  for (const values of entities.columns) {
    out += `${first ? "" : ","}{"values":[${values.map(jsonValue).join(",")}${keyColumnTail}`;
    first = false;
  }
  plan.views.forEach((view, i) => {
    const { records, statuses, eventTimestamps } = read[i]!;
    const tail = `],"statuses":${JSON.stringify(statuses)},"event_timestamps":${JSON.stringify(eventTimestamps)}}`;
    for (const feature of view.features) {
      let values = "";
      for (let row = 0; row < records.length; row++) {
        const r = records[row]!;
        values += `${row === 0 ? "" : ","}${r === null ? "null" : jsonValue(r.values[feature])}`;
      }
      out += `,{"values":[${values}${tail}`;
    }
  });
  return `${out}]}`;
}

/** What an infer by entity adds: the inputs filled from features, and which values were missing or stale. */
export interface EntityInputs {
  inputs: V2Tensor[];
  /**
   * V2 response parameters (a value is a string, a number or a boolean, so
   * each map travels as JSON text): `features_not_found` and
   * `features_outside_max_age`, input name → the entity rows (0-based) affected.
   */
  parameters: { features_not_found: string; features_outside_max_age: string };
}

/**
 * The inputs of a model registered with a feature service, looked up for the
 * entity rows of an infer's `parameters.entities` (`{key: [values]}`, as in
 * /get-online-features). An input takes the feature of its name (`feature`,
 * or `view__feature` when two views share the name) or a join key's values;
 * inputs the request gives itself (`given`) are left alone. A value not
 * found is a missing value (null: NaN in a float input, "" in a text one);
 * an integer or boolean input cannot hold one, and is a 400 naming the rows.
 */
export async function entityInputs(
  service: FeatureService,
  featureService: string,
  inputs: readonly TensorMeta[],
  entities: unknown,
  given: ReadonlySet<string>,
): Promise<EntityInputs> {
  const answer = await getOnlineFeatures(service, {
    feature_service: featureService,
    entities,
    full_feature_names: true,
  });
  const entityCount = Object.keys(entities as object).length;
  const columns = new Map<string, number>();
  const plainCount = new Map<string, number>();
  answer.metadata.feature_names.forEach((fullName, i) => {
    columns.set(fullName, i);
    if (i < entityCount) return;
    const plain = fullName.slice(fullName.indexOf("__") + 2);
    plainCount.set(plain, (plainCount.get(plain) ?? 0) + 1);
    if (!columns.has(plain)) columns.set(plain, i);
  });
  const notFound: Record<string, number[]> = {};
  const stale: Record<string, number[]> = {};
  const filled: V2Tensor[] = [];
  const unfilled: string[] = [];
  for (const input of inputs) {
    if (given.has(input.name)) continue;
    const at = columns.get(input.name);
    if (at === undefined || (plainCount.get(input.name) ?? 0) > 1) {
      unfilled.push(input.name);
      continue;
    }
    const column = answer.results[at]!;
    const rows = column.values.length;
    if (!(input.shape.length === 1 || (input.shape.length === 2 && input.shape[1] === 1)))
      throw new RequestError(
        `input "${input.name}" has shape [${input.shape.join(", ")}]: features fill inputs of one value per row ([-1] or [-1, 1])`,
      );
    const missingRows = column.statuses.flatMap((st, row) => (st === "NOT_FOUND" ? [row] : []));
    const staleRows = column.statuses.flatMap((st, row) => (st === "OUTSIDE_MAX_AGE" ? [row] : []));
    if (missingRows.length) notFound[input.name] = missingRows;
    if (staleRows.length) stale[input.name] = staleRows;
    const nullable = input.datatype === "BYTES" || input.datatype.startsWith("FP");
    const nullRows = column.values.flatMap((v, row) => (v === null ? [row] : []));
    if (nullRows.length && !nullable)
      throw new RequestError(
        `input "${input.name}" is ${input.datatype} and has no value for entity row${nullRows.length > 1 ? "s" : ""} ${nullRows.join(", ")} (${missingRows.length ? "not in the online store" : "null"}); materialise the features, or give the input yourself`,
      );
    filled.push({
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.length === 1 ? [rows] : [rows, 1],
      data: column.values,
    });
  }
  if (unfilled.length)
    throw new RequestError(
      `feature service "${featureService}" has no feature for input${unfilled.length > 1 ? "s" : ""} ${unfilled.map((n) => `"${n}"`).join(", ")} (it gives: ${answer.metadata.feature_names.join(", ")}); give ${unfilled.length > 1 ? "them" : "it"} in "inputs"`,
    );
  return {
    inputs: filled,
    parameters: {
      features_not_found: JSON.stringify(notFound),
      features_outside_max_age: JSON.stringify(stale),
    },
  };
}

/**
 * An event timestamp in a pushed row: ISO text (Feast's docs push
 * "2022-05-13 10:59:42", read as UTC when it names no zone) or ms since the epoch.
 */
function eventTime(value: unknown, column: string, row: number): number {
  let ms = Number.NaN;
  if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    const text = value.trim().replace(" ", "T");
    ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes("T") ? text : `${text}Z`);
  }
  if (!Number.isFinite(ms))
    throw new RequestError(
      `df.${column}[${row}] is not a timestamp (${JSON.stringify(value)}); write ISO 8601 text`,
    );
  return ms;
}

/** A pushed `df`: column name → one value per row. */
export interface PushFrame {
  columns: Map<string, unknown[]>;
  rows: number;
}

/**
 * /push: `{push_source_name, df: {column: [values]}, to}`. A push source
 * names the feature view it feeds (the views are the push sources here);
 * `df` holds the view's join keys, its timestamp field and all of its
 * features. `to: "online"` (the default) upserts the rows in the online
 * store when newer; `"offline"` appends them to the view's offline store
 * (service.pushOffline), where training sets and materialisations read
 * them; `"online_and_offline"` checks the rows for both, writes them
 * offline first, then online. If the online write then fails (the online
 * store away: a 503), the rows stay offline and the answer says so: they
 * come online with the next materialisation of their window, or by pushing
 * them again with `"to": "online"`. Answers the rows written (online, or
 * offline for an offline-only push).
 */
export async function pushFeatures(service: FeatureService, body: Record<string, unknown>): Promise<number> {
  const repo = repoOf(service);
  const sourceName = body.push_source_name;
  if (typeof sourceName !== "string" || sourceName === "")
    throw new RequestError('"push_source_name" must name the feature view to push to');
  const view = repo.views.get(sourceName);
  if (!view) {
    const known = [...repo.views.keys()];
    throw new RequestError(
      `unknown push source "${sourceName}": push to a feature view by its name (known: ${known.length ? known.join(", ") : "none"})`,
    );
  }
  const to = body.to ?? "online";
  if (to !== "online" && to !== "offline" && to !== "online_and_offline")
    throw new RequestError(
      `"to" must be "online", "offline" or "online_and_offline", not ${JSON.stringify(to)}`,
    );
  if (to !== "online" && !service.pushOffline)
    throw new RequestError(
      `"to": "${to}" is not available on this server (it was started without the project's offline store); push with "to": "online", or to a server started with --project`,
      501,
    );
  // As materialisation never brings an offline-only view online, a push does not either.
  if (to !== "offline" && !view.online)
    throw new RequestError(
      `feature view "${view.name}" is offline only ("online": false), so it has no online rows: push with "to": "offline", or set "online": true in its definition to serve it`,
    );
  const df = entityFrame(body.df);
  if (to === "offline") return service.pushOffline!(repo, view, df);
  const rows = onlineRows(repo, view, df);
  if (to === "online_and_offline") await service.pushOffline!(repo, view, df);
  try {
    return await storeCall(() => service.store.push(view.name, rows));
  } catch (e) {
    if (to === "online_and_offline" && e instanceof RequestError)
      throw new RequestError(
        `${e.message} The ${df.rows} row${df.rows === 1 ? " was" : "s were"} written to the offline store of ${view.name} before this: they come online with the next materialisation of their window, or push them again with "to": "online".`,
        e.status,
      );
    throw e;
  }
}

/** The online rows of a pushed frame, checked: the view's join keys, its timestamp field and every feature, no other column. */
function onlineRows(repo: FeatureRepo, view: FeatureViewDefinition, df: PushFrame): OnlineRow[] {
  const joinKeys = viewJoinKeys(repo, view);
  const tsField = view.source.timestampField;
  const lacking = [...joinKeys, tsField].filter((c) => !df.columns.has(c));
  if (lacking.length)
    throw new RequestError(`"df" lacks the column${lacking.length > 1 ? "s" : ""} ${lacking.join(", ")}`);
  const featureNames = new Set(view.features.map((f) => f.name));
  const createdColumn = view.source.createdTimestampColumn;
  const unknown = [...df.columns.keys()].filter(
    (c) => !featureNames.has(c) && !joinKeys.includes(c) && c !== tsField && c !== createdColumn,
  );
  if (unknown.length)
    throw new RequestError(
      `"df" has column${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}, not in view ${view.name} (features: ${[...featureNames].join(", ")})`,
    );
  // A pushed row replaces the key's row whole, as a materialised one does: it carries every feature.
  const pushed = [...featureNames];
  const absent = pushed.filter((f) => !df.columns.has(f));
  if (absent.length)
    throw new RequestError(
      `"df" lacks the feature${absent.length > 1 ? "s" : ""} ${absent.join(", ")} of ${view.name}: a pushed row carries every feature of its view (null where unknown)`,
    );
  const rows: OnlineRow[] = [];
  for (let i = 0; i < df.rows; i++) {
    const values: Record<string, FeatureValue> = {};
    for (const f of pushed) values[f] = df.columns.get(f)![i] as FeatureValue;
    const key = joinKeys.map((k) => df.columns.get(k)![i]);
    if (key.some((v) => v === null || v === undefined))
      throw new RequestError(`row ${i} of "df" has no value for a join key (${joinKeys.join(", ")})`);
    rows.push({
      key: entityKey(key),
      values,
      eventTs: eventTime(df.columns.get(tsField)![i], tsField, i),
    });
  }
  return rows;
}

/** The online store away (Redis down, a damaged file): a 503 with its message, which says what to do. */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof OnlineStoreError) throw new RequestError(e.message, 503);
    throw e;
  }
}

function entityFrame(value: unknown): PushFrame {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RequestError('"df" must be an object of column → list of values');
  const columns = new Map<string, unknown[]>();
  let rows = -1;
  for (const [name, column] of Object.entries(value)) {
    if (!Array.isArray(column)) throw new RequestError(`df.${name} must be a list of values`);
    if (column.some((v) => v !== null && typeof v === "object"))
      throw new RequestError(`df.${name} holds a list or object; give one scalar per row`);
    if (rows >= 0 && column.length !== rows)
      throw new RequestError(
        `the columns of "df" differ in length (${name}: ${column.length}, others: ${rows})`,
      );
    rows = column.length;
    columns.set(name, column);
  }
  if (rows < 0) throw new RequestError('"df" has no columns');
  return { columns, rows };
}

/** A time in a materialize call (Feast parses it with dateutil; here ISO 8601, UTC when it names no zone). */
function requestTime(value: unknown, field: string): Date {
  if (typeof value !== "string")
    throw new RequestError(`"${field}" must be an ISO 8601 time, e.g. 2024-01-31T00:00:00Z`);
  const text = value.trim().replace(" ", "T");
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes("T") ? text : `${text}Z`);
  if (!Number.isFinite(ms)) throw new RequestError(`"${field}" is not a time: ${JSON.stringify(value)}`);
  return new Date(ms);
}

function viewList(service: FeatureService, value: unknown): string[] | undefined {
  const views = stringList(value, "feature_views");
  if (!views) return undefined;
  const repo = repoOf(service);
  const unknown = views.filter((v) => !repo.views.has(v));
  if (unknown.length)
    throw new RequestError(
      `unknown feature view${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} in "feature_views": name views of features/*.json (known: ${[...repo.views.keys()].join(", ") || "none"}), or leave "feature_views" out to materialise them all`,
    );
  return views;
}

function notServed(what: string): RequestError {
  return new RequestError(
    `${what} is not available on this server (it was started without an offline source)`,
    501,
  );
}

export type FeatureAuth = "none" | "read" | "write";

/** One feature route: its handler returns the JSON to answer (Feast answers null for push and materialize; undefined: an empty 200). */
export interface FeatureRoute
  extends RouteSpec<FeatureAuth, (service: FeatureService, body: Buffer) => Promise<unknown>> {
  bodyLimit: number;
}

export const FEATURE_ROUTES: readonly FeatureRoute[] = [
  {
    // Feast's liveness probe (an empty 200 once the definitions are loaded, as they are from the start here).
    name: "health",
    methods: ["GET"],
    path: "/health",
    match: (s) => (s.length === 1 && s[0] === "health" ? {} : undefined),
    auth: "none",
    bodyLimit: FEATURE_CONTROL_BODY_LIMIT,
    handle: async () => undefined,
  },
  {
    name: "get-online-features",
    methods: ["POST"],
    path: "/get-online-features",
    match: (s) => (s.length === 1 && s[0] === "get-online-features" ? {} : undefined),
    auth: "read",
    bodyLimit: FEATURE_BODY_LIMIT,
    handle: async (service, body) => new JsonText(await getOnlineFeaturesJson(service, parseBody(body))),
  },
  {
    name: "push",
    methods: ["POST"],
    path: "/push",
    match: (s) => (s.length === 1 && s[0] === "push" ? {} : undefined),
    auth: "write",
    bodyLimit: FEATURE_BODY_LIMIT,
    handle: async (service, body) => {
      await pushFeatures(service, parseBody(body));
      return null;
    },
  },
  {
    name: "materialize",
    methods: ["POST"],
    path: "/materialize",
    match: (s) => (s.length === 1 && s[0] === "materialize" ? {} : undefined),
    auth: "write",
    bodyLimit: FEATURE_CONTROL_BODY_LIMIT,
    handle: async (service, body) => {
      const b = parseBody(body);
      const start = requestTime(b.start_ts, "start_ts");
      const end = requestTime(b.end_ts, "end_ts");
      if (start.getTime() > end.getTime()) throw new RequestError('"start_ts" is after "end_ts"');
      const views = viewList(service, b.feature_views);
      if (!service.materialize) throw notServed("materialize");
      await service.materialize(views ? { start, end, views } : { start, end });
      return null;
    },
  },
  {
    name: "materialize-incremental",
    methods: ["POST"],
    path: "/materialize-incremental",
    match: (s) => (s.length === 1 && s[0] === "materialize-incremental" ? {} : undefined),
    auth: "write",
    bodyLimit: FEATURE_CONTROL_BODY_LIMIT,
    handle: async (service, body) => {
      const b = parseBody(body);
      const end = requestTime(b.end_ts, "end_ts");
      const views = viewList(service, b.feature_views);
      if (!service.materializeIncremental) throw notServed("materialize-incremental");
      await service.materializeIncremental(views ? { end, views } : { end });
      return null;
    },
  },
];

/** The feature routes as model-server routes, for `dagwood serve --project DIR`. */
export function featureServeRoutes(service: FeatureService): ServeRoute[] {
  return FEATURE_ROUTES.map(
    (r): ServeRoute => ({
      name: r.name,
      methods: r.methods,
      path: r.path,
      match: r.match,
      auth: r.auth,
      // Lookups and pushes follow --max-infer-bytes, as infer does.
      bodyLimit: r.bodyLimit === FEATURE_BODY_LIMIT ? "infer" : r.bodyLimit,
      handle: async (_state, call) => sendJson(call.res, 200, await r.handle(service, call.body)),
    }),
  );
}

export interface FeatureServerOptions {
  /** Bearer token for push and materialize; without it those are refused. */
  token?: string;
  /** Require the token for get-online-features too. */
  inferToken?: boolean;
  /** Largest lookup or push body (default 8 MiB). */
  maxBodyBytes?: number;
  log?: (message: string) => void;
}

export interface FeatureServer {
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  readonly url: string;
}

const NO_TOKEN =
  "this server has no token, so push and materialize calls are refused; start it with --token-file or DAGWOOD_SERVE_TOKEN";
const WRONG_TOKEN = "missing or wrong bearer token (Authorization: Bearer <token>)";

/** `dagwood features serve`: the feature routes on their own, with the model server's checks. */
export function createFeatureServer(
  service: FeatureService,
  options: FeatureServerOptions = {},
): FeatureServer {
  const token = options.token ? new Token(options.token) : undefined;
  const log = options.log ?? ((m: string) => process.stderr.write(`dagwood features serve: ${m}\n`));
  let hosts = new HostGuard();
  let url = "";

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host;
    if (!hosts.hostAllowed(host))
      throw new RequestError(
        `unknown Host ${JSON.stringify(host ?? "")}: a server bound to loopback answers only requests for ${hosts.names.join(", ")}`,
        403,
      );
    if (!hosts.originAllowed(req.headers.origin, host))
      throw new RequestError(
        `cross-origin request refused: Origin ${JSON.stringify(req.headers.origin)} is not this server; call it from a program, not from a web page`,
        403,
      );
    const rawUrl = req.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    const path = (queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt)).split("/").slice(1);
    const method = req.method ?? "GET";
    const found = findRoute(FEATURE_ROUTES, path, method);
    if (!found) throw new RequestError("no such route", 404);
    if (!found.route)
      throw Object.assign(
        new RequestError(`${method} is not allowed here; use ${found.allowed.join(" or ")}`, 405),
        {
          allow: found.allowed.join(", "),
        },
      );
    const route = found.route;
    if (route.auth === "write" || (route.auth === "read" && options.inferToken)) {
      if (!token) throw new RequestError(NO_TOKEN, 401);
      if (!token.matches(bearerToken(req.headers.authorization))) throw new RequestError(WRONG_TOKEN, 401);
    }
    const limit =
      route.bodyLimit === FEATURE_BODY_LIMIT ? (options.maxBodyBytes ?? FEATURE_BODY_LIMIT) : route.bodyLimit;
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (e) {
      if (e instanceof BodyTooLarge)
        throw new RequestError(
          `the ${route.name} body is larger than ${limit} bytes, the limit for ${route.name} requests`,
          413,
        );
      throw e;
    }
    sendJson(res, 200, await route.handle(service, body));
  }

  const http = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof RequestError ? e.status : 500;
      if (status === 500) log(`internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? e}`);
      answerFailure(req, res, status, e);
    });
  });
  http.keepAliveTimeout = 65_000;

  return {
    get url() {
      return url;
    },
    async listen(port = 6566, host = "127.0.0.1") {
      ({ url, hosts } = await listenHttp(http, port, host));
      return url;
    },
    async close() {
      await new Promise<void>((resolvePromise) => {
        http.close(() => resolvePromise());
        http.closeIdleConnections();
        setTimeout(() => http.closeAllConnections(), 5000).unref();
      });
    },
  };
}
