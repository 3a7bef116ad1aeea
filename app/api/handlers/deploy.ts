/**
 * The Api's deploy methods: targets, status, deploy, rollback, traffic, and
 * the built-in `local` target's server (start, stop). Like the tracking
 * methods they need only the project folder, its settings and its registry,
 * so the CLI serves them without opening the workspace.
 *
 * Given `local` (the app's in-process servers, embedded.ts), a project whose
 * dagwood.json defines no `local` target gets the built-in one: deploying,
 * rolling back or changing traffic there starts its server on demand; the
 * status starts it only when it served something before and was not stopped
 * from the app since (so Stop stays stopped while the view polls).
 *
 * The calls in flight are counted per project (`DeployOperations`): Stop
 * waits for those on the built-in server to end (at most `stopWaitMs`, then
 * 409), and a Start (or a deploy starting it) during a Stop waits for the Stop.
 * The core Api asks the same count before it opens another project.
 */

import { resolve } from "node:path";
import { deployCanary, promoteCanary, removeCanary } from "../../deploy/canary";
import {
  type ConnectOptions,
  type DeploymentRecord,
  type DeployProject,
  deploymentStatus,
  deployVersion,
  rollbackDeployment,
  setTraffic,
} from "../../deploy/deploy";
import { hasServedState, type LocalServer, type LocalServers } from "../../deploy/embedded";
import { inferExample } from "../../deploy/example";
import { BUILTIN_TARGET, builtinApplies, DeployError, listTargets, type Target } from "../../deploy/targets";
import { currentUser } from "../../engine/environment";
import { CONFIRM_NEEDED, unconfirmed } from "../../privacy/masking";
import { ProjectSettingsError } from "../../project/project";
import type { AuditEntry } from "../../store/types";
import { ApiError, type ApiResults, type parseApiArgs, type TargetInfo, type TargetStatus } from "../api";
import type { DeployMethod } from "../api-methods";

export type DeployHandlers = {
  [M in DeployMethod]: (args: ReturnType<typeof parseApiArgs<M>>) => Promise<ApiResults[M]>;
};

const STATUS = {
  "unknown-target": 404,
  "not-found": 404,
  unreachable: 502,
  unauthorized: 502,
  rejected: 502,
  invalid: 400,
  parity: 409,
  conflict: 409,
} as const;

/** Deploy errors as the Api reports them; anything else passes through unchanged. */
export function deployApiError(e: unknown): unknown {
  if (e instanceof DeployError) return new ApiError(STATUS[e.code], e.message);
  if (e instanceof ProjectSettingsError) return new ApiError(400, e.message);
  return e;
}

function auditOf(project: DeployProject, record: DeploymentRecord): AuditEntry {
  const entry = project.registry
    .audit({ model: record.model, limit: 50 })
    .find((a) => a.id === record.auditId);
  if (!entry) throw new Error(`The audit entry ${record.auditId} of the deployment is missing`);
  return entry;
}

/** The deploy calls in flight, per project folder. */
export interface DeployOperations {
  /** How many calls run in the project (`builtin`: only those on the built-in local server). */
  count(projectDir: string, opts?: { builtin?: boolean }): number;
  /** Runs `fn` counted for the project. */
  track<T>(projectDir: string, builtin: boolean, fn: () => Promise<T>): Promise<T>;
  /** Resolves true when the built-in server's calls that run now have ended, false after `ms`. */
  drained(projectDir: string, ms: number): Promise<boolean>;
}

