/**
 * The runs filter box: `evaluate.accuracy > 0.9 and train.maxDepth = 6,
 * tag.team = vision` → search conditions. A key names a metric or a param of
 * the runs (`nodeId.name`); `param:`, `metric:` or `tag.`/`tag:` say which
 * when a key is not known yet.
 */
import type { RunCondition } from "../../../app/api/api";

export type Op = RunCondition["op"];

export interface KnownKeys {
  params: ReadonlySet<string>;
  metrics: ReadonlySet<string>;
}

export type ParsedFilter = { ok: true; conditions: RunCondition[] } | { ok: false; error: string };

// Longest operators first, so `>=` is not read as `>` followed by `=`.
const OPS: { text: string; op: Op }[] = [
  { text: ">=", op: ">=" },
  { text: "<=", op: "<=" },
  { text: "!=", op: "!=" },
  { text: "==", op: "=" },
  { text: "=", op: "=" },
  { text: ">", op: ">" },
  { text: "<", op: "<" },
  { text: "~", op: "contains" },
];

const EXAMPLE = "e.g. evaluate.accuracy > 0.9";

/** A value as typed: a number, true/false, or text (quotes optional). */
export function parseValue(text: string): string | number | boolean {
  const t = text.trim();
  const quoted = /^"(.*)"$|^'(.*)'$/.exec(t);
  if (quoted) return quoted[1] ?? quoted[2] ?? "";
  if (t === "true") return true;
  if (t === "false") return false;
  if (t !== "" && Number.isFinite(Number(t))) return Number(t);
  return t;
}

function splitClauses(text: string): string[] {
  return text
    .split(/\s+and\s+|\s*,\s*|\s*&&\s*/i)
    .map((c) => c.trim())
    .filter(Boolean);
}

function parseClause(clause: string, known: KnownKeys): RunCondition | string {
  const contains = /^(.+?)\s+contains\s+(.+)$/i.exec(clause);
  let key: string;
  let op: Op;
  let valueText: string;
  if (contains) {
    key = contains[1]!.trim();
    op = "contains";
    valueText = contains[2]!;
  } else {
    const found = OPS.map((o) => ({ ...o, at: clause.indexOf(o.text) }))
      .filter((o) => o.at > 0)
      .sort((a, b) => a.at - b.at || b.text.length - a.text.length)[0];
    if (!found) return `"${clause}" has no comparison: use = != < <= > >= ~ or contains (${EXAMPLE})`;
    key = clause.slice(0, found.at).trim();
    op = found.op;
    valueText = clause.slice(found.at + found.text.length);
  }
  if (!valueText.trim()) return `"${clause}" has no value after the comparison (${EXAMPLE})`;
  const value = parseValue(valueText);
  const numeric = op === "<" || op === "<=" || op === ">" || op === ">=";
  if (numeric && typeof value !== "number")
    return `"${clause}": ${op} compares numbers, and "${valueText.trim()}" is not one`;

  const prefixed = /^(param|metric|tag)s?[:.](.+)$/i.exec(key);
  if (prefixed) {
    const field = prefixed[1]!.toLowerCase() as RunCondition["field"];
    const name = prefixed[2]!.trim();
    // `metric.x` could be a node called "metric": only an explicit prefix wins over a known key.
    if (!known.params.has(key) && !known.metrics.has(key)) return { field, key: name, op, value };
  }
  if (known.metrics.has(key)) return { field: "metric", key, op, value };
  if (known.params.has(key)) return { field: "param", key, op, value };
  return `"${key}" is neither a param nor a metric of these runs: pick one from the column chooser, or write param:${key} or metric:${key}`;
}

/** Parses the whole box; an empty box is no condition. The first bad clause is the error. */
export function parseFilter(text: string, known: KnownKeys): ParsedFilter {
  const conditions: RunCondition[] = [];
  for (const clause of splitClauses(text)) {
    const parsed = parseClause(clause, known);
    if (typeof parsed === "string") return { ok: false, error: parsed };
    conditions.push(parsed);
  }
  return { ok: true, conditions };
}

/** The text of a condition, as it would be typed (a tag chip click adds one). */
export function conditionText(c: RunCondition): string {
  const key = c.field === "tag" ? `tag.${c.key}` : c.key;
  const value = typeof c.value === "string" && /[\s,]|^$/.test(c.value) ? `"${c.value}"` : String(c.value);
  return `${key} ${c.op === "contains" ? "contains" : c.op} ${value}`;
}
