/**
 * What the core's handler groups share: the catalog, the one open project,
 * the runs in flight, the event fan-out, and the built-in deploy target's
 * servers. Each group (projects, pipelines, runs, tables, tracking, deploy)
 * is a small function of this state.
 */
import { createLocalServers } from "../../deploy/embedded";
import type { Catalog } from "../../engine/block";
import type { RunEvent } from "../../engine/events";
import type { Project } from "../../project/project";
import { ApiError, type ApiMethod, type ApiResults, type parseApiArgs } from "../api";
import { createDeployOperations } from "./deploy";
import type { MonitorRuntime } from "./loops";

export interface ActiveRun {
  controller: AbortController;
  done: Promise<unknown>;
}

export interface CoreState {
  readonly catalog: Catalog;
  /** The open project, or null. */
  project(): Project | null;
  /** The open project; a 409 that says to open one when there is none. */
  requireProject(): Project;
  /** Makes `next` the open project; answers the previous one (the caller closes it). */
  replaceProject(next: Project | null): Project | null;
  readonly active: Map<string, ActiveRun>;
  /** A cache collection under way: a run waits for it to end before it plans (collectGarbage). */
  collecting: Promise<unknown> | null;
  emit(event: RunEvent): void;
  onEvent(listener: (event: RunEvent) => void): () => void;
  /** Called with the new and the previous project folder whenever the open project changes. */
  onProjectChange(listener: (dir: string | null, previous: string | null) => void): () => void;
  /** The built-in `local` deploy target's servers, one per project, started on demand; closed with the Api. */
  readonly localServers: ReturnType<typeof createLocalServers>;
  /** The deploy calls in flight, per project (another project is not opened under them). */
  readonly deployOperations: ReturnType<typeof createDeployOperations>;
  /** The open project's monitor scheduler and what its monitors' checks said (./loops.ts). */
  readonly monitoring: MonitorRuntime;
}

/** Calls every listener; a listener that throws does not stop the others (nor the run that emitted). */
function fanOut<A extends unknown[]>(listeners: Set<(...args: A) => void>, ...args: A) {
  for (const l of listeners) {
    try {
      l(...args);
    } catch {
      // a failing subscriber must not break the run
    }
  }
}

export function createCoreState(catalog: Catalog, initial: Project | null): CoreState {
  let current = initial;
  const events = new Set<(e: RunEvent) => void>();
  const projectListeners = new Set<(dir: string | null, previous: string | null) => void>();
  return {
    catalog,
    project: () => current,
    requireProject() {
      if (!current) throw new ApiError(409, "No project is open. Open a project folder first.");
      return current;
    },
    replaceProject(next) {
      const previous = current;
      current = next;
      if (previous?.dir !== next?.dir) fanOut(projectListeners, next?.dir ?? null, previous?.dir ?? null);
      return previous;
    },
    active: new Map(),
    collecting: null,
    emit: (e) => fanOut(events, e),
    onEvent(listener) {
      events.add(listener);
      return () => events.delete(listener);
    },
    onProjectChange(listener) {
      projectListeners.add(listener);
      return () => projectListeners.delete(listener);
    },
    localServers: createLocalServers(),
    deployOperations: createDeployOperations(),
    monitoring: { dir: null, scheduler: null, last: new Map(), busy: new Map() },
  };
}

/** Handlers of some Api methods: each takes its parsed arguments (core.call validated them) and answers its result. */
export type Handlers<M extends ApiMethod> = {
  [K in M]: (args: ReturnType<typeof parseApiArgs<K>>) => Promise<ApiResults[K]>;
};
