/**
 * The Api over a message port: the desktop app's window process calls the
 * engine, which runs in its own process (Electron's utilityProcess), through
 * a MessagePort. Independent of Electron: a port is anything that posts and
 * receives structured-clone messages (Electron's MessagePortMain, Node's
 * worker_threads MessagePort), so the protocol is tested under plain Node.
 *
 * Messages:
 *   → { kind: "call", id, method, args }       a call; `id` is the caller's number for it
 *   ← { kind: "result", id, ok: true, result }
 *   ← { kind: "result", id, ok: false, status, error }   an ApiError's status, else 500
 *   ← { kind: "event", event }                  every run event, as it happens
 *   ← { kind: "error", status: 400, error }     a message that is not a call (no id to answer)
 * Arguments are validated where they are handled, by `CoreApi.call`.
 */
import type { RunEvent } from "../engine/events";
import { ApiError } from "./api";

/** The two ends' common surface: send one message; receive each message's data. */
export interface PortEnd {
  post(message: unknown): void;
  /** Starts delivering messages to `handler`; answers the function that stops it. */
  listen(handler: (data: unknown) => void): () => void;
}

export type PortCall = { kind: "call"; id: number; method: string; args: unknown };
export type PortReply =
  | { kind: "result"; id: number; ok: true; result: unknown }
  | { kind: "result"; id: number; ok: false; status: number; error: string }
  | { kind: "event"; event: RunEvent }
  | { kind: "error"; status: number; error: string };

/** What the engine side needs of the core: named calls (validated there) and the event stream. */
export interface PortServed {
  call(method: string, args: unknown): Promise<unknown>;
  onEvent(listener: (event: RunEvent) => void): () => void;
}

const MAX_METHOD_LENGTH = 100;

function isCall(data: unknown): data is PortCall {
  if (typeof data !== "object" || data === null) return false;
  const m = data as Record<string, unknown>;
  return (
    m.kind === "call" &&
    Number.isSafeInteger(m.id) &&
    typeof m.method === "string" &&
    m.method.length > 0 &&
    m.method.length <= MAX_METHOD_LENGTH
  );
}

/**
 * Serves `api` on `port`: answers each call with its result or its error
 * (keeping the ApiError's status) and pushes every run event. A message that
 * is not a call is answered with a 400, never a crash. Answers the function
 * that stops serving.
 */
export function servePort(port: PortEnd, api: PortServed): () => void {
  const send = (reply: PortReply) => {
    try {
      port.post(reply);
    } catch {
      // A result that cannot be cloned, or a closed port: the caller gets a 500 below, or no one listens.
    }
  };
  const unsubscribe = api.onEvent((event) => send({ kind: "event", event }));
  const stop = port.listen((data) => {
    if (!isCall(data)) {
      const id = (data as { id?: unknown } | null)?.id;
      const error =
        'Not a call: a message is { kind: "call", id: <integer>, method: <Api method name>, args: <object> }';
      if (Number.isSafeInteger(id)) send({ kind: "result", id: id as number, ok: false, status: 400, error });
      else send({ kind: "error", status: 400, error });
      return;
    }
    const { id, method, args } = data;
    void api.call(method, args).then(
      (result) => {
        try {
          port.post({ kind: "result", id, ok: true, result: result ?? null } satisfies PortReply);
        } catch (e) {
          send({
            kind: "result",
            id,
            ok: false,
            status: 500,
            error: `The result of ${method} cannot be sent: ${(e as Error).message}`,
          });
        }
      },
      (e: unknown) => {
        const status = e instanceof ApiError ? e.status : 500;
        send({ kind: "result", id, ok: false, status, error: (e as Error)?.message ?? String(e) });
      },
    );
  });
  return () => {
    unsubscribe();
    stop();
  };
}

/** A failed call as the caller sees it: the engine's status and message. */
export class PortCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "PortCallError";
  }
}

export interface PortClient {
  call(method: string, args: unknown): Promise<unknown>;
  onEvent(listener: (event: RunEvent) => void): () => void;
  /** Fails the calls in flight (the engine went away) and stops listening. */
  close(reason?: string): void;
}

/** The caller's end: numbered calls matched to their replies, events fanned out to listeners. */
export function connectPort(port: PortEnd): PortClient {
  let next = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const listeners = new Set<(event: RunEvent) => void>();
  let closed: string | undefined;
  const stop = port.listen((data) => {
    const reply = data as PortReply | null;
    if (!reply || typeof reply !== "object") return;
    if (reply.kind === "event") {
      for (const l of listeners) {
        try {
          l(reply.event);
        } catch {
          // one listener's failure is not the others'
        }
      }
    } else if (reply.kind === "result") {
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(new PortCallError(reply.status, reply.error));
    }
  });
  return {
    call(method, args) {
      if (closed !== undefined) return Promise.reject(new PortCallError(500, closed));
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          port.post({ kind: "call", id, method, args } satisfies PortCall);
        } catch (e) {
          pending.delete(id);
          reject(
            new PortCallError(400, `The arguments of ${method} cannot be sent: ${(e as Error).message}`),
          );
        }
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close(reason = "The engine is closed") {
      closed = reason;
      stop();
      for (const p of pending.values()) p.reject(new PortCallError(500, reason));
      pending.clear();
    },
  };
}

/** A Node worker_threads MessagePort (or anything with its shape) as a PortEnd. */
export function nodePortEnd(port: {
  postMessage(message: unknown): void;
  on(event: "message", listener: (value: unknown) => void): unknown;
  off(event: "message", listener: (value: unknown) => void): unknown;
}): PortEnd {
  return {
    post: (message) => port.postMessage(message),
    listen(handler) {
      port.on("message", handler);
      return () => port.off("message", handler);
    },
  };
}
