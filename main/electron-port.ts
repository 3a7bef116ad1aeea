/** Electron's MessagePortMain as the port of app/api/port-rpc.ts: messages arrive as events whose `data` is the message. */
import type { MessagePortMain } from "electron";
import type { PortEnd } from "../app/api/port-rpc";

export function electronPortEnd(port: MessagePortMain): PortEnd {
  return {
    post: (message) => port.postMessage(message),
    listen(handler) {
      const listener = (event: { data: unknown }) => handler(event.data);
      port.on("message", listener);
      // A MessagePortMain queues messages until started.
      port.start();
      return () => port.off("message", listener);
    },
  };
}

/** What the window's process and the engine process say to each other over parentPort, beside the Api's port. */
export type EngineControl =
  /** main → engine, with the Api's port: open this project (or none). */
  | { type: "start"; projectDir?: string }
  /** engine → main: serving; `projectError` when the project did not open (the engine runs without one). */
  | { type: "ready"; projectError?: string; bridgePort: number }
  /** main → engine: close runs, the project and the servers, then exit. */
  | { type: "close" }
  /** engine → main: closed; it exits next. */
  | { type: "closed" };
