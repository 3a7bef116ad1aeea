/**
 * The renderer's only way to the core: the typed Api, over Electron IPC when
 * the preload exposed it, else over the HTTP bridge of browser mode. Both
 * carry the same methods; only types come from app/api.
 */
import type { Api, ApiMethod, RunEvent } from "../../../app/api/api";
import type { IpcReply, MenuMessage, PickedFile } from "../../../app/api/ipc-contract";
import { decodeNonFinite, encodeNonFinite } from "../../../app/api/json-numbers";

declare global {
  interface Window {
    /** Set by the Electron preload: one function per Api method, the event stream, menu commands. */
    dagwood?: {
      api: Record<ApiMethod, (args: unknown) => Promise<IpcReply>>;
      onEvent(listener: (event: RunEvent) => void): () => void;
      onMenu(listener: (message: MenuMessage) => void): () => void;
      /** The desktop app's file dialog: the chosen file relative to the project, or null. */
      pickDataFile?(): Promise<PickedFile | null>;
    };
  }
}

/** An error the core reported, with its HTTP-like status. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiCallError";
  }
}

/** Browser mode serves the page under /<token>/: the token is the first path segment. */
function takeToken(): string {
  return /^\/([\w-]{16,})\//.exec(window.location.pathname)?.[1] ?? "";
}

/** The bridge tags NaN and ±Infinity (plain JSON would make them null); the reviver restores them. */
function parseReply(text: string, statusText: string): { result?: unknown; error?: string } {
  try {
    return JSON.parse(text, decodeNonFinite) as { result?: unknown; error?: string };
  } catch {
    return { error: statusText };
  }
}

function httpTransport() {
  const token = takeToken();
  const listeners = new Set<(e: RunEvent) => void>();
  let source: EventSource | undefined;
  const connect = () => {
    // EventSource sends the cookie set by the first page load; the token rides along for safety.
    source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    source.onmessage = (m) => {
      const event = JSON.parse(m.data, decodeNonFinite) as RunEvent;
      for (const l of listeners) l(event);
    };
  };
  return {
    async call(method: ApiMethod, args: unknown): Promise<unknown> {
      const res = await fetch(`/api/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-dagwood-token": token },
        body: JSON.stringify(args ?? {}, encodeNonFinite),
      });
      const body = parseReply(await res.text(), res.statusText);
      if (!res.ok) throw new ApiCallError(res.status, body.error ?? res.statusText);
      return body.result;
    },
    onEvent(listener: (e: RunEvent) => void) {
      if (!source) connect();
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function ipcTransport(bridge: NonNullable<Window["dagwood"]>) {
  return {
    async call(method: ApiMethod, args: unknown): Promise<unknown> {
      const reply = await bridge.api[method](args);
      if (!reply.ok) throw new ApiCallError(reply.status, reply.error);
      return reply.result;
    },
    onEvent: bridge.onEvent,
  };
}

/** Menu commands from the desktop app's native menu; in browser mode there are none. */
export function onMenuCommand(listener: (message: MenuMessage) => void): () => void {
  return window.dagwood?.onMenu(listener) ?? (() => undefined);
}

function createApi(): Api {
  const transport = window.dagwood ? ipcTransport(window.dagwood) : httpTransport();
  return new Proxy({} as Api, {
    get(_target, prop: string) {
      if (prop === "onEvent") return transport.onEvent;
      return (args: unknown) => transport.call(prop as ApiMethod, args ?? {});
    },
  });
}

export const api: Api = createApi();

/** The desktop app's file dialog for a data file (undefined in browser mode, which has none). */
export const pickDataFile: (() => Promise<PickedFile | null>) | undefined =
  typeof window !== "undefined" && window.dagwood?.pickDataFile
    ? () => window.dagwood!.pickDataFile!()
    : undefined;