export function createDeployOperations(): DeployOperations {
  const running = new Map<string, Map<Promise<unknown>, boolean>>();
  return {
    count(projectDir, opts = {}) {
      const ops = running.get(resolve(projectDir));
      if (!ops) return 0;
      return opts.builtin ? [...ops.values()].filter(Boolean).length : ops.size;
    },
    track(projectDir, builtin, fn) {
      const key = resolve(projectDir);
      let ops = running.get(key);
      if (!ops) {
        ops = new Map();
        running.set(key, ops);
      }
      const op = fn();
      const done = op.catch(() => undefined);
      ops.set(done, builtin);
      void done.then(() => {
        ops.delete(done);
        if (!ops.size && running.get(key) === ops) running.delete(key);
      });
      return op;
    },
    async drained(projectDir, ms) {
      const ops = running.get(resolve(projectDir));
      const now = ops ? [...ops].filter(([, builtin]) => builtin).map(([done]) => done) : [];
      if (!now.length) return true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((r) => {
        timer = setTimeout(() => r(false), ms);
      });
      try {
        return await Promise.race([Promise.all(now).then(() => true), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** How long Stop waits for the calls on the built-in server to end before it answers 409. */
export const STOP_WAIT_MS = 60_000;

export interface DeployHandlerOptions extends ConnectOptions {
  /** The app's in-process servers behind the built-in `local` target (the core Api's; the CLI has none). */
  local?: LocalServers;
  /** The count of calls in flight (default: the handlers' own). */
  operations?: DeployOperations;
  /** How long Stop waits for the calls in flight (default STOP_WAIT_MS). */
  stopWaitMs?: number;
}

function targetInfo({ name, url, kind, tokenSource, builtin, running }: Target): TargetInfo {
  return { name, url, kind, tokenSource, ...(builtin ? { builtin, running: running ?? false } : {}) };
}

/** The handlers over whatever project `context()` returns at each call (it throws when none is open). */
export function createDeployHandlers(
  context: () => DeployProject,
  opts: DeployHandlerOptions = {},
): DeployHandlers {
  const { local, operations: givenOperations, stopWaitMs = STOP_WAIT_MS, ...connectOptions } = opts;
  const operations = givenOperations ?? createDeployOperations();
  /** Per project: the Stop in progress (it waits for the calls in flight, then stops the server). */
  const stopping = new Map<string, Promise<unknown>>();
  /** Waits for a Stop in progress on the project, whatever its outcome. */
  const afterStop = async (project: DeployProject) => {
    for (let s = stopping.get(resolve(project.dir)); s; s = stopping.get(resolve(project.dir)))
      await s.catch(() => undefined);
  };
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw deployApiError(e);
    }
  };
  /** The built-in target applies to this project (the app offers it and dagwood.json has no `local`). */
  const offersBuiltin = (project: DeployProject): boolean =>
    local !== undefined && builtinApplies(project.settings, { builtin: { url: null, token: null } });
  const startLocal = async (project: DeployProject): Promise<LocalServer> => {
    await afterStop(project);
    try {
      return await local!.start(project.dir);
    } catch (e) {
      throw new DeployError((e as Error).message, "unreachable");
    }
  };
  /** Connect options with the built-in target as its server is (null: not running). */
  const withBuiltin = (project: DeployProject, server: LocalServer | null): ConnectOptions =>
    offersBuiltin(project)
      ? {
          ...connectOptions,
          tokens: {
            ...connectOptions.tokens,
            builtin: { url: server?.url ?? null, token: server?.token ?? null },
          },
        }
      : connectOptions;
  /** For a call on `target`: the built-in one's server started on demand. */
  const connectFor = async (project: DeployProject, target: string): Promise<ConnectOptions> =>
    target === BUILTIN_TARGET && offersBuiltin(project)
      ? withBuiltin(project, await startLocal(project))
      : withBuiltin(project, local?.running(project.dir) ?? null);
  const builtinInfo = (project: DeployProject): TargetInfo => {
    const tokens = withBuiltin(project, local?.running(project.dir) ?? null).tokens;
    const found = listTargets(project.settings, tokens).find((t) => t.builtin);
    return targetInfo(found!);
  };
  const requireBuiltin = (project: DeployProject) => {
    if (!local)
      throw new ApiError(
        409,
        "The built-in local server runs only in the app (dagwood ui or the desktop app).",
      );
    if (!offersBuiltin(project)) {
      throw new ApiError(
        409,
        `This project's dagwood.json defines a target named "${BUILTIN_TARGET}", which replaces the built-in local server: start that server yourself (dagwood serve).`,
      );
    }
  };

  /** The status with the built-in target: started when it served something before and was not stopped. */
  const builtinStatus = async (project: DeployProject, local: LocalServers): Promise<TargetStatus[]> => {
    let server = local.running(project.dir);
    let startError: string | undefined;
    if (!server && hasServedState(project.dir) && !local.stoppedByUser(project.dir)) {
      try {
        server = await local.start(project.dir);
      } catch (e) {
        startError = (e as Error).message;
      }
    }
    if (server) {
      const targets: TargetStatus[] = await deploymentStatus(project, withBuiltin(project, server));
      return targets.map((t) => (t.name === BUILTIN_TARGET ? { ...t, builtin: true, running: true } : t));
    }
    // Not running: listed without asking it anything (the other targets as usual).
    const others: TargetStatus[] = await deploymentStatus(project, connectOptions);
    const stopped: TargetStatus = {
      name: BUILTIN_TARGET,
      url: "",
      kind: "dagwood",
      tokenSource: null,
      health: { live: false, ready: false, ...(startError ? { error: startError } : {}) },
      models: [],
      traffic: [],
      builtin: true,
      running: false,
    };
    return [...others, stopped].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };

  /** Whether a call on `target` goes to the built-in server. */
  const onBuiltin = (project: DeployProject, target: string) =>
    target === BUILTIN_TARGET && offersBuiltin(project);

  /** A deploy or a rollback on `target`: counted as an operation on its server, and its record audited. */
  const recorded = (
    target: string,
    act: (
      project: DeployProject,
      connect: Awaited<ReturnType<typeof connectFor>>,
    ) => Promise<DeploymentRecord>,
  ) =>
    guard(async () => {
      const project = context();
      return operations.track(project.dir, onBuiltin(project, target), async () =>
        auditOf(project, await act(project, await connectFor(project, target))),
      );
    });

  return {
    listTargets: () =>
      guard(async () => {
        const project = context();
        return listTargets(
          project.settings,
          withBuiltin(project, local?.running(project.dir) ?? null).tokens,
        ).map(targetInfo);
      }),
    deploymentStatus: () =>
      guard(async (): Promise<TargetStatus[]> => {
        const project = context();
        if (!local || !offersBuiltin(project))
          return operations.track(project.dir, false, () => deploymentStatus(project, connectOptions));
        await afterStop(project);
        return operations.track(project.dir, true, () => builtinStatus(project, local));
      }),
    deployVersion: ({ name, ref, target }) =>
      recorded(target, (project, connect) =>
        deployVersion({ project, target, name, ref, actor: currentUser(), ...connect }),
      ),
    rollbackDeployment: ({ name, target, version }) =>
      recorded(target, (project, connect) =>
        rollbackDeployment({ project, target, name, toVersion: version, actor: currentUser(), ...connect }),
      ),
    setTraffic: ({ target, name, canary, shadow }) =>
      guard(async () => {
        const project = context();
        return operations.track(project.dir, onBuiltin(project, target), async () => {
          const connect = await connectFor(project, target);
          return {
            policy: await setTraffic(
              project,
              { target, name, ...(canary ? { canary } : {}), ...(shadow ? { shadow } : {}) },
              connect,
            ),
          };
        });
      }),
    deployCanary: ({ name, ref, target, percent }) =>
      recorded(target, (project, connect) =>
        deployCanary({ project, target, name, ref, percent, actor: currentUser(), ...connect }),
      ),
    promoteCanary: ({ name, target, version }) =>
      recorded(target, (project, connect) =>
        promoteCanary({ project, target, name, version, actor: currentUser(), ...connect }),
      ),
    removeCanary: ({ name, target, version, reason }) =>
      recorded(target, (project, connect) =>
        removeCanary({ project, target, name, version, reason, actor: currentUser(), ...connect }),
      ),
    inferExample: async ({ name, ref, ...unmask }) => {
      if (unconfirmed(unmask)) throw new ApiError(400, CONFIRM_NEEDED);
      return guard(() =>
        inferExample(context(), name, ref, unmask.unmasked ? { unmasked: true, actor: currentUser() } : {}),
      );
    },
    startLocalServer: () =>
      guard(async () => {
        const project = context();
        requireBuiltin(project);
        await startLocal(project);
        return builtinInfo(project);
      }),
    stopLocalServer: () =>
      guard(async () => {
        const project = context();
        requireBuiltin(project);
        const key = resolve(project.dir);
        // One Stop at a time per project: a second one shares the first.
        let stop = stopping.get(key);
        if (!stop) {
          stop = (async () => {
            // The calls on the server now end first (they were started before the Stop).
            if (!(await operations.drained(key, stopWaitMs))) {
              throw new ApiError(
                409,
                "A deploy is running on the built-in local server: it was not stopped. Try again when the deploy has ended.",
              );
            }
            await local!.stop(key);
          })().finally(() => {
            if (stopping.get(key) === stop) stopping.delete(key);
          });
          stopping.set(key, stop);
        }
        await stop;
        return builtinInfo(project);
      }),
  };
}
