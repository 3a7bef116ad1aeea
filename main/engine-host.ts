/**
 * The desktop app's engine process: Electron's utilityProcess, forked by
 * main.ts, runs the core here so that nothing the engine does (a run, DuckDB,
 * training, scoring) can stall the window's process, its menus or its IPC.
 * main.ts hands over a MessagePort that carries the Api (app/api/port-rpc.ts);
 * a loopback bridge (app/api/http.ts, token-guarded, no page) and
 * `.dagwood/engine.json` let the CLI attach to this engine (app/cli/attach.ts).
 */
import type { MessagePortMain } from "electron";
import { type CoreApi, createCoreApi } from "../app/api/core";
import { advertiseEngine } from "../app/api/engine-advert";
import { startHttpBridge } from "../app/api/http";
import { servePort } from "../app/api/port-rpc";
import { catalog } from "../nodes/index";
import { type EngineControl, electronPortEnd } from "./electron-port";

const parent = process.parentPort;
const send = (message: EngineControl) => parent.postMessage(message);

async function start(projectDir: string | undefined, port: MessagePortMain) {
  let api: CoreApi;
  let projectError: string | undefined;
  try {
    api = await createCoreApi({ catalog, projectDir });
  } catch (e) {
    // A project that moved or broke must not keep the app from starting: open without one and say why.
    api = await createCoreApi({ catalog });
    projectError = `${projectDir}: ${(e as Error).message}`;
  }
  const stopServing = servePort(electronPortEnd(port), api);
  const bridge = await startHttpBridge({ api, host: "127.0.0.1", port: 0 });
  const advertised = advertiseEngine(api, { host: "127.0.0.1", port: bridge.port, token: bridge.token });
  let closing: Promise<void> | undefined;
  /** Closes runs, the project, the servers and the engine file once, then exits (however many ask). */
  const closeAndExit = () => {
    closing ??= (async () => {
      advertised.stop();
      stopServing();
      await bridge.close().catch(() => undefined);
      await api.close().catch(() => undefined);
      send({ type: "closed" });
      process.exit(0);
    })();
    return closing;
  };
  parent.on("message", (event) => {
    if ((event.data as EngineControl | null)?.type === "close") void closeAndExit();
  });
  // The window's process was killed: leave no engine behind holding the project.
  port.on("close", () => void closeAndExit());
  send({ type: "ready", bridgePort: bridge.port, ...(projectError ? { projectError } : {}) });
}

parent.once("message", (event) => {
  const message = event.data as EngineControl | null;
  const [port] = event.ports;
  // main.ts starts it with one message: a start and the Api's port. Anything else is not ours.
  if (message?.type !== "start" || !port) return process.exit(2);
  void start(message.projectDir, port).catch((e) => {
    process.stderr.write(`The Dagwood engine could not start: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  });
});
