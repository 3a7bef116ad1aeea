import { createHash } from "node:crypto";
import type { SqlSession } from "../data/sql";
import type { Workspace } from "../data/workspace";
import {
  describeUseWithTags,
  inputTagsKey,
  modelInputs,
  personalDataUses,
  propagateTags,
} from "../privacy/tags";
import type { ColumnTag, PersonalDataUse } from "../privacy/types";
import type { DatasetRecord, MetadataStore, Registry } from "../store/types";
import {
  type AnyBlock,
  type BlockContext,
  BlockError,
  type BlockInputs,
  type DatasetSource,
  type DataTestInfo,
} from "./block";
import type { ColumnInfo, PortValue, TableValue } from "./ports";

/** Stable JSON: object keys sorted, so equal values hash equally. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * The registry state a model name's cached outputs depend on: its ready
 * versions with their model fingerprints, and its aliases. Archiving a
 * version, moving an alias by hand or opening a new database changes it.
 */
export function registryState(registry: Registry, name: string): string {
  const model = registry.getModel(name);
  if (!model) return "";
  const versions = registry
    .listVersions(name)
    .filter((v) => v.status === "ready")
    .map((v) => `${v.version}:${v.modelFingerprint}`)
    .sort();
  return stableStringify({ versions, aliases: model.aliases });
}

/** Parses raw params with the block's schema; a failure lists every bad field. */
export function parseParams(block: AnyBlock, raw: unknown): unknown {
  const parsed = block.params.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.length ? i.path.join(".") : "params"}: ${i.message}`,
    );
    throw new BlockError(`Invalid params for ${block.kind}: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/**
 * Runs one block and turns what it returns into port values: tables are
 * described and fingerprinted, JSON outputs are fingerprinted. Used by the
 * engine and by block tests alike.
 */
export async function executeBlock(
  block: AnyBlock,
  ctx: BlockContext,
  inputs: BlockInputs,
  params: unknown,
  workspace: Workspace,
): Promise<Record<string, PortValue>> {
  const out = await block.run(ctx, inputs, params);
  const values: Record<string, PortValue> = {};
  const tables = tableInputs(inputs);
  for (const [port, spec] of Object.entries(block.outputs)) {
    const o = out[port];
    if (!o) throw new Error(`Block ${block.kind} did not produce output "${port}"`);
    if (o.type !== spec.type)
      throw new Error(`Block ${block.kind} output "${port}" is ${o.type}, declared ${spec.type}`);
    if (o.type === "table") {
      const table = await workspace.describeTable(o.name, ctx.sql);
      values[port] = { ...table, columns: await outputTags(block, ctx, tables, port, table, o.tags, params) };
    } else {
      const uses = o.type === "model" ? personalDataOf(ctx, o.data, tables) : [];
      const personalData = uses.length ? { personalData: uses } : {};
      const fingerprint = dataFingerprint(o.data, uses);
      values[port] = { type: o.type, data: o.data, fingerprint, ...personalData } as PortValue;
    }
  }
  return values;
}

/** The table inputs (tags travel only through tables). */
function tableInputs(inputs: BlockInputs): Record<string, TableValue | undefined> {
  return Object.fromEntries(Object.entries(inputs).filter(([, v]) => v?.type === "table")) as Record<
    string,
    TableValue | undefined
  >;
}

/**
 * A table output's columns with their tags (app/privacy/tags.ts): the block's own (ingest), and
 * those from the input columns its columnLineage names, else from the same-named input columns.
 */
async function outputTags(
  block: AnyBlock,
  ctx: BlockContext,
  inputs: Record<string, TableValue | undefined>,
  port: string,
  table: TableValue,
  own: Record<string, ColumnTag[]> | undefined,
  params: unknown,
): Promise<ColumnInfo[]> {
  // No tagged input: nothing to carry, and no lineage to work out.
  if (!inputTagsKey(inputs))
    return own ? propagateTags(ctx.nodeId, table.columns, {}, { own }) : table.columns;
  const lineage = block.columnLineage
    ? await block.columnLineage(inputs, { port, columns: table.columns.map((c) => c.name) }, params, {
        sql: ctx.sql,
      })
    : undefined;
  return propagateTags(ctx.nodeId, table.columns, inputs, { ...(own ? { own } : {}), lineage });
}

/**
 * A model trained on tagged columns: allowed, with a warning on the node per model input
 * ("trains on personal data: email_domain ← email (pii)"). The registered version records the
 * same uses (ModelLineage.personalData, from BlockContext.lineage).
 */
function personalDataOf(
  ctx: BlockContext,
  model: unknown,
  inputs: Record<string, TableValue | undefined>,
): PersonalDataUse[] {
  const features = modelInputs(model);
  if (!features) return [];
  const columns = Object.values(inputs).flatMap((t) => t?.columns ?? []);
  const uses = personalDataUses(features, columns);
  for (const use of uses) ctx.log(`trains on personal data: ${describeUseWithTags(use)}`, "warn");
  return uses;
}

/**
 * A JSON output's fingerprint: its data's, and a model's personal data uses when it has any (so
 * a model without tagged inputs keeps the fingerprint it always had). dagwood step checks the
 * values it reads from files with this too.
 */
export function dataFingerprint(data: unknown, personalData?: readonly PersonalDataUse[]): string {
  const hashed = personalData?.length ? { data, personalData } : data;
  return sha256(stableStringify(hashed)).slice(0, 32);
}

/** A dataset a block reported, completed from the table it returned on the named port. */
export function completeDataset(
  block: AnyBlock,
  source: DatasetSource,
  values: Record<string, PortValue>,
): DatasetRecord {
  const table = values[source.port];
  if (table?.type !== "table") {
    throw new Error(
      `Block ${block.kind} reported a dataset on "${source.port}", which is not a table output`,
    );
  }
  return {
    digest: source.digest,
    source: source.source,
    schema: table.columns.map((c) => ({ name: c.name, type: c.type })),
    rows: table.rows,
    fingerprint: table.fingerprint,
    ...(source.database ? { database: source.database } : {}),
  };
}

/**
 * Records the datasets a failing node reported with their table (DatasetSource.table), so a read
 * that failed its checks is still a version of the dataset. Best effort: a table that cannot be
 * described (the failure was in reading it) is left out.
 */
export async function recordFailedReads(
  node: { id: string; block: AnyBlock },
  datasets: readonly DatasetSource[],
  workspace: Workspace,
  sql: SqlSession,
  metadata: MetadataStore,
  runId: string,
): Promise<void> {
  for (const d of datasets) {
    if (!d.table) continue;
    try {
      const table = await workspace.describeTable(d.table, sql);
      metadata.recordDataset(runId, node.id, completeDataset(node.block, d, { [d.port]: table }));
    } catch {
      // Nothing to record: the table was never made whole.
    }
  }
}

/** Records a suite's result on a dataset a node read (BlockContext.dataTest), with the suite's counts. */
export function recordDataTest(
  metadata: MetadataStore,
  runId: string,
  nodeId: string,
  info: DataTestInfo,
): void {
  const { statistics } = info.report;
  metadata.recordDatasetTest({
    runId,
    nodeId,
    digest: info.digest,
    source: info.source,
    suite: info.suite,
    success: info.report.success,
    evaluated: statistics.evaluated_expectations,
    successful: statistics.successful_expectations,
    report: info.report,
  });
}
