/**
 * What a deploy to a Dagwood target tells the server about the version's
 * inference log (app/serving/privacy.ts, the load parameter
 * `dagwood_privacy`): the model's log policy from dagwood.json, the
 * version's tagged inputs (its lineage's personalData), and the project's
 * hashing key — only when an input is tagged and the policy hashes it, so a
 * model without personal inputs never carries the key anywhere.
 */
import { describeLogPolicy, projectLogPolicy, taggedInputsOf } from "../privacy/log-policy";
import { projectPrivacyKey } from "../privacy/secret";
import type { LogPolicy } from "../privacy/types";
import { readProjectSettings } from "../project/project";
import type { ModelVersion } from "../store/types";

export interface DeployLogPrivacy {
  policy: LogPolicy;
  tagged: string[];
  /** "personal inputs: email_domain hashed · kept 30 days" */
  text: string;
}

/** The version's log privacy in this project (no key). */
export function versionLogPrivacy(
  projectDir: string,
  version: Pick<ModelVersion, "name" | "lineage">,
): DeployLogPrivacy {
  const policy = projectLogPolicy(readProjectSettings(projectDir), version.name);
  const tagged = taggedInputsOf(version.lineage);
  return { policy, tagged, text: describeLogPolicy(policy, tagged) };
}

/** The `dagwood_privacy` load parameter for a version (a JSON string; holds the key when hashing needs it). */
export function privacyParameter(
  projectDir: string,
  version: Pick<ModelVersion, "name" | "lineage">,
): string {
  const { policy, tagged } = versionLogPrivacy(projectDir, version);
  const key =
    policy.tagged === "hash" && tagged.length > 0 ? projectPrivacyKey(projectDir).toString("hex") : undefined;
  return JSON.stringify({ policy, tagged, ...(key ? { key } : {}) });
}
