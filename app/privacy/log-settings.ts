/**
 * Setting a model's inference-log policy in dagwood.json, in place
 * (jsonc-parser edits only the policy's own value: comments and the rest of
 * the file stay as they are), checked with the project's settings schema
 * before anything is written, written atomically, and recorded in the audit
 * log as `privacy.policy` with the old and new policy.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { applyEdits, modify, type ParseError, parse as parseJsonc } from "jsonc-parser";
import { formattingOf, queueProjectFileEdit } from "../project/datasets";
import { ensureStoreDir, PROJECT_FILE, ProjectSettingsSchema } from "../project/project";
import { writeFileAtomic } from "../store/atomic-write";
import { openProjectStore } from "../store/open";
import { type LogPolicy, LogPolicySchema, PROJECT_AUDIT_MODEL } from "./types";

/** A change to a policy: `retentionDays` null removes the retention. */
export interface LogPolicyPatch {
  tagged?: LogPolicy["tagged"];
  retentionDays?: number | null;
}

export interface LogPolicyChange {
  /** The model (undefined: the project's default, `privacy.inferenceLog`). */
  model?: string;
  /** The model's own policy before (undefined: it had none and followed the default). */
  before?: LogPolicy;
  after: LogPolicy;
  changed: boolean;
  /** The privacy.policy audit entry (when something changed). */
  auditId?: number;
}

export class LogPolicyError extends Error {
  override name = "LogPolicyError";
}

/**
 * Sets the policy of `model` (its override in `privacy.models`, made from the
 * default when it has none) or, without a model, the default. Changes in one
 * project are applied one after another.
 */
export function setLogPolicy(
  dir: string,
  model: string | undefined,
  patch: LogPolicyPatch,
  actor: string | null,
): Promise<LogPolicyChange> {
  const key = resolve(dir);
  return queueProjectFileEdit(key, () => apply(key, model, patch, actor));
}

async function apply(
  dir: string,
  model: string | undefined,
  patch: LogPolicyPatch,
  actor: string | null,
): Promise<LogPolicyChange> {
  if (model !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(model))
    throw new LogPolicyError(
      `"${model}" is not a model name: letters, digits, _ . - (starting with a letter or digit, at most 128)`,
    );
  const file = join(dir, PROJECT_FILE);
  const original = existsSync(file) ? readFileSync(file, "utf8") : "{}\n";
  const errors: ParseError[] = [];
  const json = parseJsonc(original, errors, { allowTrailingComma: false });
  if (errors.length || json === null || typeof json !== "object" || Array.isArray(json))
    throw new LogPolicyError(
      `${file} is not a valid JSON object${errors[0] ? ` (at offset ${errors[0].offset})` : ""}; it was left as it is. Fix it, then try again.`,
    );
  const current = ProjectSettingsSchema.safeParse(json);
  if (!current.success)
    throw new LogPolicyError(
      `${file} has invalid settings (${current.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}); fix them first.`,
    );
  const privacy = current.data.privacy;
  const before = model === undefined ? privacy.inferenceLog : privacy.models[model];
  const base: LogPolicy = { ...(before ?? privacy.inferenceLog) };
  const after: LogPolicy = { ...base, ...(patch.tagged !== undefined ? { tagged: patch.tagged } : {}) };
  if (patch.retentionDays === null) delete after.retentionDays;
  else if (patch.retentionDays !== undefined) after.retentionDays = patch.retentionDays;
  const checked = LogPolicySchema.safeParse(after);
  if (!checked.success)
    throw new LogPolicyError(
      `The policy was not changed: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  const same = before !== undefined && JSON.stringify(before) === JSON.stringify(checked.data);
  if (same) return { ...(model ? { model } : {}), before, after: checked.data, changed: false };

  const path = model === undefined ? ["privacy", "inferenceLog"] : ["privacy", "models", model];
  const text = applyEdits(
    original,
    modify(original, path, checked.data, { formattingOptions: formattingOf(original).options }),
  );
  const result = ProjectSettingsSchema.safeParse(parseJsonc(text));
  if (!result.success)
    throw new LogPolicyError(
      `The policy was not changed: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  await writeFileAtomic(file, text);
  ensureStoreDir(dir);
  const store = openProjectStore(dir, result.data);
  try {
    const entry = store.registry.appendAudit({
      actor,
      action: "privacy.policy",
      model: model ?? PROJECT_AUDIT_MODEL,
      version: null,
      details: {
        scope: model === undefined ? "default" : "model",
        before: before ?? null,
        after: checked.data,
      },
    });
    return {
      ...(model ? { model } : {}),
      ...(before ? { before } : {}),
      after: checked.data,
      changed: true,
      auditId: entry.id,
    };
  } finally {
    store.close();
  }
}
