/**
 * The Api's deploy methods: targets, status, deploy, rollback, traffic. Like
 * the tracking methods they need only the project folder, its settings and
 * its registry, so the CLI serves them without opening the workspace.
 */
import { ApiError, type ApiResults, type parseApiArgs } from "../api/api";
import type { DeployMethod } from "../api/api-methods";
import { currentUser } from "../engine/environment";
import { ProjectSettingsError } from "../project/project";
import type { AuditEntry } from "../store/types";
import {
  type ConnectOptions,
  type DeploymentRecord,
  type DeployProject,
  deploymentStatus,
  deployVersion,
  rollbackDeployment,
  setTraffic,
} from "./deploy";
import { DeployError, listTargets } from "./targets";

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

/** The handlers over whatever project `context()` returns at each call (it throws when none is open). */
export function createDeployHandlers(
  context: () => DeployProject,
  opts: ConnectOptions = {},
): DeployHandlers {
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw deployApiError(e);
    }
  };
  return {
    listTargets: () =>
      guard(async () =>
        listTargets(context().settings, opts.tokens).map(({ name, url, kind, tokenSource }) => ({
          name,
          url,
          kind,
          tokenSource,
        })),
      ),
    deploymentStatus: () => guard(() => deploymentStatus(context(), opts)),
    deployVersion: ({ name, ref, target }) =>
      guard(async () => {
        const project = context();
        const record = await deployVersion({ project, target, name, ref, actor: currentUser(), ...opts });
        return auditOf(project, record);
      }),
    rollbackDeployment: ({ name, target, version }) =>
      guard(async () => {
        const project = context();
        const record = await rollbackDeployment({
          project,
          target,
          name,
          toVersion: version,
          actor: currentUser(),
          ...opts,
        });
        return auditOf(project, record);
      }),
    setTraffic: ({ target, name, canary, shadow }) =>
      guard(async () => ({
        policy: await setTraffic(
          context(),
          { target, name, ...(canary ? { canary } : {}), ...(shadow ? { shadow } : {}) },
          opts,
        ),
      })),
  };
}
