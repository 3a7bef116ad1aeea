/** A registered model's governance fields: reading them, the list badge, and updateModel's arguments from the edit form. */
import type { Deprecation } from "../../../app/values/governance";

/** "deprecated → use churn-v2" (or just "deprecated"), for the models list and the model's page. */
export function deprecatedBadge(d: Deprecation | null | undefined): string | null {
  if (!d) return null;
  return d.replacement ? `deprecated → use ${d.replacement}` : "deprecated";
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** updateModel's arguments for the form's values: a field left empty is cleared (null). */
export function governanceUpdate(
  name: string,
  form: {
    purpose: string;
    reviewBy: string;
    deprecated: boolean;
    reason: string;
    replacement: string;
    since: string;
  },
): { name: string; purpose: string | null; reviewBy: string | null; deprecated: Deprecation | null } {
  const deprecated: Deprecation | null = form.deprecated
    ? {
        reason: form.reason.trim(),
        ...(form.replacement.trim() ? { replacement: form.replacement.trim() } : {}),
        ...(form.since ? { since: form.since } : {}),
      }
    : null;
  return {
    name,
    purpose: form.purpose.trim() || null,
    reviewBy: form.reviewBy || null,
    deprecated,
  };
}

/** What is wrong with the form, said as what to do; null when it can be saved. */
export function governanceProblem(form: {
  reviewBy: string;
  deprecated: boolean;
  reason: string;
  since: string;
}): string | null {
  if (form.reviewBy && !DATE.test(form.reviewBy)) return "Give the review date as YYYY-MM-DD.";
  if (form.deprecated && !form.reason.trim())
    return "Say why the model is deprecated (the reason shows wherever it is used).";
  if (form.since && !DATE.test(form.since)) return "Give the deprecation date as YYYY-MM-DD.";
  return null;
}
