/**
 * Where a deploy target's inference log is read: a target of dagwood.json
 * over HTTP (with its token) or, for the built-in `local` target that
 * dagwood.json does not define, the project's serving repository folder.
 * The CLI (`monitor drift --log`) and the Api (`monitoringReport`) both ask
 * here and word the refusals their own way.
 */
import { servingRepository } from "../deploy/embedded";
import { BUILTIN_TARGET, resolveTarget, type TokenLookup } from "../deploy/targets";
import type { ProjectSettings } from "../project/project";
import type { InferenceLogSource } from "./inference-log";

/** The log's source; null for a Triton target, which keeps no log Dagwood can read. resolveTarget's DeployError propagates. */
export function targetLogSource(
  dir: string,
  settings: ProjectSettings,
  target: string,
  model: string,
  /** Where the target's token is looked up (default: the environment and the OS keychain). */
  tokens?: TokenLookup,
): InferenceLogSource | null {
  if (target === BUILTIN_TARGET && !Object.hasOwn(settings.targets, BUILTIN_TARGET))
    return { repository: servingRepository(dir), model };
  const t = resolveTarget(settings, target, tokens);
  if (t.kind === "triton") return null;
  return { url: t.url, model, ...(t.token ? { token: t.token } : {}) };
}
