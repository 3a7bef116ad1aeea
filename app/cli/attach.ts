/**
 * The CLI attached to a running engine: when the app (or `dagwood ui`) has
 * the project open, `.dagwood/engine.json` names its loopback bridge and
 * token (app/project/engine-file.ts), and the CLI calls the Api there
 * (POST /api/<method> with the token header, events from GET /api/events),
 * as VS Code's `code` command reaches the running window. A file whose
 * process has ended, whose bridge refuses the token or does not answer, or
 * whose engine has another project open is stale: ignored.
 */
import { realpathSync } from "node:fs";
import { request } from "node:http";
import type { ApiArgs, ApiMethod, ApiResults } from "../api/api";
import { parseNumbers, stringifyNumbers } from "../api/json-numbers";
import type { NodeSummary, RunEvent, RunSummary } from "../engine/events";
import { type EngineFile, readEngineFile } from "../project/engine-file";
import { ownerState } from "../store/liveness";

/** How long a probe of the bridge may take before the file counts as stale. */
const PROBE_MS = 5_000;

/**
 * How long the event stream may stay silent before the engine counts as
 * lost: the bridge writes a ping every 15 s (app/api/http.ts), so a minute of
 * nothing is an engine that hangs (stopped, frozen) though its socket is open.
 */
export const EVENTS_IDLE_MS = 60_000;

/** An error the engine answered (its status and message), or a failure to reach it (status 0). */
export class EngineCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "EngineCallError";
  }
}

/** The engine went away (its event stream closed or fell silent) before the run ended. */
export class EngineLostError extends EngineCallError {
  constructor(message: string) {
    super(0, message);
    this.name = "EngineLostError";
  }
}

export interface EngineLink {
  /** The engine's process id, to name it in messages. */
  pid: number;
  /** A call; `signal` abandons it (its connection closed, so nothing keeps the CLI from exiting). */
  call<M extends ApiMethod>(
    method: M,
    args: ApiArgs<M>,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<ApiResults[M]>;
  /**
   * Subscribes to the engine's run events; settles once the stream is open
   * (events from then on are delivered). `ended` settles when the stream
   * closes: with an error when the engine went away, undefined after `close()`.
   */
  events(listener: (event: RunEvent) => void): Promise<EventStream>;
}

export interface EventStream {
  ended: Promise<Error | undefined>;
  close(): void;
}

export type EngineLookup =
  | { state: "none" }
  | { state: "live"; link: EngineLink }
  | { state: "stale"; pid: number; reason: string };

function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** The address to connect to: the bridge's own when it is loopback, else 127.0.0.1 (a wildcard bind answers there). */
function address(file: EngineFile): { host: string; port: number; hostHeader: string } {
  const host = LOOPBACK.test(file.host) ? file.host : "127.0.0.1";
  // The bridge answers the Host `localhost:<port>` whatever address it is bound to.
  return { host, port: file.port, hostHeader: `localhost:${file.port}` };
}

function callBridge(
  file: EngineFile,
  method: string,
  args: unknown,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
) {
  const { host, port, hostHeader } = address(file);
  const body = stringifyNumbers(args ?? {});
  return new Promise<unknown>((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method: "POST",
        path: `/api/${encodeURIComponent(method)}`,
        agent: false,
        headers: {
          host: hostHeader,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "x-dagwood-token": file.token,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new EngineCallError(0, e.message)));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: { result?: unknown; error?: string };
          try {
            json = parseNumbers(text) as typeof json;
          } catch {
            return reject(
              new EngineCallError(
                res.statusCode ?? 0,
                `The engine answered ${res.statusCode}: ${text.slice(0, 200)}`,
              ),
            );
          }
          if (res.statusCode === 200) resolve(json.result);
          else
            reject(
              new EngineCallError(res.statusCode ?? 0, json.error ?? `The engine answered ${res.statusCode}`),
            );
        });
      },
    );
    if (timeoutMs !== undefined)
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => reject(new EngineCallError(0, (e as NodeJS.ErrnoException).code ?? e.message)));
    const abandon = () => req.destroy(new Error(`${method} abandoned`));
    if (signal?.aborted) abandon();
    else signal?.addEventListener("abort", abandon, { once: true });
    req.on("close", () => signal?.removeEventListener("abort", abandon));
    req.end(body);
  });
}

