import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Plan, ResolvedNode } from "../pipeline/validate";
import type { Project } from "../project/project";
import type { NodeStatus, RunStatus } from "../store/metadata";
import type { BlockContext, BlockInputs, FingerprintContext } from "./block";
import type { NodeSummary, OutputSummary, RunEvent, RunSummary } from "./events";
import { executeBlock, sha256, stableStringify } from "./execute";
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
  reason?: string;
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

  metadata.startRun({
    id: runId,
    pipeline: pipelineName,
    pipelinePath: opts.pipelinePath ?? null,
    params: plan.params,
    startedAt: new Date().toISOString(),
    environment: { node: process.version, platform: `${process.platform}-${process.arch}` },
  });
  emit({ type: "run.started", runId, pipeline: pipelineName, nodes: nodes.map((n) => n.id) });

  const outputs = new Map<string, Record<string, PortValue>>();
  const status = new Map<string, NodeStatus>();
  const summaries: NodeSummary[] = [];
  const metrics: RunSummary["metrics"] = [];

  const fingerprintCtx = fingerprintContext(project);

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
  ): Promise<Record<string, PortValue>> => {
    const sql = await workspace.session();
    const created: string[] = [];
    const onAbort = () => sql.interrupt();
    signal.addEventListener("abort", onAbort);
    const ctx: BlockContext = {
      sql,
      projectDir: project.dir,
      artifactDir: async () => {
        const dir = join(project.artifactsDir, runId, node.id);
        await mkdir(dir, { recursive: true });
        return dir;
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
        metadata.logMetric({ runId, nodeId: node.id, name, value, step: step ?? null });
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
    };
    try {
      if (signal.aborted) throw new Error("INTERRUPT: canceled before start");
      const values = await executeBlock(node.block, ctx, inputs, node.params, workspace);
      // The entry is written last: a crash before this line leaves only an
      // orphan table, never an entry that points at missing or partial data.
      await workspace.putCached(k.key, node.block.kind, JSON.stringify(values));
      return values;
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
          if (cached) return { values: cached, ran: false };
          const reason = whyRun(node, parts);
          emit({ type: "node.started", runId, nodeId: node.id, block: node.block.kind, reason });
          return { values: await execute(node, inputs, parts), ran: true, reason };
        })();
        workspace.inFlight.set(parts.key, job);
        job.then(
          () => workspace.inFlight.delete(parts.key),
          () => workspace.inFlight.delete(parts.key),
        );
      }
      const result = await job;
      outputs.set(node.id, result.values);
      if (owner && result.ran) {
        finish(
          node,
          { status: "ran", reason: result.reason, ms: ms(), outputs: summarize(result.values) },
          parts,
        );
      } else {
        // A cached node reports the metrics of the run that computed it, so every run's record is whole.
        for (const m of metadata.metricsForCacheKey(parts.key)) {
          metadata.logMetric({ runId, nodeId: node.id, name: m.name, value: m.value, step: m.step });
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
        finish(node, { status: "cached", ms: ms(), outputs: summarize(result.values) }, parts);
      }
    } catch (e) {
      const cause = signal.aborted && isInterrupt(e) ? "canceled" : (e as Error).message;
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

  const failed = summaries.some((s) => s.status === "failed" || s.status === "skipped");
  const runStatus: RunStatus = signal.aborted ? "canceled" : failed ? "failed" : "succeeded";
  const firstError = summaries.find((s) => s.error)?.error ?? null;
  metadata.finishRun(runId, runStatus, firstError);
  const total = Math.round(performance.now() - started);
  emit({ type: "run.finished", runId, status: runStatus, ms: total });
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  summaries.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { runId, pipeline: pipelineName, status: runStatus, ms: total, nodes: summaries, metrics };
}
