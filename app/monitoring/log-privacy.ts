/**
 * What drift needs to know of a log's privacy (DriftOptions.privacy): the
 * inputs the model's policy hashed or dropped (inference-log.ts
 * InferenceLogTable.privacy) and, when an input is hashed, the project's
 * key, so that the reference's categories are hashed alike. The key is
 * never made here: without one (no DAGWOOD_PRIVACY_KEY, no
 * .dagwood/privacy.key), a hashed column is reported as not tested.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PRIVACY_KEY_FILE, PRIVACY_KEY_VARIABLE, projectPrivacyKey } from "../privacy/secret";
import { STORE_DIR } from "../project/project";
import type { InferenceLogTable } from "./inference-log";
import type { DriftOptions } from "./types";

export function logDriftPrivacy(
  projectDir: string,
  log: Pick<InferenceLogTable, "privacy">,
  env: NodeJS.ProcessEnv = process.env,
): DriftOptions["privacy"] | undefined {
  const { hashed, dropped } = log.privacy;
  if (hashed.length === 0 && dropped.length === 0) return undefined;
  const hasKey = !!env[PRIVACY_KEY_VARIABLE] || existsSync(join(projectDir, STORE_DIR, PRIVACY_KEY_FILE));
  const key = hashed.length > 0 && hasKey ? projectPrivacyKey(projectDir, env) : undefined;
  return { hashed, dropped, ...(key ? { key } : {}) };
}
