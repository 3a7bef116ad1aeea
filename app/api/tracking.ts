/**
 * The Api's tracking and registry methods: run search and comparison, tags
 * and notes, registered models, aliases, the audit log, lineage and export.
 * They need only the project folder and its metadata store, so the CLI can
 * serve them without opening the DuckDB workspace (and while a run holds it).
 */

import { readFileSync } from "node:fs";
import { relative, sep } from "node:path";
import { ArtifactError } from "../artifacts/location";
import { ensureProjectVersionFiles } from "../artifacts/version-files";
import { currentUser } from "../engine/environment";
import { parseReferenceProfile, type StoredReferenceProfile } from "../monitoring/reference";
import { CONFIRM_NEEDED, unconfirmed } from "../privacy/masking";
import { currentProcess } from "../store/liveness";
import { referenceProfilePath } from "../store/registry";
import { type ModelVersion, type RegisteredModel, RegistryError, type RunRecord } from "../store/types";
import type { TrackingContext } from "../tracking/export";
import { type ExportedFolder, exportModelVersion, exportRun, TrackingError } from "../tracking/export";
import { lineageGraph } from "../tracking/lineage";
import { aliasChanges } from "../values/registry";
import { ApiError, type ApiResults, type parseApiArgs, type RunOwner } from "./api";
import type { TrackingMethod } from "./api-methods";

export type TrackingHandlers = {
  [M in TrackingMethod]: (args: ReturnType<typeof parseApiArgs<M>>) => Promise<ApiResults[M]>;
};

const STATUS = { "not-found": 404, invalid: 400, conflict: 409, forbidden: 403 } as const;

/** Registry and tracking errors as the Api reports them; anything else passes through unchanged. */
export function toApiError(e: unknown): unknown {
  if (e instanceof RegistryError) return new ApiError(STATUS[e.code], e.message);
  if (e instanceof TrackingError) return new ApiError(STATUS[e.code], e.message);
  return e;
}

/** The audit actions that change an alias (an archive removes the version's aliases). */
const ALIAS_ACTIONS = ["alias.set", "alias.moved", "alias.removed", "version.archived"] as const;

const exported = (r: ExportedFolder) => ({
  dir: r.dir,
  files: r.files,
  ...(r.masked ? { masked: r.masked } : {}),
  ...(r.unmasked ? { unmasked: r.unmasked } : {}),
});

/** The export options of an `unmasked` request: refused (400) unless confirmed; audited by the export. */
function unmaskOptions(args: { unmasked?: boolean | undefined; confirm?: boolean | undefined }) {
  if (unconfirmed(args)) throw new ApiError(400, CONFIRM_NEEDED);
  return args.unmasked ? { unmasked: true, actor: currentUser() } : {};
}

/** Who this process records runs as, and where (what startRun writes into runs.user and runs.host). */
export function whoAmI(): RunOwner {
  return { user: currentUser(), host: currentProcess().host };
}

/**
 * The user and host filters of a run query, `mine` resolved to this process's user (a user on
 * several machines owns the runs of each). Refused: `mine` when no user is known, or with another `user`.
 */
export function ownerFilter(
  args: { user?: string; host?: string; mine?: boolean },
  me: string | null = currentUser(),
): { user?: string; host?: string } {
  const { user, host, mine } = args;
  if (!mine) return { ...(user !== undefined ? { user } : {}), ...(host !== undefined ? { host } : {}) };
  if (!me)
    throw new ApiError(
      400,
      "Cannot show only your runs: this process has no user name. Set DAGWOOD_USER to the name your runs are recorded under.",
    );
  if (user !== undefined && user !== me)
    throw new ApiError(
      400,
      `"mine" means the runs of ${me}, but the user filter names ${user}: give one of them.`,
    );
  return { user: me, ...(host !== undefined ? { host } : {}) };
}

