import { deployProjectOf } from "../deploy/deploy";
import type { Catalog } from "../engine/block";
import type { RunEvent } from "../engine/events";
import type { SchedulerClock } from "../monitoring/scheduler";
import { Project } from "../project/project";
import { type Api, ApiError, type ApiMethod, parseApiArgs } from "./api";
import { changesHandlers } from "./handlers/changes";
import { createConnectionHandlers } from "./handlers/connections";
import { createDatasetHandlers } from "./handlers/datasets";
import { createDeployHandlers } from "./handlers/deploy";
import { expectationHandlers } from "./handlers/expectations";
import { createFeatureHandlers } from "./handlers/features";
import { governanceHandlers } from "./handlers/governance";
import { loopHandlers, startMonitoring } from "./handlers/loops";
import { monitoringHandlers } from "./handlers/monitoring";
import { pipelineHandlers } from "./handlers/pipelines";
import { privacyHandlers } from "./handlers/privacy";
import { projectHandlers } from "./handlers/projects";
import { runHandlers } from "./handlers/runs";
import { createCoreState, type Handlers } from "./handlers/state";
import { tableHandlers } from "./handlers/tables";
import { createTrackingHandlers, toApiError } from "./tracking";

export interface CoreApiOptions {
  catalog: Catalog;
  /** Open this project at start. */
  projectDir?: string;
  /** The monitors' scheduler (app/monitoring/scheduler.ts): its clock (tests), or false to run none on schedules. */
  monitorScheduler?: { clock?: SchedulerClock; fetch?: typeof fetch } | false;
}

export type CoreApi = Api & {
  /** Dispatches a method by name after validating its arguments (what every transport calls). */
  call(method: string, args: unknown): Promise<unknown>;
  /** The open project's folder, or null. */
  projectDir(): string | null;
  /** Called with the new and the previous folder whenever another project is opened (or the last one closed). */
  onProjectChange(listener: (dir: string | null, previous: string | null) => void): () => void;
  close(): Promise<void>;
};

/**
 * The Api implemented over the core: one open project, any number of runs at
 * once in it (nodes with the same cache key share one computation), events
 * fanned out to every subscriber. Each group of methods is a small part over
 * one shared state (./handlers).
 */
export async function createCoreApi(opts: CoreApiOptions): Promise<CoreApi> {
  const state = createCoreState(opts.catalog, opts.projectDir ? await Project.open(opts.projectDir) : null);
  const handlers: Handlers<ApiMethod> = {
    ...projectHandlers(state),
    ...pipelineHandlers(state),
    ...changesHandlers(state),
    ...runHandlers(state),
    ...tableHandlers(state),
    ...privacyHandlers(state),
    ...expectationHandlers(state),
    ...governanceHandlers(state),
    ...monitoringHandlers(state),
    ...loopHandlers(state, opts.monitorScheduler ? opts.monitorScheduler : {}),
    ...createTrackingHandlers(state.requireProject),
    ...createDatasetHandlers(state.requireProject),
    ...createConnectionHandlers(state.requireProject),
    ...createFeatureHandlers(state.requireProject, state.onProjectChange),
    ...createDeployHandlers(() => deployProjectOf(state.requireProject()), {
      local: state.localServers,
      operations: state.deployOperations,
    }),
  };

  // The open project's monitors run on their schedules, from now until close (a new scheduler per project).
  const monitoring =
    opts.monitorScheduler === false ? null : startMonitoring(state, opts.monitorScheduler || {});

  const call = async (method: string, args: unknown): Promise<unknown> => {
    if (!Object.hasOwn(handlers, method)) throw new ApiError(404, `Unknown method "${method}"`);
    const m = method as ApiMethod;
    const parsed = parseApiArgs(m, args);
    try {
      return await (handlers[m] as (a: unknown) => Promise<unknown>)(parsed);
    } catch (e) {
      throw toApiError(e);
    }
  };

  const api = Object.fromEntries(
    Object.keys(handlers).map((m) => [m, (args: unknown) => call(m, args)]),
  ) as unknown as Api;

  return Object.assign(api, {
    onEvent: (listener: (e: RunEvent) => void) => state.onEvent(listener),
    call,
    projectDir: () => state.project()?.dir ?? null,
    onProjectChange: state.onProjectChange,
    async close() {
      // No monitor tick starts from now; one in flight ends below (it counts as a run in progress).
      const stopping = monitoring?.stop();
      for (const run of state.active.values()) run.controller.abort();
      await Promise.all([...state.active.values()].map((r) => r.done));
      await stopping;
      // A tick that started a run after the first wait: it ends too.
      await Promise.all([...state.active.values()].map((r) => r.done));
      // A cache collection under way ends before the workspace closes under it.
      while (state.collecting) await state.collecting.catch(() => {});
      await state.localServers.close();
      state.replaceProject(null)?.close();
    },
  });
}
