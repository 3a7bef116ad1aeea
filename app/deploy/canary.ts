/**
 * A registered version as a canary on a Dagwood target: it takes a share of
 * the requests by model (deterministic per request id, the server's traffic
 * extension) beside the version serving now, until it is promoted (it
 * becomes the primary) or removed (the primary never changed). The retraining
 * loop (app/monitoring/loop.ts) calls these, and so do the CLI and the Api.
 *
 * Each call is idempotent: it reads the target's traffic policy first, and
 * when the target is already in the state asked for and the registry's audit
 * log recorded it, it answers that record and changes nothing (never an
 * upload or an audit entry twice), so a loop resumed after a crash may call
 * it again. When the target is as asked but the record is missing (a crash
 * between the traffic change and the audit entry), the record is written
 * then; when the record is there but the target is not as asked, the step is
 * taken again. A canary is checked as a deploy is (app/deploy/deploy.ts):
 * the target's copy of the version number must be the registry's bytes, the
 * upload keeps the primary serving (`dagwood_keep_primary`), and parity is
 * checked on the version's own URL before it takes any traffic. A failure
 * makes the policy what it was and is audited as `deployment.failed`.
 *
 * Triton has no traffic policy: there a canary is refused (DeployError
 * "invalid"), as setTraffic refuses it.
 */
import type { AuditEntry, Registry } from "../store/types";
import type { DeploymentRecord } from "../values/deployment";
import type { TrafficPolicy } from "./client";
import {
  type ConnectOptions,
  checkParity,
  connect,
  type DeployOperation,
  type DeployOptions,
  type DeployProject,
  deploymentRecordOf,
  type FailureContext,
  failure,
  parityFailure,
  refuseOtherBytes,
  requireVersion,
  requireVersionFiles,
  servingVersion,
  upload,
  waitReady,
} from "./deploy";
import { DeployError, type Target } from "./targets";

export interface CanaryOptions extends DeployOptions {
  /** The canary's share of the requests by model: more than 0 and less than 100. */
  percent: number;
}

export interface EndCanaryOptions extends ConnectOptions {
  project: DeployProject;
  target: string;
  name: string;
  version: number;
  actor: string | null;
}

function refuseTriton(target: Target, what: string): void {
  if (target.kind !== "dagwood") {
    throw new DeployError(
      `Target "${target.name}" is ${target.kind}: ${what} needs Dagwood's traffic extension (a canary takes a share of the requests by model). Split traffic in front of it instead (e.g. KServe's canaryTrafficPercent).`,
      "invalid",
    );
  }
}

function checkPercent(percent: number): void {
  if (typeof percent !== "number" || !Number.isFinite(percent) || percent <= 0 || percent >= 100) {
    throw new DeployError(
      `A canary's percent must be a number more than 0 and less than 100, got ${String(percent)}: at 100 the version would take all the traffic (deploy it instead).`,
      "invalid",
    );
  }
}

/** The newest deployment audit entry of `name` on `target` that `pick` takes (among its latest 1,000 entries). */
function latestEntry(
  registry: Registry,
  name: string,
  target: string,
  pick: (e: AuditEntry) => boolean,
): AuditEntry | undefined {
  return registry
    .audit({ model: name, limit: 1000 })
    .find((e) => e.action.startsWith("deployment.") && e.details.target === target && pick(e));
}

/**
 * The newest canary entry of `version` on `target` (`deployment.canary` or
 * `deployment.canaryEnded`): a `deployment.canary` one means its canary was
 * never recorded as ended. Other deployment entries (a failed deploy of
 * another version, say) do not hide it.
 */
function canaryHistory(
  registry: Registry,
  name: string,
  target: string,
  version: number,
): AuditEntry | undefined {
  return latestEntry(
    registry,
    name,
    target,
    (e) =>
      (e.action === "deployment.canary" || e.action === "deployment.canaryEnded") && e.version === version,
  );
}

type RecordDetails = Omit<DeploymentRecord, "status" | "model" | "version" | "actor" | "auditId">;

