/**
 * The `production` alias in words for the Models view: a gate's figures, the requirements a
 * version meets or misses, and a version's production history (from the model's audit).
 */
import type { AuditEntry } from "../../../app/api/api";
import {
  type AliasChange,
  aliasChanges,
  type GateFigures,
  gateFiguresText,
  type ProductionRecord,
  STAGING_TARGET,
} from "../../../app/values/registry";
import { formatMetric } from "../experiments/format";

/** "accuracy 0.93 >= 0.9 against penguins@champion v1 0.9 — passed (node gate)" (app/values/registry.ts). */
export const gateText = (g: GateFigures): string => gateFiguresText(g, formatMetric);

/** The two requirements, each met or not, as the alias dialog lists them. */
export function requirements(r: ProductionRecord): { label: string; met: boolean; detail: string }[] {
  // The missing texts (app/store/promotion.ts) start with the requirement they are about.
  const gateMissing = r.missing.filter((m) => m.startsWith("a passed gate: "));
  const stagingMissing = r.missing.filter((m) => m.startsWith("a successful deploy "));
  return [
    {
      label: "Passed its gate",
      met: r.gates.length > 0 && r.gates.every((g) => g.status === "passed"),
      detail: gateMissing.length
        ? gateMissing.map((m) => m.replace(/^a passed gate: /, "")).join("; ")
        : r.gates.map(gateText).join("; "),
    },
    {
      label: `Deployed to ${STAGING_TARGET}`,
      met: r.staging !== null,
      detail: r.staging
        ? `by ${r.staging.actor ?? "someone"}`
        : stagingMissing.map((m) => m.replace(/^a successful deploy to the "[^"]*" target: /, "")).join("; "),
    },
  ];
}

/** The production changes that put this version in or took it out, newest first. */
export function versionProductionHistory(audit: readonly AuditEntry[], version: number): AliasChange[] {
  return aliasChanges(audit, "production").filter((c) => c.to === version || c.from === version);
}
