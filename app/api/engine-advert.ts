/**
 * Keeps `.dagwood/engine.json` of the open project pointing at this engine's
 * loopback bridge, so the CLI attaches to it (app/cli/attach.ts): written when
 * a project opens, moved when another one opens, removed when the engine closes.
 */
import { removeEngineFile, writeEngineFile } from "../project/engine-file";
import type { CoreApi } from "./core";

export interface Advertised {
  /** Stops following project changes and removes the file (only if it is still this engine's). */
  stop(): void;
}

export function advertiseEngine(
  api: CoreApi,
  bridge: { host: string; port: number; token: string },
): Advertised {
  const write = (dir: string) => {
    try {
      writeEngineFile(dir, bridge);
    } catch {
      // A read-only project still works in the app; only attaching from the CLI is lost.
    }
  };
  const first = api.projectDir();
  if (first) write(first);
  const unsubscribe = api.onProjectChange((dir, previous) => {
    if (previous) removeEngineFile(previous, bridge.token);
    if (dir) write(dir);
  });
  return {
    stop() {
      unsubscribe();
      const dir = api.projectDir();
      if (dir) removeEngineFile(dir, bridge.token);
    },
  };
}
