/**
 * Tells values apart by their `kind`, without zod, so the renderer can use
 * these at no bundle cost. They trust the producer for the rest of the shape:
 * nodes/values.test.ts parses what the blocks write against the schemas.
 */
import type { EvaluationReport } from "./evaluation";
import type { ExplanationReport } from "./explanation";
import type { ModelSummary } from "./model";
import type { ProfileReport } from "./profile";

const kindOf = (data: unknown): unknown =>
  data && typeof data === "object" ? (data as { kind?: unknown }).kind : undefined;

export const isEvaluationReport = (data: unknown): data is EvaluationReport => kindOf(data) === "evaluation";
export const isExplanationReport = (data: unknown): data is ExplanationReport =>
  kindOf(data) === "explanation";
export const isProfileReport = (data: unknown): data is ProfileReport => kindOf(data) === "profile";
/** `dagwood.model/1` (MODEL_FORMAT in ./model, not imported here to keep zod out of the renderer). */
export const isModelSummary = (data: unknown): data is ModelSummary => kindOf(data) === "dagwood.model/1";
