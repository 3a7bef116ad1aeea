/**
 * The project's datasets as the Data view, `getDataset` and `dagwood
 * datasets` show them: the versions runs recorded (app/store), grouped by the
 * dagwood.json entry each file belongs to (a file with no entry is a dataset
 * of its own, named by its path), with schema changes between versions, the
 * suites' test history and who used them.
 */
import { relative, resolve, sep } from "node:path";
import type { DatasetTestRecord, DatasetVersionRecord, MetadataStore } from "../store/types";
import type {
  DatasetDetail,
  DatasetSummary,
  DatasetTest,
  DatasetVersion,
  SchemaChange,
} from "../values/datasets";
import type { Governance } from "../values/governance";
import { findDatasetEntry } from "./datasets";
import type { DatasetSettings, ProjectSettings } from "./project";

export interface DatasetCatalogContext {
  /** The project folder. */
  dir: string;
  metadata: MetadataStore;
  /** dagwood.json as it is now (read it afresh: the app edits it while the project is open). */
  settings: Pick<ProjectSettings, "datasets" | "dataFolders">;
}

/** Tests a dataset page lists (newest first); older ones stay in the store. */
const MAX_TESTS = 200;
/** Unexpected values kept per failed expectation (Great Expectations' partial_unexpected_list is 20 long). */
const MAX_EXAMPLES = 20;

interface Group {
  name: string;
  path: string;
  settings: DatasetSettings | undefined;
  /** Oldest first. */
  versions: DatasetVersionRecord[];
  /** Versions tested but never recorded as read (their node failed on a suite). */
  testedOnly: string[];
  /**
   * The names its files were read under, as recorded: one content can be read under names that
   * belong to different datasets, so reads and tests are taken by name, not by digest alone.
   */
  sources: Set<string>;
}

const toPosix = (p: string) => p.split(sep).join("/");

/** A recorded source as one spelling: "./data//x.csv" and "data/x.csv" are one file. */
const sourceKey = (dir: string, source: string) => toPosix(relative(dir, resolve(dir, source))) || ".";

function groupsOf(ctx: DatasetCatalogContext): Group[] {
  const dir = resolve(ctx.dir);
  const groups = new Map<string, Group>();
  for (const [name, settings] of Object.entries(ctx.settings.datasets)) {
    groups.set(name, {
      name,
      path: settings.path,
      settings,
      versions: [],
      testedOnly: [],
      sources: new Set(),
    });
  }
  const groupOf = (source: string): Group => {
    const entry = findDatasetEntry(ctx.settings, dir, resolve(dir, source));
    if (entry) return groups.get(entry.name)!;
    const path = sourceKey(dir, source);
    // A file's own name never takes a dagwood.json name's place.
    const name = ctx.settings.datasets[path] ? `./${path}` : path;
    let group = groups.get(name);
    if (!group) {
      group = { name, path, settings: undefined, versions: [], testedOnly: [], sources: new Set() };
      groups.set(name, group);
    }
    return group;
  };
  for (const v of ctx.metadata.datasetVersions()) {
    const group = groupOf(v.source);
    group.sources.add(v.source);
    // One file spelled two ways ("./data//x.csv", "data/x.csv"): one version, its reads added up.
    const same = group.versions.findIndex((x) => x.digest === v.digest);
    const had = group.versions[same];
    if (!had) group.versions.push(v);
    else {
      const first = v.firstSeen < had.firstSeen ? v : had;
      const last = v.lastSeen > had.lastSeen ? v : had;
      group.versions[same] = {
        ...had,
        firstSeen: first.firstSeen,
        lastSeen: last.lastSeen,
        runCount: had.runCount + v.runCount,
      };
    }
  }
  for (const t of ctx.metadata.untrackedTestedDigests()) {
    const group = groupOf(t.source);
    group.sources.add(t.source);
    if (!group.testedOnly.includes(t.digest)) group.testedOnly.push(t.digest);
  }
  return [...groups.values()];
}

function governanceOf(settings: DatasetSettings | undefined): Governance {
  const g: Governance = {};
  if (settings?.owner !== undefined) g.owner = settings.owner;
  if (settings?.purpose !== undefined) g.purpose = settings.purpose;
  if (settings?.reviewBy !== undefined) g.reviewBy = settings.reviewBy;
  if (settings?.deprecated !== undefined) g.deprecated = settings.deprecated;
  return g;
}

const digestsOf = (g: Group) => [...g.versions.map((v) => v.digest), ...g.testedOnly];

/** The version runs read most recently. */
function latestOf(g: Group): DatasetVersionRecord | undefined {
  let latest: DatasetVersionRecord | undefined;
  for (const v of g.versions) if (!latest || v.lastSeen >= latest.lastSeen) latest = v;
  return latest;
}

const versionOf = (v: DatasetVersionRecord): Omit<DatasetVersion, "runs"> => ({
  digest: v.digest,
  source: v.source,
  rows: v.rows,
  schema: v.schema.map((c) => ({ name: c.name, type: c.type })),
  firstSeen: v.firstSeen,
  lastSeen: v.lastSeen,
});

