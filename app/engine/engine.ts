import { randomBytes } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { serializePipeline } from "../pipeline/canonical";
import type { Plan, ResolvedNode } from "../pipeline/validate";
import type { Project } from "../project/project";
import { MetricWriter } from "../store/metric-writer";
import type { ArtifactRecord, ModelLineage, NodeInputRef, NodeStatus, RunStatus } from "../store/types";
import type { BlockContext, BlockInputs, DatasetSource, FingerprintContext } from "./block";
import { currentUser, flattenParams, gitState, localEnvironment } from "./environment";
import type { NodeSummary, OutputSummary, RunEvent, RunSummary } from "./events";
import { completeDataset, executeBlock, registryState, sha256, stableStringify } from "./execute";
import { hashFile } from "./files";
import { resolveProjectPath } from "./paths";
import type { PortValue } from "./ports";

export interface RunOptions {
  project: Project;
  plan: Plan;
  /** The pipeline file, for the record. */
  pipelinePath?: string;
  /** Run every node even when its outputs are cached. */
  noCache?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Nodes running at once; default 4. */
  concurrency?: number;
  /** Run only these nodes and what they depend on ("run to here"). */
  targets?: string[];
  /** The run's id, when the caller needs it before the run starts. */
  runId?: string;
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
  return {
    projectDir: project.dir,
    resolvePath: (p) => resolveProjectPath(project.dir, project.allowedDirs, p),
    hashFile: (p) =>
      hashFile(p, { get: (x) => workspace.fileHashMemo(x), put: (...a) => workspace.rememberFileHash(...a) }),
    resolveAlias: (model, alias) => project.metadata.registry.getVersion(model, alias)?.version ?? null,
    registryState: (model) => registryState(project.metadata.registry, model),
  };
}