function openEvents(
  file: EngineFile,
  listener: (event: RunEvent) => void,
  idleMs: number,
): Promise<EventStream> {
  const { host, port, hostHeader } = address(file);
  return new Promise((resolve, reject) => {
    let closing = false;
    /** Why the stream ended, when this side ended it (the engine went silent). */
    let failure: string | undefined;
    let settleEnded: (e: Error | undefined) => void = () => undefined;
    const ended = new Promise<Error | undefined>((r) => {
      settleEnded = r;
    });
    const req = request(
      {
        host,
        port,
        method: "GET",
        path: `/api/events?token=${encodeURIComponent(file.token)}`,
        agent: false,
        headers: { host: hostHeader, accept: "text/event-stream" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(
            new EngineCallError(
              res.statusCode ?? 0,
              `The engine refused its event stream (${res.statusCode})`,
            ),
          );
        }
        res.setEncoding("utf8");
        let buffered = "";
        res.on("data", (chunk: string) => {
          buffered += chunk;
          // Server-sent events: frames end with a blank line; a frame's `data:` lines carry one event.
          for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
            const frame = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = frame
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).replace(/^ /, ""))
              .join("\n");
            if (!data) continue;
            try {
              listener(parseNumbers(data) as RunEvent);
            } catch {
              // a frame that is not an event is skipped
            }
          }
        });
        res.on("close", () =>
          settleEnded(
            closing
              ? undefined
              : new Error(failure ?? "the engine closed its event stream (the app was closed?)"),
          ),
        );
        // A socket that stays open with nothing on it (the engine's process stopped or hangs) ends too.
        req.setTimeout(idleMs, () => {
          const silence = idleMs >= 1000 ? `${Math.round(idleMs / 1000)} s` : `${idleMs} ms`;
          failure = `no word from the engine in ${silence} (it hangs, or was stopped)`;
          req.destroy();
        });
        resolve({
          ended,
          close() {
            closing = true;
            req.destroy();
          },
        });
      },
    );
    req.on("error", (e) => {
      if (closing) return;
      const err = new EngineCallError(0, failure ?? (e as NodeJS.ErrnoException).code ?? e.message);
      settleEnded(err);
      reject(err);
    });
    req.end();
  });
}

function linkTo(file: EngineFile, idleMs: number): EngineLink {
  return {
    pid: file.pid,
    call: (method, args, timeoutMs, signal) => callBridge(file, method, args, timeoutMs, signal) as never,
    events: (listener) => openEvents(file, listener, idleMs),
  };
}

/**
 * The engine holding `projectDir`, if one runs: its file present, its
 * process alive (app/store/liveness.ts) and its bridge answering with the
 * token for this very project.
 */
export async function findEngine(
  projectDir: string,
  opts: { eventsIdleMs?: number } = {},
): Promise<EngineLookup> {
  const file = readEngineFile(projectDir);
  if (!file) return { state: "none" };
  const stale = (reason: string): EngineLookup => ({ state: "stale", pid: file.pid, reason });
  if (ownerState(file.owner) === "gone") return stale(`its process (PID ${file.pid}) has ended`);
  const link = linkTo(file, opts.eventsIdleMs ?? EVENTS_IDLE_MS);
  try {
    const project = await link.call("getProject", {}, PROBE_MS);
    if (!project || !sameFolder(project.dir, projectDir))
      return stale(`the engine (PID ${file.pid}) has ${project ? project.dir : "no project"} open now`);
  } catch (e) {
    const err = e as EngineCallError;
    if (err.status === 401) return stale(`its bridge refused the token (PID ${file.pid})`);
    return stale(`its bridge on port ${file.port} does not answer (${err.message})`);
  }
  return { state: "live", link };
}

/** What `--no-attach` says when the project's engine is running. */
export function openElsewhereMessage(pid: number, projectDir: string): string {
  return `The project ${projectDir} is open in Dagwood (PID ${pid}). Close it there, or drop --no-attach to run in it.\n`;
}