const samePercent = (a: number, b: number) => Math.abs(a - b) < 1e-9;

/** Appends the audit entry of a step (its details: `record` and `extra`) and answers the record it makes. */
function audited(
  opts: { project: DeployProject; actor: string | null },
  action: "deployment.canary" | "deployment.canaryEnded" | "deployment.succeeded",
  name: string,
  version: number,
  record: RecordDetails,
  extra: Record<string, unknown> = {},
): DeploymentRecord {
  const entry = opts.project.registry.appendAudit({
    actor: opts.actor,
    action,
    model: name,
    version,
    details: { ...record, ...extra },
  });
  return { ...deploymentRecordOf(entry), ...record };
}

/**
 * Deploys `ref` as a canary taking `percent` of the requests by model, the
 * version serving now staying the primary. Refused when nothing serves the
 * model there (deploy it first), when the version already is the primary, or
 * when another version is the canary (promote or remove it first). The same
 * canary at the same percent, recorded before, is answered as it is.
 */
export async function deployCanary(opts: CanaryOptions): Promise<DeploymentRecord> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => {});
  const { project, name, percent } = opts;
  checkPercent(percent);
  const version = await requireVersionFiles(project, name, opts.ref);
  const { target, client } = connect(project, opts.target, opts);
  refuseTriton(target, "a canary");
  const current = await servingVersion(client, target.kind, name);
  const previous = current.version;
  const policy: TrafficPolicy = current.policy ?? {};
  if (previous === null) {
    throw new DeployError(
      `${name} is not served by target "${target.name}": a canary takes a share beside the version serving there. Deploy a version first.`,
      "not-found",
    );
  }
  if (previous === version.version) {
    throw new DeployError(
      `${name} v${version.version} already serves all the traffic on ${target.name}: it cannot also be its canary.`,
      "conflict",
    );
  }
  if (policy.canary && policy.canary.version !== version.version) {
    throw new DeployError(
      `${name} v${policy.canary.version} is already the canary on ${target.name} (${policy.canary.percent} %): promote or remove it first.`,
      "conflict",
    );
  }
  if (
    policy.canary &&
    samePercent(policy.canary.percent, percent) &&
    policy.primary === previous &&
    (await client.modelReady(name, version.version))
  ) {
    // Already so: the record that made it is the answer (nothing is uploaded or recorded twice).
    const last = canaryHistory(project.registry, name, target.name, version.version);
    if (
      last?.action === "deployment.canary" &&
      last.details.previous === previous &&
      typeof last.details.percent === "number" &&
      samePercent(last.details.percent, percent)
    )
      return deploymentRecordOf(last);
  }
  const base = { target: target.name, url: target.url, kind: target.kind, previous, percent };
  const ctx: FailureContext = {
    opts,
    operation: "canary",
    started,
    target,
    client,
    name,
    version: version.version,
    previous,
    policy,
    changed: false,
    parity: null,
  };
  try {
    await refuseOtherBytes(client, project, target, version, current.versions);
    // Pinned, the version serving now keeps its traffic while the canary is uploaded and checked.
    if (policy.primary !== previous) {
      ctx.changed = true;
      await client.setTraffic(name, { ...policy, primary: previous });
    }
    if (!(await client.modelReady(name, version.version))) {
      progress({ phase: "upload", message: `uploading ${name} v${version.version} to ${target.name}` });
      await upload(client, project, version, target.kind);
      ctx.changed = true;
      await waitReady(client, name, version.version, opts.readyTimeoutMs ?? 60_000, progress);
    }
    progress({ phase: "parity", message: "comparing the canary's predictions with the registry's" });
    ctx.parity = await checkParity(client, project, version, target.kind, name);
    if (!ctx.parity.passed) throw new DeployError(parityFailure(ctx.parity), "parity");
    progress({
      phase: "promote",
      message: `${name} v${version.version} takes ${percent} % of the traffic beside v${previous}`,
    });
    ctx.changed = true;
    await client.setTraffic(name, {
      ...policy,
      primary: previous,
      canary: { version: version.version, percent },
    });
  } catch (e) {
    throw await failure(ctx, e);
  }
  const record = { ...base, parity: ctx.parity, ms: Math.round(performance.now() - started) };
  return audited(opts, "deployment.canary", name, version.version, record);
}