/** A node's cache key: block kind and version, resolved params, input fingerprints, external state. */
async function nodeKey(node: ResolvedNode, inputs: BlockInputs, fctx: FingerprintContext): Promise<KeyParts> {
  const external = node.block.externalFingerprint
    ? await node.block.externalFingerprint(fctx, node.params)
    : null;
  const paramsHash = sha256(stableStringify(node.params)).slice(0, 32);
  const inputsHash = sha256(
    stableStringify({
      inputs: Object.fromEntries(Object.entries(inputs).map(([p, v]) => [p, v?.fingerprint])),
      external,
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
    Object.entries(outputs).map(([port, v]) => [
      port,
      v.type === "table"
        ? { type: v.type, table: v.name, rows: v.rows, columns: v.columns.length, fingerprint: v.fingerprint }
        : { type: v.type, fingerprint: v.fingerprint },
    ]),
  );
}

/** The nodes needed for `targets`: the targets and all their ancestors, in plan order. */
function selectNodes(plan: Plan, targets?: string[]): ResolvedNode[] {
  if (!targets?.length) return plan.order;
  const byId = new Map(plan.order.map((n) => [n.id, n]));
  const needed = new Set<string>();
  const visit = (id: string) => {
    const node = byId.get(id);
    if (!node) throw new Error(`Unknown node "${id}"`);
    if (needed.has(id)) return;
    needed.add(id);
    for (const src of Object.values(node.inputs)) visit(src.node);
  };
  targets.forEach(visit);
  return plan.order.filter((n) => needed.has(n.id));
}

function isInterrupt(e: unknown): boolean {
  return /INTERRUPT/i.test((e as Error)?.message ?? "");
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

/**
 * Runs a planned pipeline: each node whose cache key (block kind and version,
 * resolved params, input fingerprints, external state) has stored outputs is
 * reused; the rest run, independent branches concurrently. A failed node
 * skips its descendants; everything is recorded as it happens.
 */
export async function runPlan(opts: RunOptions): Promise<RunSummary> {
  const { project, plan } = opts;
  const { workspace, metadata } = project;
  const signal = opts.signal ?? new AbortController().signal;
  const emit = (e: RunEvent) => opts.onEvent?.(e);
  const runId = opts.runId ?? newRunId();
  const pipelineName = plan.pipeline.name;
  const nodes = selectNodes(plan, opts.targets);
  const started = performance.now();
  const concurrency = Math.max(1, opts.concurrency ?? 4);

  const paramsByNode = new Map(nodes.map((n) => [n.id, flattenParams(n.id, n.params)]));
  const pipelineText = serializePipeline(plan.pipeline);
  // git runs beside the pipeline; its facts join the record when they come, before the run ends.
  const git = gitState(project.dir);
  metadata.startRun({
    id: runId,
    pipeline: pipelineName,
    pipelinePath: recordedPath(project.dir, opts.pipelinePath),
    pipelineHash: sha256(pipelineText),
    pipelineText,
    params: plan.params,
    resolvedParams: Object.assign({}, ...paramsByNode.values()),
    startedAt: new Date().toISOString(),
    environment: localEnvironment(),
    user: currentUser(),
  });
  const gitRecorded = git.then((facts) => {
    if (Object.keys(facts).length) metadata.updateEnvironment(runId, facts);
  });
  emit({ type: "run.started", runId, pipeline: pipelineName, nodes: nodes.map((n) => n.id) });

  const outputs = new Map<string, Record<string, PortValue>>();
  const status = new Map<string, NodeStatus>();
  const summaries: NodeSummary[] = [];
  const metrics: RunSummary["metrics"] = [];

  const fingerprintCtx = fingerprintContext(project);
  // Metric points are buffered and written in batches (one transaction each), not one per point; each
  // node's points are flushed before its node.finished event, the rest before the run is finished.
  const metricWriter = new MetricWriter(metadata);
  let metricsError: string | null = null;

  const inputRefs = (node: ResolvedNode): Record<string, NodeInputRef> =>
    Object.fromEntries(
      Object.entries(node.inputs).map(([port, src]) => [
        port,
        {
          node: src.node,
          port: src.port,
          fingerprint: outputs.get(src.node)?.[src.port]?.fingerprint ?? null,
        },
      ]),
    );

  const lineage = async (nodeId: string): Promise<ModelLineage> => {
    await gitRecorded;
    const run = metadata.getRun(runId);
    if (!run) throw new Error(`Run ${runId} is not in the metadata store`);
    const params: Record<string, unknown> = {};
    for (const id of ancestry(plan, nodeId)) Object.assign(params, paramsByNode.get(id));
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
      datasets: metadata.upstreamDatasets(runId, nodeId),
      params,
      environment: run.environment,
    };
  };

  const finish = (node: ResolvedNode, s: Omit<NodeSummary, "id" | "block">, keys: Partial<KeyParts> = {}) => {
    status.set(node.id, s.status);
    const summary: NodeSummary = { id: node.id, block: node.block.kind, ...s };
    summaries.push(summary);
    metadata.recordNodeRun({
      runId,
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
      inputs: inputRefs(node),
    });
    emit({ type: "node.finished", runId, nodeId: node.id, block: node.block.kind, ...s });
  };

  const whyRun = (node: ResolvedNode, k: KeyParts): string => {
    if (opts.noCache) return "forced (--no-cache)";
    const last = metadata.lastCompletedNodeRun(pipelineName, node.id);
    if (!last) return "first run";
    const why: string[] = [];
    if (last.block !== node.block.kind) why.push("new block");
    else if (last.blockVersion !== node.block.version) why.push("new block version");
    if (last.paramsHash !== k.paramsHash) why.push("new params");
    if (last.inputsHash !== k.inputsHash) why.push("new input data");
    return why.length ? why.join(", ") : "not in cache";
  };

  const execute = async (
    node: ResolvedNode,
    inputs: BlockInputs,
    k: KeyParts,
  ): Promise<{ values: Record<string, PortValue>; stored: KeyParts }> => {
    const sql = await workspace.session();
    const created: string[] = [];
    const datasets: DatasetSource[] = [];
    const artifactDir = join(project.artifactsDir, runId, node.id);
    const onAbort = () => sql.interrupt();
    signal.addEventListener("abort", onAbort);
    const ctx: BlockContext = {
      sql,
      projectDir: project.dir,
      artifactDir: async () => {
        await mkdir(artifactDir, { recursive: true });
        return artifactDir;
      },
      resolvePath: fingerprintCtx.resolvePath,
      newTable: (port) => {
        // Names are fresh for every execution; the cache entry maps the key to them.
        const name = `t_${randomBytes(8).toString("hex")}_${port.replace(/\W/g, "_")}`;
        created.push(name);
        return name;
      },
      progress: (fraction, message) =>
        emit({
          type: "node.progress",
          runId,
          nodeId: node.id,
          fraction: Math.min(1, Math.max(0, fraction)),
          message,
        }),
      metric: (name, value, step) => {
        metricWriter.add({ runId, nodeId: node.id, name, value, step: step ?? null });
        metrics.push({ node: node.id, name, value, ...(step !== undefined ? { step } : {}) });
        emit({ type: "node.metric", runId, nodeId: node.id, name, value, step });
      },
      log: (message, level = "info") => {
        metadata.logMessage({ runId, nodeId: node.id, level, message });
        emit({ type: "node.log", runId, nodeId: node.id, level, message });
      },
      signal,
      runId,
      nodeId: node.id,
      dataset: (info) => datasets.push(info),
      trial: (index, params, trialMetrics) =>
        metadata.recordTrial({ parentRunId: runId, nodeId: node.id, index, params, metrics: trialMetrics }),
      chosenParams: (params) => metadata.recordChosenParams(runId, node.id, params),
      environment: (facts) => metadata.updateEnvironment(runId, facts),
      registry: metadata.registry,
      upstream: (port) => node.inputs[port],
      lineage,
      hashFile: fingerprintCtx.hashFile,
    };
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
      const stored = node.block.externalFingerprint ? await nodeKey(node, inputs, fingerprintCtx) : k;
      // The entry is written last: a crash before this line leaves only an
      // orphan table, never an entry that points at missing or partial data.
      await workspace.putCached(stored.key, node.block.kind, JSON.stringify(values));
      return { values, stored };
    } catch (e) {
      for (const t of created) await workspace.dropTable(t).catch(() => undefined);
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
      sql.close();
    }
  };

  const runNode = async (node: ResolvedNode): Promise<void> => {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    const upstream = Object.values(node.inputs).map((s) => s.node);
    const blocked = upstream.find((u) => status.get(u) === "failed" || status.get(u) === "skipped");
    if (blocked) {
      finish(node, {
        status: "skipped",
        reason: `upstream node "${blocked}" did not finish`,
        ms: 0,
        outputs: {},
      });
      return;
    }
    if (signal.aborted) {
      finish(node, { status: "skipped", reason: "run canceled", ms: 0, outputs: {} });
      return;
    }
    const inputs: BlockInputs = {};
    for (const [port, src] of Object.entries(node.inputs)) inputs[port] = outputs.get(src.node)?.[src.port];
    let k: KeyParts | undefined;
    try {
      const parts = await nodeKey(node, inputs, fingerprintCtx);
      k = parts;
      // One job per key in the whole workspace, registered before any await:
      // nodes (of this run or another) with the same key share it instead of
      // computing the same outputs twice into one another's tables.
      let job = workspace.inFlight.get(parts.key) as Promise<NodeJob> | undefined;
      const owner = !job;
      if (!job) {
        job = (async (): Promise<NodeJob> => {
          const cached = opts.noCache ? undefined : await lookUpCache(project, parts.key);
          if (cached) return { values: cached, ran: false, stored: parts };
          const reason = whyRun(node, parts);
          emit({ type: "node.started", runId, nodeId: node.id, block: node.block.kind, reason });
          const { values, stored } = await execute(node, inputs, parts);
          metricWriter.flush();
          // Recorded before the job settles, so a node sharing it finds this node run to copy from.
          outputs.set(node.id, values);
          finish(node, { status: "ran", reason, ms: ms(), outputs: summarize(values) }, stored);
          return { values, ran: true, stored };
        })();
        workspace.inFlight.set(parts.key, job);
        job.then(
          () => workspace.inFlight.delete(parts.key),
          () => workspace.inFlight.delete(parts.key),
        );
      }
      const result = await job;
      outputs.set(node.id, result.values);
      if (!(owner && result.ran)) {
        // A cached node takes the metrics, datasets and artifacts of the run that computed it, so every run's record is whole.
        for (const m of metadata.copyFromProducer(result.stored.key, runId, node.id)) {
          metrics.push({
            node: node.id,
            name: m.name,
            value: m.value,
            ...(m.step !== null ? { step: m.step } : {}),
          });
          emit({
            type: "node.metric",
            runId,
            nodeId: node.id,
            name: m.name,
            value: m.value,
            step: m.step ?? undefined,
          });
        }
        finish(node, { status: "cached", ms: ms(), outputs: summarize(result.values) }, result.stored);
      }
    } catch (e) {
      const cause = signal.aborted && isInterrupt(e) ? "canceled" : (e as Error).message;
      // What the node logged before it failed is kept; a failed write fails the run at its end.
      try {
        metricWriter.flush();
      } catch (flushError) {
        metricsError ??= (flushError as Error).message;
      }
      finish(
        node,
        {
          status: "failed",
          ms: ms(),
          error: `Node "${node.id}" (${node.block.kind}) failed: ${cause}`,
          outputs: {},
        },
        k,
      );
    }
  };

  // Start every node whose upstream nodes are done, up to `concurrency` at once.
  await new Promise<void>((resolveAll) => {
    const waiting = [...nodes];
    let running = 0;
    const pump = () => {
      for (let i = 0; i < waiting.length && running < concurrency; ) {
        const node = waiting[i]!;
        const ready = Object.values(node.inputs).every(
          (s) => status.has(s.node) || !nodes.some((n) => n.id === s.node),
        );
        if (!ready) {
          i++;
          continue;
        }
        waiting.splice(i, 1);
        running++;
        runNode(node).finally(() => {
          running--;
          pump();
        });
      }
      if (running === 0 && waiting.length === 0) resolveAll();
    };
    pump();
  });

  try {
    metricWriter.close();
  } catch (e) {
    metricsError ??= (e as Error).message;
  }
  const failed = summaries.some((s) => s.status === "failed" || s.status === "skipped") || !!metricsError;
  const runStatus: RunStatus = signal.aborted ? "canceled" : failed ? "failed" : "succeeded";
  const firstError = summaries.find((s) => s.error)?.error ?? metricsError;
  await gitRecorded;
  metadata.finishRun(runId, runStatus, firstError);
  const total = Math.round(performance.now() - started);
  emit({ type: "run.finished", runId, status: runStatus, ms: total });
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  summaries.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { runId, pipeline: pipelineName, status: runStatus, ms: total, nodes: summaries, metrics };
}
