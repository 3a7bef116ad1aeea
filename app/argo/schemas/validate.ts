/**
 * For the export's tests: Argo's published JSON Schema (schemas/README.md)
 * through ajv's draft 2020-12 validator, and a strict copy of it in which
 * every object that lists its properties refuses others, so a misspelt
 * field (`retrystrategy`) fails as Argo's controller would ignore it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

export const SCHEMA_FILE = join(import.meta.dirname, "argo-workflows.schema.json");
export const EXAMPLES_DIR = join(import.meta.dirname, "examples");

export type ArgoKind = "Workflow" | "CronWorkflow";

type SchemaNode = Record<string, unknown>;

/** Adds `additionalProperties: false` to every object schema that names its properties and says nothing of others. */
function closeObjects(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) closeObjects(n);
    return;
  }
  if (!node || typeof node !== "object") return;
  const o = node as SchemaNode;
  if (o.properties && typeof o.properties === "object" && !("additionalProperties" in o))
    o.additionalProperties = false;
  for (const v of Object.values(o)) closeObjects(v);
}

/** A validator of one Argo resource kind; `strict`: unknown properties are refused. */
export function argoValidator(kind: ArgoKind, { strict = false } = {}): ValidateFunction {
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as SchemaNode;
  if (strict) closeObjects(schema.definitions);
  // The schema's vendor keywords (x-kubernetes-*) and formats (int32, int64, byte) are Kubernetes' annotations, not checks.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(schema);
  return ajv.compile({ $ref: `${schema.$id as string}#/definitions/io.argoproj.workflow.v1alpha1.${kind}` });
}

/** The validator's errors as "path: message" lines (none: valid). */
export function findings(validate: ValidateFunction, doc: unknown): string[] {
  return validate(doc)
    ? []
    : (validate.errors ?? []).map(
        (e) => `${e.instancePath || "/"}: ${e.message} ${JSON.stringify(e.params)}`,
      );
}