/** The target, its client and the model's state, for ending a canary. */
async function endingState(opts: EndCanaryOptions, what: string) {
  const { target, client } = connect(opts.project, opts.target, opts);
  refuseTriton(target, what);
  const current = await servingVersion(client, target.kind, opts.name);
  if (current.version === null) {
    throw new DeployError(`${opts.name} is not served by target "${target.name}".`, "not-found");
  }
  return { target, client, current, serving: current.version, policy: current.policy ?? {} };
}

function failureContext(
  opts: EndCanaryOptions,
  operation: DeployOperation,
  started: number,
  state: Awaited<ReturnType<typeof endingState>>,
): FailureContext {
  return {
    opts,
    operation,
    started,
    target: state.target,
    client: state.client,
    name: opts.name,
    version: opts.version,
    previous: state.current.version,
    policy: state.policy,
    changed: false,
    parity: null,
  };
}

/**
 * Makes the canary `version` the primary (the canary share is cleared, a
 * shadow stays), after checking its parity again on its own URL. Audits
 * `deployment.canaryEnded` (outcome "promoted") and `deployment.succeeded`,
 * and answers the latter's record. Already the primary with no canary, and
 * recorded so: answered as it is (its canary never recorded as ended: parity
 * checked and the promotion recorded). A canary whose answers differ from
 * the registry's is taken out of the traffic (`deployment.failed`, then
 * `deployment.canaryEnded` outcome "removed"): the primary serves all of it.
 */
export async function promoteCanary(opts: EndCanaryOptions): Promise<DeploymentRecord> {
  const started = performance.now();
  const { project, name } = opts;
  const version = requireVersion(project.registry, name, opts.version);
  const state = await endingState(opts, "promoting a canary");
  const { target, client, current, policy } = state;
  const isCanary = policy.canary?.version === version.version;
  // Its canary recorded and never ended: a promotion whose traffic change was made, not recorded.
  const history = canaryHistory(project.registry, name, target.name, version.version);
  const unended = history?.action === "deployment.canary";
  if (current.version === version.version && !policy.canary) {
    if (!unended) {
      const last = latestEntry(
        project.registry,
        name,
        target.name,
        (e) => e.action === "deployment.succeeded" || e.action === "deployment.rolledBack",
      );
      if (last && last.version === version.version) return deploymentRecordOf(last);
    }
  } else if (!isCanary) {
    throw new DeployError(
      `${name} v${version.version} is not the canary on ${target.name} (${policy.canary ? `its canary is v${policy.canary.version}` : "it has no canary"}; v${current.version} serves): deploy it as a canary first, or deploy it.`,
      "not-found",
    );
  }
  const percent = isCanary
    ? policy.canary!.percent
    : unended && typeof history.details.percent === "number"
      ? history.details.percent
      : undefined;
  const ctx = failureContext(opts, "promote", started, state);
  const { canary: _, ...rest } = policy;
  try {
    ctx.parity = await checkParity(client, project, version, target.kind, name);
    if (!ctx.parity.passed) throw new DeployError(parityFailure(ctx.parity), "parity");
    ctx.changed = true;
    await client.setTraffic(name, { ...rest, primary: version.version });
  } catch (e) {
    if (!(isCanary && ctx.parity && !ctx.parity.passed)) throw await failure(ctx, e);
    // Its answers differ from the registry's: it takes no more requests (the primary serves them all).
    ctx.changed = true;
    ctx.policy = rest;
    const error = await failure(ctx, e);
    const failed = error.details.deployment as DeploymentRecord;
    if (failed.restored !== current.version) throw error;
    const removed = {
      target: target.name,
      url: target.url,
      kind: target.kind,
      previous: current.version,
      ...(percent !== undefined ? { percent } : {}),
      parity: ctx.parity,
      ms: Math.round(performance.now() - started),
      reason: `promotion failed: ${parityFailure(ctx.parity)}`,
      operation: "removeCanary" as const,
    };
    audited(opts, "deployment.canaryEnded", name, version.version, removed, { outcome: "removed" });
    throw new DeployError(
      `${error.message} The canary v${version.version} takes no requests any more: its answers differ from the registry's (deploy it again as a canary once the target serves the registry's bytes).`,
      error.code,
      error.details,
    );
  }
  const ms = Math.round(performance.now() - started);
  const base = {
    target: target.name,
    url: target.url,
    kind: target.kind,
    previous: current.version,
    ...(percent !== undefined ? { percent } : {}),
  };
  if (isCanary || unended)
    audited(
      opts,
      "deployment.canaryEnded",
      name,
      version.version,
      { ...base, parity: null, ms },
      {
        outcome: "promoted",
      },
    );
  const record = { ...base, parity: ctx.parity, ms, operation: "promote" as const };
  return audited(opts, "deployment.succeeded", name, version.version, record);
}

