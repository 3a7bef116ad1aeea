/** Suite names to file paths, and the early checks the inspector makes on an inline suite as it is typed. */
import type { ExpectationTypeInfo, SuiteProblem } from "./suiteApi";

/** Where a suite named `name` is saved: expectations/<name>.json, the name made safe for a file. */
export function suitePath(name: string): string {
  const file = name
    .trim()
    .replace(/[^A-Za-z0-9_.-]+/g, "_")
    .replace(/^[._]+|[._]+$/g, "");
  return `expectations/${file || "suite"}.json`;
}

/**
 * What the inspector says about an inline suite while it is typed: not an
 * object, no name, no expectations list, an expectation without a type, an
 * unknown type or a missing required kwarg (when the known types are given).
 * The run checks the suite fully (checkSuite); these are the early hints.
 */
export function inlineSuiteProblems(value: unknown, types?: readonly ExpectationTypeInfo[]): SuiteProblem[] {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return [
      {
        path: "inline",
        message: "An inline suite is an object with expectation_suite_name and expectations.",
      },
    ];
  const s = value as Record<string, unknown>;
  const problems: SuiteProblem[] = [];
  if (typeof s.expectation_suite_name !== "string" || !s.expectation_suite_name)
    problems.push({
      path: "expectation_suite_name",
      message: "Give the suite a name (expectation_suite_name).",
    });
  if (!Array.isArray(s.expectations)) {
    problems.push({
      path: "expectations",
      message: "expectations is a list of { expectation_type, kwargs }.",
    });
    return problems;
  }
  const known = types ? new Map(types.map((t) => [t.type, t])) : null;
  s.expectations.forEach((e, i) => {
    const at = `expectations[${i}]`;
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      problems.push({ path: at, message: `${at} is not an object { expectation_type, kwargs }.` });
      return;
    }
    const { expectation_type: type, kwargs } = e as Record<string, unknown>;
    if (typeof type !== "string" || !type) {
      problems.push({ path: at, message: `${at} has no expectation_type.` });
      return;
    }
    const info = known?.get(type);
    if (known && !info) {
      problems.push({
        path: `${at}.expectation_type`,
        message: `${at}: unknown expectation type ${type}. See the list with \`dagwood expect list\`.`,
      });
      return;
    }
    const given = kwargs && typeof kwargs === "object" ? (kwargs as Record<string, unknown>) : {};
    for (const k of info?.kwargs ?? [])
      if (k.required && given[k.name] === undefined)
        problems.push({
          path: `${at}.kwargs.${k.name}`,
          message: `${at} (${type}) needs kwargs.${k.name}: ${k.description}`,
        });
  });
  return problems;
}
