/** Reading, checking and writing suite files (Great Expectations suite JSON). */

import { type ParseError, parse, printParseErrorCode } from "jsonc-parser";
import { type ExpectationConfig, ExpectationSuite } from "../../values/expectations";
import { configProblems } from "./catalog";
import { SuiteError, type SuiteProblem } from "./errors";

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

const pathOf = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");

/** Names an expectation in messages: its index in the suite and its type. */
export function nameOf(index: number, config: { expectation_type?: unknown } | undefined): string {
  const t = typeof config?.expectation_type === "string" ? config.expectation_type : "?";
  return `expectations[${index}] ${t}`;
}

export function parseSuite(text: string, source: string): ExpectationSuite {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length > 0) {
    const e = errors[0]!;
    const { line, column } = lineColumn(text, e.offset);
    throw new SuiteError(
      `${source} is not valid JSON: ${printParseErrorCode(e.error)} at line ${line}, column ${column}. A suite is Great Expectations suite JSON: { "expectation_suite_name": ..., "expectations": [...] }.`,
      [{ path: "", message: `${printParseErrorCode(e.error)} at line ${line}, column ${column}` }],
    );
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new SuiteError(
      `${source} is not an expectation suite: expected a JSON object with "expectation_suite_name" and "expectations", found ${Array.isArray(value) ? "a list" : JSON.stringify(value)}.`,
      [{ path: "", message: "not a JSON object" }],
    );
  const parsed = ExpectationSuite.safeParse(value);
  if (!parsed.success) {
    const problems: SuiteProblem[] = parsed.error.issues.map((issue) => {
      const path = pathOf(issue.path);
      const m = /^expectations\[(\d+)\]/.exec(path);
      const exp = m
        ? ` (${nameOf(Number(m[1]), (value as { expectations: unknown[] }).expectations[Number(m[1])] as never)})`
        : "";
      return { path, message: `${path || "suite"}${exp}: ${issue.message}` };
    });
    throw new SuiteError(
      `${source} is not an expectation suite: ${problems.map((p) => p.message).join("; ")}. A suite has "expectation_suite_name" (text) and "expectations" (a list of { "expectation_type", "kwargs" }).`,
      problems,
    );
  }
  return inOrderOf(parsed.data, value) as ExpectationSuite;
}

/** The parsed value with its objects' keys in the order the file had them (so a suite writes back as it was read). */
function inOrderOf(parsed: unknown, raw: unknown): unknown {
  if (Array.isArray(parsed) && Array.isArray(raw)) return parsed.map((v, i) => inOrderOf(v, raw[i]));
  if (parsed && typeof parsed === "object" && raw && typeof raw === "object" && !Array.isArray(raw)) {
    const p = parsed as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(raw))
      if (k in p) out[k] = inOrderOf(p[k], (raw as Record<string, unknown>)[k]);
    for (const k of Object.keys(p)) if (!(k in out)) out[k] = p[k];
    return out;
  }
  return parsed;
}

export function checkSuite(suite: ExpectationSuite): SuiteProblem[] {
  const out: SuiteProblem[] = [];
  suite.expectations.forEach((config: ExpectationConfig, i: number) => {
    for (const p of configProblems(config)) {
      out.push({
        path: p.kwarg ? `expectations[${i}].kwargs.${p.kwarg}` : `expectations[${i}].expectation_type`,
        message: `${nameOf(i, config)}: ${p.message}`,
      });
    }
  });
  return out;
}

const SUITE_KEYS = ["expectation_suite_name", "ge_cloud_id", "expectations", "data_asset_type", "meta"];
const CONFIG_KEYS = ["expectation_type", "kwargs", "meta"];

function ordered(obj: Record<string, unknown>, first: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of first) if (k in obj && obj[k] !== undefined) out[k] = obj[k];
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

export function formatSuite(suite: ExpectationSuite): string {
  const s = ordered(suite as Record<string, unknown>, SUITE_KEYS);
  s.expectations = suite.expectations.map((e) => ordered(e as Record<string, unknown>, CONFIG_KEYS));
  return `${JSON.stringify(s, null, 2)}\n`;
}