export interface AttachedRunOptions {
  document: Record<string, unknown>;
  /** The pipeline file, relative to the project (recorded with the run). */
  path?: string;
  params?: Record<string, unknown>;
  targets?: string[];
  noCache?: boolean;
  /** Nodes to run anew from nothing (RunOptions.fullRefresh). */
  fullRefresh?: string[];
  /** Every event of this run, in order (the progress printer). */
  onEvent(event: RunEvent): void;
  /** Aborting it cancels the run in the engine (Ctrl+C). */
  signal: AbortSignal;
}

/**
 * Starts a run in the engine and follows it to its end through the event
 * stream: the summary is folded from the same events the engine's own
 * summary is made of (node.finished in plan order, node.metric in order).
 * The event stream opens before the run starts, so no event is missed.
 */
export async function runAttached(link: EngineLink, opts: AttachedRunOptions): Promise<RunSummary> {
  let runId: string | undefined;
  const early: RunEvent[] = [];
  let order: string[] = [];
  let pipeline = "";
  const nodes: NodeSummary[] = [];
  const metrics: RunSummary["metrics"] = [];
  const runWarnings: string[] = [];
  let finish: (e: Extract<RunEvent, { type: "run.finished" }>) => void = () => undefined;
  const finished = new Promise<Extract<RunEvent, { type: "run.finished" }>>((r) => {
    finish = r;
  });
  const handle = (e: RunEvent) => {
    if (e.runId !== runId) return;
    opts.onEvent(e);
    if (e.type === "run.started") {
      order = e.nodes;
      pipeline = e.pipeline;
    } else if (e.type === "run.warning") {
      runWarnings.push(e.message);
    } else if (e.type === "node.metric") {
      metrics.push({
        node: e.nodeId,
        name: e.name,
        value: e.value,
        ...(e.step !== undefined ? { step: e.step } : {}),
      });
    } else if (e.type === "node.finished") {
      const { type: _t, runId: _r, nodeId, ...rest } = e;
      nodes.push({ id: nodeId, ...rest });
    } else if (e.type === "run.finished") finish(e);
  };
  const stream = await link.events((e) => (runId === undefined ? early.push(e) : handle(e)));
  // The engine going away (its stream closed or silent) ends the wait, before or after startRun answers.
  let during = "before it started the run";
  const lost = stream.ended.then((e) => {
    throw new EngineLostError(
      `Lost the Dagwood engine (PID ${link.pid}) ${during}: ${e?.message ?? "its event stream closed"}.${runId ? ` See the run in the app or with \`dagwood runs show ${runId}\`.` : ""}`,
    );
  });
  // Calls still unanswered when the run ends or the engine is lost (startRun, cancelRun) are abandoned:
  // their open connections would keep the CLI alive.
  const abandon = new AbortController();
  try {
    const started = await Promise.race([
      link.call(
        "startRun",
        {
          document: opts.document,
          path: opts.path,
          params: opts.params,
          targets: opts.targets,
          noCache: opts.noCache,
          ...(opts.fullRefresh?.length ? { fullRefresh: opts.fullRefresh } : {}),
        },
        undefined,
        abandon.signal,
      ),
      lost,
    ]);
    runId = started.runId;
    during = `during run ${started.runId}`;
    for (const e of early.splice(0)) handle(e);
    const cancel = () => {
      void link.call("cancelRun", { runId: started.runId }, undefined, abandon.signal).catch(() => undefined);
    };
    if (opts.signal.aborted) cancel();
    else opts.signal.addEventListener("abort", cancel, { once: true });
    const end = await Promise.race([finished, lost]);
    opts.signal.removeEventListener("abort", cancel);
    const rank = new Map(order.map((id, i) => [id, i]));
    nodes.sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
    return {
      runId: started.runId,
      pipeline,
      status: end.status,
      ms: end.ms,
      nodes,
      metrics,
      ...(end.warnings !== undefined ? { warnings: end.warnings } : {}),
      ...(runWarnings.length ? { runWarnings } : {}),
    };
  } finally {
    abandon.abort();
    stream.close();
  }
}