/** The handlers over whatever project `context()` returns at each call (it throws when none is open). */
export function createTrackingHandlers(context: () => TrackingContext): TrackingHandlers {
  const requireRun = (runId: string): RunRecord => {
    const run = context().metadata.getRun(runId);
    if (!run)
      throw new ApiError(404, `No run ${runId} in this project. \`dagwood runs list\` shows its runs.`);
    return run;
  };

  const requireModel = (name: string): RegisteredModel => {
    const model = context().metadata.registry.getModel(name);
    if (!model) throw new ApiError(404, `No registered model "${name}". \`dagwood models list\` shows them.`);
    return model;
  };

  const requireVersion = (name: string, ref: number | string): ModelVersion => {
    const model = requireModel(name);
    const v = context().metadata.registry.getVersion(name, ref);
    if (v) return v;
    if (typeof ref === "string") {
      const known = Object.keys(model.aliases).sort();
      throw new ApiError(
        404,
        `Model "${name}" has no alias "${ref}"${known.length ? ` (its aliases: ${known.join(", ")})` : " (it has no aliases yet)"}.`,
      );
    }
    throw new ApiError(
      404,
      `Model "${name}" has no version ${ref}${model.latestVersion ? ` (its latest is v${model.latestVersion})` : ""}.`,
    );
  };

  return {
    async getRun({ runId }) {
      const { metadata } = context();
      const run = requireRun(runId);
      const trials =
        run.kind === "pipeline"
          ? metadata.searchRuns({
              parentRunId: runId,
              includeChildren: true,
              limit: 1000,
              orderBy: { field: "startedAt" },
            }).runs
          : [];
      return {
        run,
        nodes: metadata.nodeRuns(runId),
        metrics: metadata.metrics(runId),
        logs: metadata.logs(runId),
        artifacts: metadata.artifacts(runId),
        datasets: metadata.datasets(runId),
        resolvedParams: metadata.resolvedParams(runId),
        trials,
        pipelineText: metadata.pipelineText(runId),
      };
    },
    async searchRuns({ user, host, mine, ...query }) {
      if ((query.orderBy?.field === "metric" || query.orderBy?.field === "param") && !query.orderBy.key)
        throw new ApiError(
          400,
          `Sorting by a ${query.orderBy.field} needs its key, e.g. "evaluate.accuracy"`,
        );
      return context().metadata.searchRuns({ ...query, ...ownerFilter({ user, host, mine }) });
    },
    async whoAmI() {
      return whoAmI();
    },
    async compareRuns({ runIds }) {
      const { metadata } = context();
      const ids = [...new Set(runIds)];
      const missing = ids.filter((id) => !metadata.getRun(id));
      if (missing.length)
        throw new ApiError(
          404,
          `No run ${missing.join(", ")} in this project. \`dagwood runs list\` shows its runs.`,
        );
      const comparison = metadata.compareRuns(ids);
      const newest = [...comparison.runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
      let pipeline: Record<string, unknown> | null = null;
      const text = newest ? metadata.pipelineText(newest.id) : null;
      if (text) {
        try {
          const doc = JSON.parse(text);
          if (doc && typeof doc === "object" && !Array.isArray(doc)) pipeline = doc;
        } catch {
          // an unreadable recorded pipeline: the comparison stands without its graph
        }
      }
      return { ...comparison, pipeline };
    },
    async setRunTags({ runId, set, remove }) {
      requireRun(runId);
      context().metadata.setTags(runId, set, remove);
      return requireRun(runId);
    },
    async setRunNote({ runId, note }) {
      requireRun(runId);
      context().metadata.setNote(runId, note?.trim() ? note : null);
      return requireRun(runId);
    },
    async listModels({ search }) {
      return context().metadata.registry.listModels({ search });
    },
    async getModel({ name }) {
      const { registry } = context().metadata;
      const model = requireModel(name);
      const versions = registry.listVersions(name).sort((a, b) => b.version - a.version);
      return { model, versions, audit: registry.audit({ model: name, limit: 1000 }) };
    },
    async getModelVersion({ name, ref }) {
      return requireVersion(name, ref);
    },
    async getReferenceProfile({ name, ref }) {
      const v = requireVersion(name, ref);
      try {
        // Registered on another machine of a shared store: fetch its files from the artifact location.
        await ensureProjectVersionFiles(context().dir, v);
      } catch (e) {
        if (e instanceof ArtifactError) throw new ApiError(502, e.message);
        throw e;
      }
      const file = referenceProfilePath(context().dir, v);
      if (!file)
        throw new ApiError(
          404,
          `${name} v${v.version} has no reference profile: it was registered before Dagwood kept one with each version (or trained by a node that kept none; its run log says why). Run the pipeline that registered it again with --no-cache to register a version with one, or give the reference data as a file.`,
        );
      const text = readFileSync(file, "utf8");
      let profile: StoredReferenceProfile;
      try {
        profile = parseReferenceProfile(text, relative(context().dir, file));
      } catch (e) {
        throw new ApiError(409, (e as Error).message);
      }
      return {
        name,
        version: v.version,
        file: relative(context().dir, file).split(sep).join("/"),
        bytes: Buffer.byteLength(text),
        profile,
      };
    },
    async updateModel({ name, description, owner, tags, purpose, reviewBy, deprecated }) {
      requireModel(name);
      return context().metadata.registry.upsertModel(
        name,
        { description, owner, tags, purpose, reviewBy, deprecated },
        currentUser(),
      );
    },
    async setAlias({ name, alias, version, reason }) {
      const v = requireVersion(name, version);
      if (v.status === "archived")
        throw new ApiError(
          409,
          `${name} v${version} is archived; an alias can point only at a ready version.`,
        );
      // `production` is checked by the registry itself (app/store/promotion.ts), whoever moves it.
      return context().metadata.registry.setAlias(
        name,
        alias,
        version,
        currentUser(),
        reason === undefined ? {} : { reason },
      );
    },
    async productionCheck({ name, version }) {
      requireVersion(name, version);
      return context().metadata.registry.productionCheck(name, version);
    },
    async aliasHistory({ name, alias }) {
      requireModel(name);
      const entries = context().metadata.registry.audit({
        model: name,
        limit: 100_000,
        actions: ALIAS_ACTIONS,
      });
      return aliasChanges(entries, alias);
    },
    async removeAlias({ name, alias, reason }) {
      const model = requireModel(name);
      if (!Object.hasOwn(model.aliases, alias))
        throw new ApiError(404, `Model "${name}" has no alias "${alias}".`);
      // Removing `production` needs a reason: the registry refuses it without one (409).
      return context().metadata.registry.removeAlias(
        name,
        alias,
        currentUser(),
        reason === undefined ? {} : { reason },
      );
    },
    async archiveVersion({ name, version, reason }) {
      const v = requireVersion(name, version);
      if (v.status === "archived") throw new ApiError(409, `${name} v${version} is already archived.`);
      // Archiving the version that holds `production` needs a reason (the registry refuses it, 409).
      return context().metadata.registry.archiveVersion(
        name,
        version,
        currentUser(),
        reason === undefined ? {} : { reason },
      );
    },
    async auditLog({ model, limit }) {
      if (model !== undefined) requireModel(model);
      return context().metadata.registry.audit({ model, limit });
    },
    async lineageGraph({ model }) {
      return lineageGraph(context().metadata, { model });
    },
    async exportRun({ runId, dir, ...unmask }) {
      return exported(await exportRun(context(), runId, dir, unmaskOptions(unmask)));
    },
    async exportModelVersion({ name, ref, dir, ...unmask }) {
      requireVersion(name, ref);
      return exported(await exportModelVersion(context(), name, ref, dir, unmaskOptions(unmask)));
    },
  };
}
