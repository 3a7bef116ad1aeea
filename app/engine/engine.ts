import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { COLLECT_AFTER_BYTES, collectGarbage } from "../ml/work/gc";
import { workerCount } from "../ml/work/pool";
import { serializePipeline } from "../pipeline/canonical";
import type { Plan, ResolvedNode } from "../pipeline/validate";
import { inputTagsKey } from "../privacy/tags";
import type { Project } from "../project/project";
import { MetricWriter } from "../store/metric-writer";
import { flattenParams } from "../store/rows";
import type { ArtifactRecord, ModelLineage, NodeInputRef, NodeStatus, RunStatus } from "../store/types";
import { deprecationNotice } from "../values/governance";
import type { BlockContext, BlockInputs, DatasetSource, FingerprintContext } from "./block";
import { currentUser, gitState, localEnvironment } from "./environment";
import type { NodeSummary, OutputSummary, RunEvent, RunSummary } from "./events";
import {
  completeDataset,
  executeBlock,
  recordDataTest,
  recordFailedReads,
  registryState,
  sha256,
  stableStringify,
} from "./execute";
import { hashFile, knownFileHash } from "./files";
import { outputHeadline } from "./headline";
import { resolveProjectPath } from "./paths";
import type { PortValue } from "./ports";

export interface RunOptions {
  project: Project;
  plan: Plan;
  /** The pipeline file, for the record. */
  pipelinePath?: string;
  /** Run every node even when its outputs are cached. */
  noCache?: boolean;
  /**
   * Nodes to run anew (never from the cache) with BlockContext.fullRefresh set, for this run only:
   * a block that accumulates across runs starts again from nothing. Not a param, so the node's cache
   * key stays as it was and the node is not stale afterwards.
   */
  fullRefresh?: string[];
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Nodes running at once; default 4. */
  concurrency?: number;
  /**
   * CPU-heavy nodes (blocks with `cpu: true`) executing at once: a number
   * for this run alone, or slots shared with other runs; default: the
   * process-wide slots shared by all runs, one per work-pool worker
   * (workerCount()).
   */
  cpuSlots?: number | CpuSlots;
  /** Run only these nodes and what they depend on ("run to here"). */
  targets?: string[];
  /** The run's id, when the caller needs it before the run starts. */
  runId?: string;
  /**
   * Outputs of nodes this run does not run, taken as they are (dagwood step: values read from files,
   * app/step): with `targets`, the run stops at them instead of running them.
   */
  given?: Record<string, Record<string, PortValue>>;
  /**
   * Record into the run `runId` together with other processes (the steps of one Argo workflow, each
   * `dagwood step` with the workflow's name as run id): the run is joined when it exists (its record,
   * params and tags stay as the first process wrote them) and is not finished at the end, since this
   * process ran only part of it; whoever runs last finishes it (app/step/finish.ts).
   */
  join?: boolean;
  /** Tags the run starts with (a joined run keeps those of the process that recorded it first). */
  tags?: Record<string, string>;
}

interface NodeJob {
  values: Record<string, PortValue>;
  ran: boolean;
  /** The key the outputs are cached under (after the run, for a block that changes its outside state). */
  stored: KeyParts;
}

interface KeyParts {
  key: string;
  paramsHash: string;
  inputsHash: string;
}

function fingerprintContext(project: Project): FingerprintContext {
  const { workspace } = project;
  const memo = {
    get: (x: string) => workspace.fileHashMemo(x),
    put: workspace.rememberFileHash.bind(workspace),
  };
  return {
    projectDir: project.dir,
    resolvePath: (p) => resolveProjectPath(project.dir, project.allowedDirs, p),
    hashFile: (p) => hashFile(p, memo),
    knownFileHash: (p) => knownFileHash(p, memo),
    resolveAlias: (model, alias) => project.metadata.registry.getVersion(model, alias)?.version ?? null,
    registryState: (model) => {
      const state = registryState(project.metadata.registry, model);
      // A deprecated model's register node warns: its cached output holds only while that stays so.
      const deprecated = state ? project.metadata.registry.getModel(model)?.deprecated : null;
      return deprecated ? `${state}|deprecated:${JSON.stringify(deprecated)}` : state;
    },
  };
}

