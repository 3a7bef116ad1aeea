/**
 * Port types: the one table that the engine's validation and the editor's
 * isValidConnection both consult, and the value each type carries apart from
 * `table` (a workspace table, which the engine describes: app/engine/ports.ts).
 */
import type { DeploymentRecord } from "./deployment";
import type { DriftReport } from "./drift";
import type { EvaluationReport } from "./evaluation";
import type { ValidationReport } from "./expectations";
import type { ExplanationReport } from "./explanation";
import type { ModelSummary } from "./model";
import type { ProfileReport } from "./profile";
import type { ModelVersionRef } from "./registry";

export const PORT_TYPES = ["table", "model", "report", "modelVersion", "deployment"] as const;
export type PortType = (typeof PORT_TYPES)[number];

/** Whether an output of type `from` may feed an input of type `to`. */
export function portsCompatible(from: PortType, to: PortType): boolean {
  return from === to;
}

/** The JSON reports the UI charts, told apart by `kind`. */
export type Report = EvaluationReport | ExplanationReport | ProfileReport | ValidationReport | DriftReport;

/** What a port of each type other than `table` carries as its `data`. */
export interface PortData {
  report: Report;
  /** Every model has the summary; its estimator's own fields are app/ml's (`asModel` checks them). */
  model: ModelSummary;
  modelVersion: ModelVersionRef;
  deployment: DeploymentRecord;
}
export type DataPortType = keyof PortData;