function testOf(t: DatasetTestRecord): DatasetTest {
  return {
    runId: t.runId,
    nodeId: t.nodeId,
    digest: t.digest,
    suite: t.suite,
    success: t.success,
    evaluated: t.evaluated,
    successful: t.successful,
    at: t.at!,
    failed: (t.report.results ?? [])
      .filter((r) => !r.success)
      .map((r) => ({
        expectation_type: r.expectation_type,
        kwargs: r.kwargs,
        unexpected_count: r.result?.unexpected_count ?? null,
        unexpected_percent: r.result?.unexpected_percent ?? null,
        partial_unexpected_list: (r.result?.partial_unexpected_list ?? []).slice(0, MAX_EXAMPLES),
        ...(r.result?.observed_value !== undefined ? { observed_value: r.result.observed_value } : {}),
        exception_message: r.exception_info?.raised_exception
          ? (r.exception_info.exception_message ?? "unknown error")
          : null,
      })),
  };
}

function withoutFailures({ failed: _failed, ...test }: DatasetTest): Omit<DatasetTest, "failed"> {
  return test;
}

function summaryOf(ctx: DatasetCatalogContext, g: Group): DatasetSummary {
  const latest = latestOf(g);
  const last = ctx.metadata.datasetTests(digestsOf(g), { limit: 1, sources: [...g.sources] })[0];
  return {
    name: g.name,
    path: g.path,
    configured: g.settings !== undefined,
    governance: governanceOf(g.settings),
    suites: g.settings?.suites ?? [],
    onFailure: g.settings?.onFailure ?? null,
    versions: g.versions.length,
    latest: latest ? versionOf(latest) : null,
    rowsHistory: g.versions.map((v) => v.rows),
    lastTest: last ? withoutFailures(testOf(last)) : null,
    columnTags: Object.fromEntries(
      Object.entries(g.settings?.columns ?? {}).map(([column, c]) => [column, [...c.tags]]),
    ),
  };
}

/** Columns added, removed and retyped from one schema to the next (by name). */
export function schemaChange(
  from: Pick<DatasetVersion, "digest" | "schema">,
  to: Pick<DatasetVersion, "digest" | "schema">,
): SchemaChange {
  const before = new Map(from.schema.map((c) => [c.name, c.type]));
  const after = new Map(to.schema.map((c) => [c.name, c.type]));
  return {
    from: from.digest,
    to: to.digest,
    added: to.schema.filter((c) => !before.has(c.name)).map((c) => ({ name: c.name, type: c.type })),
    removed: from.schema.filter((c) => !after.has(c.name)).map((c) => ({ name: c.name, type: c.type })),
    retyped: to.schema
      .filter((c) => before.has(c.name) && before.get(c.name) !== c.type)
      .map((c) => ({ name: c.name, from: before.get(c.name)!, to: c.type })),
  };
}

/** Every dataset: dagwood.json's entries first (in file order, read or not), then files read with no entry. */
export function listDatasets(ctx: DatasetCatalogContext): DatasetSummary[] {
  return groupsOf(ctx).map((g) => summaryOf(ctx, g));
}

/** One dataset by its dagwood.json name or, for a file with no entry, its path; undefined when unknown. */
export function getDataset(ctx: DatasetCatalogContext, name: string): DatasetDetail | undefined {
  const groups = groupsOf(ctx);
  const g =
    groups.find((x) => x.name === name) ??
    groups.find((x) => !x.settings && x.path === sourceKey(resolve(ctx.dir), name));
  if (!g) return undefined;
  const digests = digestsOf(g);
  const reads = ctx.metadata.datasetReads(digests).filter((r) => g.sources.has(r.source));
  const runsOf = new Map<string, DatasetVersion["runs"]>();
  for (const r of reads) {
    const list = runsOf.get(r.digest) ?? [];
    list.push({ runId: r.runId, nodeId: r.nodeId, pipeline: r.pipeline, at: r.startedAt });
    runsOf.set(r.digest, list);
  }
  const oldestFirst = g.versions.map((v) => ({ ...versionOf(v), runs: runsOf.get(v.digest) ?? [] }));
  const changes: SchemaChange[] = [];
  for (let i = 1; i < oldestFirst.length; i++) {
    const c = schemaChange(oldestFirst[i - 1]!, oldestFirst[i]!);
    if (c.added.length || c.removed.length || c.retyped.length) changes.push(c);
  }
  const pipelines = [...new Set(reads.map((r) => r.pipelinePath ?? r.pipeline))].sort();
  return {
    ...summaryOf(ctx, g),
    allVersions: oldestFirst.reverse(),
    schemaChanges: changes.reverse(),
    tests: ctx.metadata.datasetTests(digests, { limit: MAX_TESTS, sources: [...g.sources] }).map(testOf),
    usedBy: {
      pipelines,
      models: ctx.metadata.modelVersionsReading(digests, [...new Set(reads.map((r) => r.runId))]),
    },
  };
}

/** The names `getDataset` knows, for "did you mean" and listings. */
export function datasetNames(ctx: DatasetCatalogContext): string[] {
  return groupsOf(ctx).map((g) => g.name);
}