/** A node's cache key: block kind and version, resolved params, input fingerprints, external state. */
async function nodeKey(node: ResolvedNode, inputs: BlockInputs, fctx: FingerprintContext): Promise<KeyParts> {
  const external = node.block.externalFingerprint
    ? await node.block.externalFingerprint(fctx, node.params)
    : null;
  const paramsHash = sha256(stableStringify(node.params)).slice(0, 32);
  // The inputs' column tags (app/privacy/tags.ts) are not in their fingerprints (the content's): they
  // join the key, so a changed tag re-runs what it reaches; only when there are any, so keys made
  // before tags existed stay as they were.
  const tags = inputTagsKey(inputs);
  // Tags name nodes (an ingest's columnTags origin, a renamed column's step): where tags are in play,
  // the node's id joins the key too, so a renamed node does not get an output naming its old id.
  const ownTags = Object.keys((node.params as { columnTags?: object } | null)?.columnTags ?? {}).length > 0;
  const inputsHash = sha256(
    stableStringify({
      inputs: Object.fromEntries(Object.entries(inputs).map(([p, v]) => [p, v?.fingerprint])),
      external,
      ...(tags ? { tags } : {}),
      ...(tags || ownTags ? { node: node.id } : {}),
    }),
  ).slice(0, 32);
  const key = sha256(stableStringify([node.block.kind, node.block.version, paramsHash, inputsHash]));
  return { key, paramsHash, inputsHash };
}

/** A cache entry's outputs, if every table it names is still in the workspace. */
async function lookUpCache(project: Project, key: string): Promise<Record<string, PortValue> | undefined> {
  const { workspace } = project;
  const text = await workspace.getCached(key);
  if (!text) return undefined;
  const values = JSON.parse(text) as Record<string, PortValue>;
  for (const v of Object.values(values)) {
    // A table lost since (deleted by hand) makes the entry useless: run again.
    if (v.type === "table" && !(await workspace.tableExists(v.name))) {
      await workspace.dropCached(key);
      return undefined;
    }
  }
  return values;
}

/**
 * Which nodes a run would take from the cache and which it would run, without
 * running anything: the editor marks the latter stale. A node below a stale
 * one is stale too, since its inputs are not known yet.
 */
export async function inspectCache(
  project: Project,
  plan: Plan,
): Promise<Record<string, "cached" | "stale">> {
  const fctx = fingerprintContext(project);
  const outputs = new Map<string, Record<string, PortValue>>();
  const state: Record<string, "cached" | "stale"> = {};
  for (const node of plan.order) {
    const inputs: BlockInputs = {};
    let known = true;
    for (const [port, src] of Object.entries(node.inputs)) {
      const v = outputs.get(src.node)?.[src.port];
      if (!v) known = false;
      inputs[port] = v;
    }
    const cached = known
      ? await nodeKey(node, inputs, fctx)
          .then((k) => lookUpCache(project, k.key))
          .catch(() => undefined)
      : undefined;
    if (cached) outputs.set(node.id, cached);
    state[node.id] = cached ? "cached" : "stale";
  }
  return state;
}

export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

function summarize(outputs: Record<string, PortValue>): Record<string, OutputSummary> {
  return Object.fromEntries(
    Object.entries(outputs).map(([port, v]) => {
      if (v.type === "table") {
        const tagged = v.columns.filter((c) => c.tags?.length);
        return [
          port,
          {
            type: v.type,
            table: v.name,
            rows: v.rows,
            columns: v.columns.length,
            fingerprint: v.fingerprint,
            ...(tagged.length ? { tags: Object.fromEntries(tagged.map((c) => [c.name, c.tags!])) } : {}),
          },
        ];
      }
      const headline = outputHeadline(v);
      return [port, { type: v.type, fingerprint: v.fingerprint, ...(headline ? { headline } : {}) }];
    }),
  );
}

/** The nodes needed for `targets`: the targets and all their ancestors, in plan order. */
function selectNodes(plan: Plan, targets?: string[], given: Record<string, unknown> = {}): ResolvedNode[] {
  // Own keys only: a node id may be "constructor" or "toString", which `in` finds on every object.
  if (!targets?.length) return plan.order.filter((n) => !Object.hasOwn(given, n.id));
  const byId = new Map(plan.order.map((n) => [n.id, n]));
  const needed = new Set<string>();
  const visit = (id: string) => {
    const node = byId.get(id);
    if (!node) throw new Error(`Unknown node "${id}"`);
    if (needed.has(id) || Object.hasOwn(given, id)) return;
    needed.add(id);
    for (const src of Object.values(node.inputs)) visit(src.node);
  };
  targets.forEach(visit);
  return plan.order.filter((n) => needed.has(n.id));
}

/** DuckDB's interrupt, or an abort (a worker task or a block's signal.throwIfAborted()). */
function isInterrupt(e: unknown): boolean {
  return (e as Error)?.name === "AbortError" || /INTERRUPT/i.test((e as Error)?.message ?? "");
}

