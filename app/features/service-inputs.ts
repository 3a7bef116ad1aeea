/**
 * Which of a model's inputs a feature service can fill when the model is
 * called by entity (V2 `parameters.entities`, app/features/server.ts
 * entityInputs): an input named like a join key of the service's views'
 * entities takes the request's key values; one named `view__feature`, or
 * `feature` when only one of the service's views has a feature of that name,
 * takes the looked-up feature. The register block checks this before a
 * version is kept with the service, so a served model never asks for an
 * input its service cannot give.
 */
import { FeatureRefError, loadFeatureRepo, resolveFeatureRefs, viewJoinKeys } from "./repo";
import type { FeatureRepo } from "./types";

/** The input names a service fills, and the plain feature names two of its views share. */
export function serviceInputNames(
  repo: FeatureRepo,
  service: string,
): { names: Set<string>; joinKeys: string[]; features: string[]; ambiguous: Set<string> } {
  const refs = resolveFeatureRefs(repo, { service });
  const joinKeys: string[] = [];
  for (const view of new Set(refs.map((r) => r.view)))
    for (const key of viewJoinKeys(repo, repo.views.get(view)!))
      if (!joinKeys.includes(key)) joinKeys.push(key);
  const plainCount = new Map<string, number>();
  for (const r of refs) plainCount.set(r.feature, (plainCount.get(r.feature) ?? 0) + 1);
  const names = new Set<string>(joinKeys);
  const ambiguous = new Set<string>();
  /** Each feature by the shortest name that fills an input. */
  const features: string[] = [];
  for (const r of refs) {
    names.add(`${r.view}__${r.feature}`);
    if (plainCount.get(r.feature) === 1) {
      names.add(r.feature);
      features.push(r.feature);
    } else {
      ambiguous.add(r.feature);
      features.push(`${r.view}__${r.feature}`);
    }
  }
  return { names, joinKeys, features, ambiguous };
}

/** A model cannot be kept with the feature service: the message says what is wrong and what to do. */
export class ServiceInputsError extends Error {
  override name = "ServiceInputsError";
}

/**
 * Checks that the project's feature service `service` exists and fills every
 * one of `inputs` (a model signature's input names); throws a
 * ServiceInputsError naming the inputs it does not provide.
 */
export function checkServiceInputs(projectDir: string, service: string, inputs: readonly string[]): void {
  let repo: FeatureRepo;
  try {
    repo = loadFeatureRepo(projectDir);
  } catch (e) {
    throw new ServiceInputsError(
      `Cannot check feature service "${service}" until the project's feature definitions are fixed (\`dagwood features apply\` lists their problems). ${(e as Error).message}`,
    );
  }
  if (!repo.services.has(service)) {
    const known = [...repo.services.keys()];
    throw new ServiceInputsError(
      `No feature service "${service}" in the project's features/*.json (${known.length ? `its services: ${known.join(", ")}` : "it defines none"}). Name one of them, or add "${service}" under featureServices.`,
    );
  }
  let provided: ReturnType<typeof serviceInputNames>;
  try {
    provided = serviceInputNames(repo, service);
  } catch (e) {
    if (e instanceof FeatureRefError)
      throw new ServiceInputsError(`Feature service "${service}" is not valid: ${e.message}.`);
    throw e;
  }
  const missing = inputs.filter((name) => !provided.names.has(name));
  if (!missing.length) return;
  const list = (names: readonly string[]) => names.map((n) => `"${n}"`).join(", ");
  const shared = missing.filter((n) => provided.ambiguous.has(n));
  const absent = missing.filter((n) => !provided.ambiguous.has(n));
  const parts: string[] = [];
  if (absent.length)
    parts.push(
      `feature service "${service}" does not provide the model input${absent.length > 1 ? "s" : ""} ${list(absent)}`,
    );
  if (shared.length)
    parts.push(
      `${list(shared)} ${shared.length > 1 ? "are features" : "is a feature"} of more than one of its views: train on full feature names (view__feature, the training set's fullFeatureNames)`,
    );
  throw new ServiceInputsError(
    `${capitalise(parts.join("; "))}. It gives the join keys ${list(provided.joinKeys)} and the features ${list(provided.features)}. Add the missing features to the service (features/*.json), or train the model on the service's features only (features.training-set with this service, then drop the other columns).`,
  );
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * What a registration with the service depends on in the definitions: the
 * service's features and its views' join keys (or the problem with them), so
 * a changed service is checked again.
 */
export function serviceFingerprint(projectDir: string, service: string): string {
  try {
    const repo = loadFeatureRepo(projectDir);
    return JSON.stringify({ service, names: [...serviceInputNames(repo, service).names].sort() });
  } catch (e) {
    return `${service}: ${(e as Error).message}`;
  }
}