/**
 * Takes the canary `version` out of the traffic; the primary serves all of
 * it, unchanged. Audits `deployment.canaryEnded` (outcome "removed", with
 * `reason`). Not the canary, and its removal recorded before: answered as it
 * is; out of the traffic but its end never recorded: recorded now. Never the
 * canary there: DeployError "not-found"; the version serving all the
 * requests (a promoted canary): DeployError "conflict", nothing recorded.
 */
export async function removeCanary(opts: EndCanaryOptions & { reason: string }): Promise<DeploymentRecord> {
  const started = performance.now();
  const { project, name, version } = opts;
  if (typeof opts.reason !== "string" || opts.reason.trim() === "")
    throw new DeployError("Say why the canary is removed (reason): it goes in the audit log.", "invalid");
  const state = await endingState(opts, "removing a canary");
  const { target, client, current, serving, policy } = state;
  const history = canaryHistory(project.registry, name, target.name, version);
  if (policy.canary?.version !== version) {
    if (serving === version) {
      // Promoted (or deployed) meanwhile: answering "removed" would say the version serving before serves.
      const before = typeof history?.details.previous === "number" ? history.details.previous : null;
      throw new DeployError(
        `${name} v${version} is no canary on ${target.name}: it serves all the requests there${
          history
            ? ` (its canary was ${history.details.outcome === "promoted" ? "promoted" : "made the primary"}), so there is no share to take from it. To serve v${before ?? "<version>"} again: dagwood deploy rollback ${name} --target ${target.name} --to ${before ?? "<version>"}`
            : ": nothing to remove"
        }.`,
        "conflict",
      );
    }
    if (history?.action === "deployment.canaryEnded" && history.details.outcome === "removed")
      return deploymentRecordOf(history);
    if (history?.action !== "deployment.canary")
      throw new DeployError(
        `${name} v${version} is not the canary on ${target.name} (${policy.canary ? `its canary is v${policy.canary.version}` : "it has no canary"}): nothing to remove.`,
        "not-found",
      );
    // Its canary recorded and never ended, and out of the traffic already: a removal whose
    // traffic change was made and not recorded. Recorded now, the target left as it is.
  }
  const percent =
    policy.canary?.version === version
      ? policy.canary.percent
      : typeof history?.details.percent === "number"
        ? history.details.percent
        : undefined;
  if (policy.canary?.version === version) {
    const ctx = failureContext(opts, "removeCanary", started, state);
    try {
      ctx.changed = true;
      const { canary: _, ...rest } = policy;
      await client.setTraffic(name, { ...rest, primary: serving });
    } catch (e) {
      throw await failure(ctx, e);
    }
  }
  const record = {
    target: target.name,
    url: target.url,
    kind: target.kind,
    previous: current.version,
    ...(percent !== undefined ? { percent } : {}),
    parity: null,
    ms: Math.round(performance.now() - started),
    reason: opts.reason,
    operation: "removeCanary" as const,
  };
  return audited(opts, "deployment.canaryEnded", name, version, record, { outcome: "removed" });
}