/** The pipeline file as the record keeps it: relative to the project when it lies inside. */
function recordedPath(projectDir: string, path: string | undefined): string | null {
  if (!path) return null;
  if (!isAbsolute(path)) return path;
  const rel = relative(projectDir, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** `node` and every node upstream of it in the plan. */
function ancestry(plan: Plan, nodeId: string): Set<string> {
  const byId = new Map(plan.order.map((n) => [n.id, n]));
  const seen = new Set<string>();
  const visit = (id: string) => {
    const node = byId.get(id);
    if (!node) throw new Error(`Unknown node "${id}"`);
    if (seen.has(id)) return;
    seen.add(id);
    for (const src of Object.values(node.inputs)) visit(src.node);
  };
  visit(nodeId);
  return seen;
}

/**
 * Writes what a node produced as files beside its other artifacts and returns
 * their records: each model's native JSON (and the ONNX file its export
 * wrote), each report's JSON.
 */
async function writeOutputArtifacts(
  projectDir: string,
  dir: string,
  values: Record<string, PortValue>,
): Promise<Omit<ArtifactRecord, "runId" | "nodeId">[]> {
  const records: Omit<ArtifactRecord, "runId" | "nodeId">[] = [];
  const write = async (port: string, file: string, kind: ArtifactRecord["kind"], data: unknown) => {
    const text = JSON.stringify(data);
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${port}.json`);
    await writeFile(path, text);
    records.push({
      name: `${port}/${file}`,
      kind,
      path: relative(projectDir, path),
      bytes: Buffer.byteLength(text),
      sha256: sha256(text),
    });
  };
  for (const [port, v] of Object.entries(values)) {
    if (v.type === "report") await write(port, "report.json", "report", v.data);
    if (v.type !== "model") continue;
    await write(port, "model.json", "model.native", v.data);
    const onnx = (v.data as { onnx?: { file?: unknown } } | null)?.onnx?.file;
    if (typeof onnx !== "string") continue;
    const abs = resolve(projectDir, onnx);
    const info = await stat(abs);
    records.push({
      name: `${port}/model.onnx`,
      kind: "model.onnx",
      path: relative(projectDir, abs),
      bytes: info.size,
      sha256: await hashFile(abs),
    });
  }
  return records;
}

/** A node's wait for a free core ended by its run's cancel: the node never started. */
export class SlotWaitCanceled extends Error {
  constructor() {
    super("INTERRUPT: canceled while waiting for a free core");
    this.name = "AbortError";
  }
}

/**
 * Slots for CPU-heavy nodes (blocks with `cpu`): a node takes one (`cpu:
 * true`) or every slot (`cpu: "all"`, work that already spreads over every
 * core) before it executes and gives them back when done. A node waiting for a slot
 * has not started (no node.started event) and can be canceled while it waits.
 *
 * Slots are shared by the runs of a process, fairly: a free slot goes to a
 * waiting node of the run (`owner`) holding the fewest slots, among those the
 * run served longest ago, and within a run to its longest waiting node. A run
 * that queued five trainers does not make a later run's evaluate wait for all
 * five: it gets the next slot that frees. A node that needs more slots than
 * are free lets the next in that order take the free ones meanwhile, but a
 * later grant never goes to a node needing more than the waiting one did.
 */
export class CpuSlots {
  private free: number;
  private readonly waiting: { owner: unknown; count: number; grant: () => void; cancel: () => void }[] = [];
  /** Owners holding a slot or waiting for one: slots held, and when one was last granted. */
  private readonly owners = new Map<unknown, { held: number; lastGrant: number }>();
  private grants = 0;

  constructor(readonly size: number) {
    this.free = Math.max(1, size);
  }

  /** Slots taken now (tests). */
  get inUse(): number {
    return Math.max(1, this.size) - this.free;
  }

  /** Owners the slots keep track of now (tests: none once every run is done). */
  get ownersKnown(): number {
    return this.owners.size;
  }

  /**
   * Resolves with a release function (safe to call twice) once `slots` slots
   * (at most the size) are free for `owner`; rejects with `SlotWaitCanceled`
   * when `signal` aborts first.
   */
  acquire(signal: AbortSignal, owner: unknown = signal, slots = 1): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new SlotWaitCanceled());
    const count = Math.min(Math.max(1, Math.floor(slots)), Math.max(1, this.size));
    return new Promise((resolve, reject) => {
      const entry = {
        owner,
        count,
        grant: () => {
          signal.removeEventListener("abort", entry.cancel);
          const o = this.owners.get(owner) ?? { held: 0, lastGrant: -1 };
          o.held += count;
          o.lastGrant = this.grants++;
          this.owners.set(owner, o);
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            o.held -= count;
            this.forget(owner);
            this.free += count;
            this.next();
          });
        },
        cancel: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          this.forget(owner);
          reject(new SlotWaitCanceled());
        },
      };
      signal.addEventListener("abort", entry.cancel, { once: true });
      this.waiting.push(entry);
      this.next();
    });
  }

  /** Drops an owner that holds no slot and waits for none (a finished run). */
  private forget(owner: unknown): void {
    const o = this.owners.get(owner);
    if (o && o.held === 0 && !this.waiting.some((w) => w.owner === owner)) this.owners.delete(owner);
  }

  private next(): void {
    // The waiting nodes in the order they are served: the run holding fewest
    // slots, then the run served longest ago, then the longest waiting.
    const order = this.waiting
      .map((w, i) => ({ w, i, o: this.owners.get(w.owner) ?? { held: 0, lastGrant: -1 } }))
      .sort((a, b) => a.o.held - b.o.held || a.o.lastGrant - b.o.lastGrant || a.i - b.i);
    const head = order[0];
    if (!head || this.free <= 0) return;
    if (head.w.count <= this.free) {
      this.take(head.w);
      this.next();
      return;
    }
    // The head waits for more slots to free; one needing fewer may use the free ones.
    const fit = order.find((e) => e.w.count <= this.free && e.w.count < head.w.count);
    if (fit) {
      this.take(fit.w);
      this.next();
    }
  }

  private take(entry: (typeof this.waiting)[number]): void {
    this.free -= entry.count;
    this.waiting.splice(this.waiting.indexOf(entry), 1);
    entry.grant();
  }
}

/** The process's CPU slots: one per work-pool worker (one per core), shared by every run. */
let processCpuSlots: CpuSlots | null = null;
function sharedCpuSlots(): CpuSlots {
  processCpuSlots ??= new CpuSlots(workerCount());
  return processCpuSlots;
}

/**
 * Runs a planned pipeline: each node whose cache key (block kind and version,
 * resolved params, input fingerprints, external state) has stored outputs is
 * reused; the rest run, independent branches concurrently, CPU-heavy blocks no
 * more at once than there are cores. A failed node skips its descendants;
 * everything is recorded as it happens.
 */
export async function runPlan(opts: RunOptions): Promise<RunSummary> {
  const run = new PlanRun(opts);
  run.begin();
  await run.runAll();
  return run.end();
}

/** A node's milliseconds so far; `restart` when it gets a free core. */
type NodeClock = (() => number) & { restart(): void };

/** One run of a plan: its state, and the steps runPlan takes. */
class PlanRun {
  private readonly project: Project;
  private readonly plan: Plan;
  private readonly signal: AbortSignal;
  readonly runId: string;
  private readonly pipelineName: string;
  private readonly nodes: ResolvedNode[];
  private readonly started = performance.now();
  private readonly concurrency: number;
  private readonly cpuSlots: CpuSlots;
  private readonly paramsByNode: Map<string, Record<string, unknown>>;
  private readonly fingerprintCtx: FingerprintContext;
  // Metric points are buffered and written in batches (one transaction each), not one per point; each
  // node's points are flushed before its node.finished event, the rest before the run is finished.
  private readonly metricWriter: MetricWriter;
  private metricsError: string | null = null;
  /** Resolves once the git facts (looked up beside the run) are in the record. */
  private gitRecorded: Promise<void> = Promise.resolve();

  private readonly outputs = new Map<string, Record<string, PortValue>>();
  private readonly status = new Map<string, NodeStatus>();
  private readonly summaries: NodeSummary[] = [];
  private readonly metrics: RunSummary["metrics"] = [];
  /** Messages logged at level warn, per node. */
  private readonly warnings = new Map<string, number>();
  /** Warnings about the run itself (run.warning). */
  private readonly runWarnings: string[] = [];

  constructor(private readonly opts: RunOptions) {
    this.project = opts.project;
    this.plan = opts.plan;
    this.signal = opts.signal ?? new AbortController().signal;
    // The run's signal has a listener per node waiting for a core and per work task running: more than
    // Node's default 10 for a wide pipeline, none left behind; without this Node warns of a leak.
    setMaxListeners(0, this.signal);
    this.runId = opts.runId ?? newRunId();
    this.pipelineName = opts.plan.pipeline.name;
    this.nodes = selectNodes(opts.plan, opts.targets, opts.given);
    for (const [id, values] of Object.entries(opts.given ?? {})) this.outputs.set(id, values);
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    const slots = opts.cpuSlots;
    this.cpuSlots =
      slots instanceof CpuSlots ? slots : slots !== undefined ? new CpuSlots(slots) : sharedCpuSlots();
    this.paramsByNode = new Map(this.nodes.map((n) => [n.id, flattenParams(n.id, n.params)]));
    this.fingerprintCtx = fingerprintContext(opts.project);
    this.metricWriter = new MetricWriter(opts.project.metadata);
  }

  private emit(e: RunEvent): void {
    this.opts.onEvent?.(e);
  }

  /** Records the run as started (git facts join when they come) and announces it. */
  begin(): void {
    const { project, plan, runId } = this;
    const pipelineText = serializePipeline(plan.pipeline);
    // git runs beside the pipeline; its facts join the record when they come, before the run ends.
    const git = gitState(project.dir);
    project.metadata.startRun({
      id: runId,
      pipeline: this.pipelineName,
      pipelinePath: recordedPath(project.dir, this.opts.pipelinePath),
      pipelineHash: sha256(pipelineText),
      pipelineText,
      params: plan.params,
      // A joined run is the whole pipeline's (each process runs a part): every node's params.
      resolvedParams: this.opts.join
        ? Object.assign({}, ...plan.order.map((n) => flattenParams(n.id, n.params)))
        : Object.assign({}, ...this.paramsByNode.values()),
      startedAt: new Date().toISOString(),
      environment: localEnvironment(),
      user: currentUser(),
      ...(this.opts.join ? { join: true } : {}),
      ...(this.opts.tags ? { tags: this.opts.tags } : {}),
    });
    this.gitRecorded = git.then((facts) => {
      if (Object.keys(facts).length) project.metadata.updateEnvironment(runId, facts);
    });
    this.emit({
      type: "run.started",
      runId,
      pipeline: this.pipelineName,
      nodes: this.nodes.map((n) => n.id),
    });
    // The team store unreachable: the store recorded the run in the local journal and logged why; say so live.
    if (project.metadata.getRun(runId)?.tags.store === "pending") {
      const message = `The team store is unreachable: run ${runId} is recorded locally (.dagwood/pending/journal.sqlite). Run \`dagwood store sync\` once it is back.`;
      this.runWarnings.push(message);
      this.emit({ type: "run.warning", runId, message });
    }
    const { deprecated } = plan.pipeline;
    if (deprecated) this.warnRun(deprecationNotice(`Pipeline "${this.pipelineName}"`, deprecated));
  }

  /** A warning about the run itself (not one node): logged under node id "", counted, announced. */
  private warnRun(message: string): void {
    this.runWarnings.push(message);
    this.project.metadata.logMessage({ runId: this.runId, nodeId: "", level: "warn", message });
    this.emit({ type: "run.warning", runId: this.runId, message });
  }

  /** Starts every node whose upstream nodes are done, up to `concurrency` at once, until all are done. */
  runAll(): Promise<void> {
    return new Promise<void>((resolveAll) => {
      const waiting = [...this.nodes];
      const inRun = new Set(this.nodes.map((n) => n.id));
      // Nodes started and not finished, and those of them holding one of the `concurrency` places
      // (a node waiting for a free core does not).
      let unfinished = 0;
      let placed = 0;
      const place = {
        yieldPlace: () => {
          placed--;
          pump();
        },
        retakePlace: () => {
          placed++;
        },
      };
      const pump = () => {
        for (let i = 0; i < waiting.length && placed < this.concurrency; ) {
          const node = waiting[i]!;
          const ready = Object.values(node.inputs).every(
            (s) => this.status.has(s.node) || !inRun.has(s.node),
          );
          if (!ready) {
            i++;
            continue;
          }
          waiting.splice(i, 1);
          unfinished++;
          placed++;
          this.runNode(node, place).finally(() => {
            unfinished--;
            placed--;
            pump();
          });
        }
        if (unfinished === 0 && waiting.length === 0) resolveAll();
      };
      pump();
    });
  }

  /** Closes the metrics, records how the run ended and returns its summary. */
  async end(): Promise<RunSummary> {
    try {
      this.metricWriter.close();
    } catch (e) {
      this.metricsError ??= (e as Error).message;
    }
    const { summaries, runId } = this;
    const failed =
      summaries.some((s) => s.status === "failed" || s.status === "skipped") || !!this.metricsError;
    const runStatus: RunStatus = this.signal.aborted ? "canceled" : failed ? "failed" : "succeeded";
    const firstError = summaries.find((s) => s.error)?.error ?? this.metricsError;
    await this.gitRecorded;
    // A joined run is finished by whoever runs last (its node runs say how this part went).
    if (!this.opts.join) this.project.metadata.finishRun(runId, runStatus, firstError);
    const total = Math.round(performance.now() - this.started);
    const warnings = summaries.reduce((n, s) => n + (s.warnings ?? 0), this.runWarnings.length);
    this.emit({ type: "run.finished", runId, status: runStatus, ms: total, warnings });
    const order = new Map(this.nodes.map((n, i) => [n.id, i]));
    summaries.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return {
      runId,
      pipeline: this.pipelineName,
      status: runStatus,
      ms: total,
      nodes: summaries,
      metrics: this.metrics,
      warnings,
      ...(this.runWarnings.length ? { runWarnings: this.runWarnings } : {}),
    };
  }

  /** Why an upstream node's state means this node cannot run, or null. */
  private blockedBy(node: ResolvedNode): string | null {
    const upstream = Object.values(node.inputs).map((s) => s.node);
    const blocked = upstream.find((u) => this.status.get(u) === "failed" || this.status.get(u) === "skipped");
    if (blocked) return `upstream node "${blocked}" did not finish`;
    if (this.signal.aborted) return "run canceled";
    return null;
  }

  private async runNode(
    node: ResolvedNode,
    place: { yieldPlace(): void; retakePlace(): void },
  ): Promise<void> {
    // A node's time counts from its start, or from when it got a free core: not the wait for one.
    let t0 = performance.now();
    const ms = Object.assign(() => Math.round(performance.now() - t0), {
      restart: () => {
        t0 = performance.now();
      },
    });
    const blocked = this.blockedBy(node);
    if (blocked) {
      this.finishNode(node, { status: "skipped", reason: blocked, ms: 0, outputs: {} });
      return;
    }
    const inputs: BlockInputs = {};
    for (const [port, src] of Object.entries(node.inputs))
      inputs[port] = this.outputs.get(src.node)?.[src.port];
    let k: KeyParts | undefined;
    try {
      k = await nodeKey(node, inputs, this.fingerprintCtx);
      let shared = this.sharedJob(node, inputs, k, ms, place);
      let result: NodeJob;
      for (;;) {
        try {
          result = await shared.job;
          break;
        } catch (e) {
          // Another run's job for this key was canceled (waiting for a core, or running): this run was
          // not, so it computes the outputs itself (the canceled job has left workspace.inFlight).
          if (shared.owner || this.signal.aborted || !isInterrupt(e)) throw e;
          shared = this.sharedJob(node, inputs, k, ms, place);
        }
      }
      this.outputs.set(node.id, result.values);
      if (!(shared.owner && result.ran)) this.takeFromProducer(node, result, ms());
    } catch (e) {
      // Canceled while it waited for a free core: it never started, like the nodes still waiting to.
      if (e instanceof SlotWaitCanceled && this.signal.aborted)
        this.finishNode(node, { status: "skipped", reason: "run canceled", ms: 0, outputs: {} });
      else this.failNode(node, e, ms(), k);
    }
  }

  /**
   * The job computing `k`'s outputs: one per key in the whole workspace,
   * registered before any await, so nodes (of this run or another) with the
   * same key share it instead of computing the same outputs twice into one
   * another's tables.
   */
  private sharedJob(
    node: ResolvedNode,
    inputs: BlockInputs,
    k: KeyParts,
    ms: NodeClock,
    place: { yieldPlace(): void; retakePlace(): void },
  ): { job: Promise<NodeJob>; owner: boolean } {
    const { inFlight } = this.project.workspace;
    const existing = inFlight.get(k.key) as Promise<NodeJob> | undefined;
    if (existing) return { job: existing, owner: false };
    const job = this.cachedOrRun(node, inputs, k, ms, place);
    inFlight.set(k.key, job);
    job.then(
      () => inFlight.delete(k.key),
      () => inFlight.delete(k.key),
    );
    return { job, owner: true };
  }

  /** The cached outputs of `k`, or the node run now (after taking a CPU slot when its block is CPU-heavy). */
  private async cachedOrRun(
    node: ResolvedNode,
    inputs: BlockInputs,
    k: KeyParts,
    ms: NodeClock,
    place: { yieldPlace(): void; retakePlace(): void },
  ): Promise<NodeJob> {
    const cached =
      this.opts.noCache || this.opts.fullRefresh?.includes(node.id)
        ? undefined
        : await lookUpCache(this.project, k.key);
    if (cached) return { values: cached, ran: false, stored: k };
    let release: (() => void) | undefined;
    if (node.block.cpu) {
      place.yieldPlace();
      try {
        const slots = node.block.cpu === "all" ? this.cpuSlots.size : 1;
        release = await this.cpuSlots.acquire(this.signal, this, slots);
        ms.restart();
      } finally {
        place.retakePlace();
      }
    }
    try {
      const reason = this.whyRun(node, k);
      this.emit({ type: "node.started", runId: this.runId, nodeId: node.id, block: node.block.kind, reason });
      const { values, stored } = await this.execute(node, inputs, k);
      this.metricWriter.flush();
      // Recorded before the job settles, so a node sharing it finds this node run to copy from.
      this.outputs.set(node.id, values);
      this.finishNode(node, { status: "ran", reason, ms: ms(), outputs: summarize(values) }, stored);
      return { values, ran: true, stored };
    } finally {
      // A CPU-heavy node leaves tens of MiB of dead arrays (app/ml/work/gc.ts): collected before its
      // slot goes to the next one.
      if (release) collectGarbage(COLLECT_AFTER_BYTES);
      release?.();
    }
  }

  /** A cached node takes the metrics, datasets and artifacts of the run that computed it, so every run's record is whole. */
  private takeFromProducer(node: ResolvedNode, result: NodeJob, ms: number): void {
    const { runId } = this;
    for (const m of this.project.metadata.copyFromProducer(result.stored.key, runId, node.id)) {
      this.metrics.push({
        node: node.id,
        name: m.name,
        value: m.value,
        ...(m.step !== null ? { step: m.step } : {}),
      });
      this.emit({
        type: "node.metric",
        runId,
        nodeId: node.id,
        name: m.name,
        value: m.value,
        step: m.step ?? undefined,
      });
    }
    // The outputs' warnings hold for them wherever they are taken from (a model that did not converge
    // still did not): the run's log and record repeat them, and the node counts them.
    const { metadata } = this.project;
    for (const message of metadata.producerWarnings(result.stored.key)) {
      const text = `(cached) ${message}`;
      metadata.logMessage({ runId, nodeId: node.id, level: "warn", message: text });
      this.warnings.set(node.id, (this.warnings.get(node.id) ?? 0) + 1);
      this.emit({ type: "node.log", runId, nodeId: node.id, level: "warn", message: text });
    }
    this.finishNode(node, { status: "cached", ms, outputs: summarize(result.values) }, result.stored);
  }

  private failNode(node: ResolvedNode, e: unknown, ms: number, k: KeyParts | undefined): void {
    const cause = this.signal.aborted && isInterrupt(e) ? "canceled" : (e as Error).message;
    // What the node logged before it failed is kept; a failed write fails the run at its end.
    try {
      this.metricWriter.flush();
    } catch (flushError) {
      this.metricsError ??= (flushError as Error).message;
    }
    this.finishNode(
      node,
      { status: "failed", ms, error: `Node "${node.id}" (${node.block.kind}) failed: ${cause}`, outputs: {} },
      k,
    );
  }

  private inputRefs(node: ResolvedNode): Record<string, NodeInputRef> {
    return Object.fromEntries(
      Object.entries(node.inputs).map(([port, src]) => [
        port,
        {
          node: src.node,
          port: src.port,
          fingerprint: this.outputs.get(src.node)?.[src.port]?.fingerprint ?? null,
        },
      ]),
    );
  }

  private finishNode(
    node: ResolvedNode,
    s: Omit<NodeSummary, "id" | "block">,
    keys: Partial<KeyParts> = {},
  ): void {
    this.status.set(node.id, s.status);
    const warnings = this.warnings.get(node.id);
    if (warnings) s = { ...s, warnings };
    this.summaries.push({ id: node.id, block: node.block.kind, ...s });
    this.project.metadata.recordNodeRun({
      runId: this.runId,
      nodeId: node.id,
      block: node.block.kind,
      blockVersion: node.block.version,
      status: s.status,
      reason: s.reason ?? null,
      cacheKey: keys.key ?? null,
      paramsHash: keys.paramsHash ?? null,
      inputsHash: keys.inputsHash ?? null,
      ms: s.ms,
      error: s.error ?? null,
      outputs: s.outputs,
      inputs: this.inputRefs(node),
    });
    this.emit({ type: "node.finished", runId: this.runId, nodeId: node.id, block: node.block.kind, ...s });
  }

  private whyRun(node: ResolvedNode, k: KeyParts): string {
    if (this.opts.fullRefresh?.includes(node.id)) return "full refresh";
    if (this.opts.noCache) return "forced (--no-cache)";
    const last = this.project.metadata.lastCompletedNodeRun(this.pipelineName, node.id);
    if (!last) return "first run";
    const why: string[] = [];
    if (last.block !== node.block.kind) why.push("new block");
    else if (last.blockVersion !== node.block.version) why.push("new block version");
    if (last.paramsHash !== k.paramsHash) why.push("new params");
    if (last.inputsHash !== k.inputsHash) why.push("new input data");
    return why.length ? why.join(", ") : "not in cache";
  }

  /** The lineage of what `nodeId` produced in this run (BlockContext.lineage). */
  private async lineage(nodeId: string): Promise<ModelLineage> {
    await this.gitRecorded;
    const { metadata } = this.project;
    const run = metadata.getRun(this.runId);
    if (!run) throw new Error(`Run ${this.runId} is not in the metadata store`);
    const params: Record<string, unknown> = {};
    for (const id of ancestry(this.plan, nodeId)) {
      // A given node (not run here) still counts its params, as it would in a run of the whole plan.
      const node = this.plan.order.find((n) => n.id === id)!;
      Object.assign(params, this.paramsByNode.get(id) ?? flattenParams(id, node.params));
    }
    return {
      run: {
        id: run.id,
        pipeline: run.pipeline,
        pipelinePath: run.pipelinePath,
        pipelineHash: run.pipelineHash,
        startedAt: run.startedAt,
        user: run.user,
      },
      nodeId,
      datasets: metadata.upstreamDatasets(this.runId, nodeId),
      params,
      environment: run.environment,
      ...this.personalData(nodeId),
    };
  }

  /**
   * The inputs of the model `nodeId` produced that carry tags (ModelLineage.personalData), as the
   * engine found them when the model was trained (DataValue.personalData, app/engine/execute.ts).
   */
  private personalData(nodeId: string): Pick<ModelLineage, "personalData"> {
    const model = Object.values(this.outputs.get(nodeId) ?? {}).find((v) => v.type === "model");
    const uses = model && "personalData" in model ? model.personalData : undefined;
    return uses?.length ? { personalData: uses } : {};
  }

  /** The context a node's block runs with: its session, files, progress, metrics, tracking. */
  private blockContext(
    node: ResolvedNode,
    sql: BlockContext["sql"],
    artifactDir: string,
    created: string[],
    datasets: DatasetSource[],
  ): BlockContext {
    const { runId, signal, project } = this;
    const { metadata } = project;
    return {
      sql,
      projectDir: project.dir,
      artifactDir: async () => {
        await mkdir(artifactDir, { recursive: true });
        return artifactDir;
      },
      resolvePath: this.fingerprintCtx.resolvePath,
      newTable: (port) => {
        // Names are fresh for every execution; the cache entry maps the key to them.
        const name = `t_${randomBytes(8).toString("hex")}_${port.replace(/\W/g, "_")}`;
        created.push(name);
        return name;
      },
      progress: (fraction, message) =>
        this.emit({
          type: "node.progress",
          runId,
          nodeId: node.id,
          fraction: Math.min(1, Math.max(0, fraction)),
          message,
        }),
      metric: (name, value, step) => {
        this.metricWriter.add({ runId, nodeId: node.id, name, value, step: step ?? null });
        this.metrics.push({ node: node.id, name, value, ...(step !== undefined ? { step } : {}) });
        this.emit({ type: "node.metric", runId, nodeId: node.id, name, value, step });
      },
      log: (message, level = "info") => {
        metadata.logMessage({ runId, nodeId: node.id, level, message });
        if (level === "warn") this.warnings.set(node.id, (this.warnings.get(node.id) ?? 0) + 1);
        this.emit({ type: "node.log", runId, nodeId: node.id, level, message });
      },
      signal,
      runId,
      nodeId: node.id,
      fullRefresh: this.opts.fullRefresh?.includes(node.id) ?? false,
      dataset: (info) => datasets.push(info),
      dataTest: (info) => recordDataTest(metadata, runId, node.id, info),
      trial: (index, params, trialMetrics) =>
        metadata.recordTrial({ parentRunId: runId, nodeId: node.id, index, params, metrics: trialMetrics }),
      chosenParams: (params) => metadata.recordChosenParams(runId, node.id, params),
      environment: (facts) => metadata.updateEnvironment(runId, facts),
      registry: metadata.registry,
      featureViewVersions: (view) => metadata.featureViewVersions(view),
      upstream: (port) => node.inputs[port],
      lineage: (nodeId) => this.lineage(nodeId),
      hashFile: this.fingerprintCtx.hashFile,
    };
  }

  /** Runs the node's block in a fresh session and stores its outputs (the cache entry last). */
  private async execute(
    node: ResolvedNode,
    inputs: BlockInputs,
    k: KeyParts,
  ): Promise<{ values: Record<string, PortValue>; stored: KeyParts }> {
    const { project, runId, signal } = this;
    const { workspace, metadata } = project;
    const sql = await workspace.session();
    const created: string[] = [];
    const datasets: DatasetSource[] = [];
    const artifactDir = join(project.artifactsDir, runId, node.id);
    const onAbort = () => sql.interrupt();
    signal.addEventListener("abort", onAbort);
    const ctx = this.blockContext(node, sql, artifactDir, created, datasets);
    try {
      if (signal.aborted) throw new Error("INTERRUPT: canceled before start");
      const values = await executeBlock(node.block, ctx, inputs, node.params, workspace);
      for (const d of datasets)
        metadata.recordDataset(runId, node.id, completeDataset(node.block, d, values));
      for (const a of await writeOutputArtifacts(project.dir, artifactDir, values)) {
        metadata.recordArtifact({ runId, nodeId: node.id, ...a });
      }
      // A block may change the outside state its key covers (register adds a
      // version): the entry goes under the state it left, so the next run with
      // the same inputs finds it, and a later change (an archive) misses it.
      const stored =
        node.block.externalFingerprint && !node.block.readsExternalStateOnly
          ? await nodeKey(node, inputs, this.fingerprintCtx)
          : k;
      // The entry is written last: a crash before this line leaves only an
      // orphan table, never an entry that points at missing or partial data.
      await workspace.putCached(stored.key, node.block.kind, JSON.stringify(values));
      return { values, stored };
    } catch (e) {
      // A dataset read before the node failed (a suite attached with onFailure "fail") is still a
      // version of that dataset: recorded from the table the block named, before it is dropped.
      if (!signal.aborted) await recordFailedReads(node, datasets, workspace, sql, metadata, runId);
      for (const t of created) await workspace.dropTable(t).catch(() => undefined);
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
      sql.close();
    }
  }
}
