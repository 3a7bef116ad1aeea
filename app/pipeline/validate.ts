import { type ParseError, parse as parseJson, printParseErrorCode } from "jsonc-parser";
import type { z } from "zod";
import type { AnyBlock, Catalog } from "../engine/block";
import { portsCompatible } from "../engine/ports";
import { paramIssueMessage, paramsJsonSchema } from "./param-ui";
import { findReferences, substitute } from "./params";
import {
  PIPELINE_FORMAT,
  PIPELINE_LIMITS,
  type Pipeline,
  type PipelineConflict,
  PipelineSchema,
  splitEndpoint,
} from "./schema";

export interface Problem {
  /** JSON path of the offending value, e.g. `$.nodes[2].params.testFraction`. */
  path: string;
  message: string;
}

export function jsonPath(segments: readonly PropertyKey[]): string {
  let out = "$";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(String(s))}]`;
  }
  return out;
}

function zodProblems(error: z.ZodError, prefix: PropertyKey[] = []): Problem[] {
  return error.issues.map((i) => ({ path: jsonPath([...prefix, ...i.path]), message: i.message }));
}

/** Line and column of a character offset, for JSON syntax errors. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const col = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${col}`;
}

export interface ParseResult {
  pipeline?: Pipeline;
  problems: Problem[];
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** The problem with a pipeline file of `bytes` bytes, if it is over the limit. */
export function fileSizeProblem(bytes: number): Problem | undefined {
  if (bytes <= PIPELINE_LIMITS.fileBytes) return undefined;
  return {
    path: "$",
    message: `The file is ${mib(bytes)}; a pipeline file may be at most ${mib(PIPELINE_LIMITS.fileBytes)}. A pipeline holds settings: keep data in data files.`,
  };
}

const tooDeep = `nested more than ${PIPELINE_LIMITS.depth} levels deep; a pipeline's arrays and objects nest at most that far`;

/**
 * Finds nesting deeper than the limit in JSON text before it is parsed: the
 * parser and every walk over the value recurse, and a few KB of "[[[[" would
 * overflow the stack.
 */
function textDepthProblem(text: string): Problem | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > PIPELINE_LIMITS.depth)
        return { path: "$", message: `At ${lineCol(text, i)}: ${tooDeep}` };
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

/**
 * Size problems in a parsed value, found without recursion: nesting deeper
 * than the limit, and strings or keys longer than the limit, each with its
 * JSON path (at most 20 of them).
 */
export function limitProblems(value: unknown, at: PropertyKey[] = []): Problem[] {
  const problems: Problem[] = [];
  const long = (path: PropertyKey[], length: number, what: string) =>
    problems.push({
      path: jsonPath(path),
      message: `${what} is ${length.toLocaleString("en")} characters long; at most ${PIPELINE_LIMITS.string.toLocaleString("en")} are allowed`,
    });
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value, path: at }];
  while (stack.length && problems.length < 20) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === "string") {
      if (v.length > PIPELINE_LIMITS.string) long(path, v.length, "This text");
      continue;
    }
    if (!v || typeof v !== "object") continue;
    if (path.length - at.length >= PIPELINE_LIMITS.depth) {
      problems.push({ path: jsonPath(path), message: `This value is ${tooDeep}` });
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (key.length > PIPELINE_LIMITS.string) {
        long([...path, key.slice(0, 40)], key.length, "This key");
        continue;
      }
      stack.push({ value: (v as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return problems;
}

/** Parses pipeline JSON text: syntax, format version and shape (no catalog needed). A leading UTF-8 BOM is skipped. */
export function parsePipelineText(input: string): ParseResult {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const size = fileSizeProblem(Buffer.byteLength(text, "utf8"));
  if (size) return { problems: [size] };
  const deep = textDepthProblem(text);
  if (deep) return { problems: [deep] };
  const errors: ParseError[] = [];
  const json: unknown = parseJson(text, errors, { allowTrailingComma: false, disallowComments: true });
  if (errors.length) {
    const first = errors[0]!;
    return {
      problems: [
        {
          path: "$",
          message: `Not valid JSON at ${lineCol(text, first.offset)}: ${printParseErrorCode(first.error)}`,
        },
      ],
    };
  }
  return parsePipelineObject(json);
}

/** Checks a parsed JSON value: format version and shape. */
export function parsePipelineObject(json: unknown): ParseResult {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    return { problems: [{ path: "$", message: "A pipeline file holds one JSON object" }] };
  }
  const limits = limitProblems(json);
  if (limits.length) return { problems: limits };
  const format = (json as { format?: unknown }).format;
  if (format !== PIPELINE_FORMAT) {
    const message =
      format === undefined
        ? `Not a Dagwood pipeline: there is no "format" field (expected "${PIPELINE_FORMAT}")`
        : typeof format === "string" && /^dagwood\.pipeline\/\d+$/.test(format)
          ? `Unknown pipeline format version "${format}": this Dagwood reads "${PIPELINE_FORMAT}". Upgrade Dagwood to open it.`
          : `Unknown format ${JSON.stringify(format)}: expected "${PIPELINE_FORMAT}"`;
    return { problems: [{ path: "$.format", message }] };
  }
  const parsed = PipelineSchema.safeParse(json);
  if (!parsed.success) return { problems: zodProblems(parsed.error) };
  return { pipeline: parsed.data, problems: [] };
}

/** Levenshtein distance, case-insensitive: "maxdepth" is next to "maxDepth". */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[y.length]!;
}

/** The known name closest to `name`, when it is close enough to be a likely typo. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

type ZodDef = { type: string; [k: string]: unknown };
const defOf = (s: unknown): ZodDef => (s as { _zod: { def: ZodDef } })._zod.def;

/** The schema under optional, default, nullable, readonly, catch and pipe wrappers. */
function unwrapSchema(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const def = defOf(s);
    if (
      ["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"].includes(def.type)
    ) {
      s = def.innerType;
    } else if (def.type === "pipe") {
      s = def.in;
    } else break;
  }
  return s;
}

/**
 * Keys in `value` that its object schema does not declare, at any depth the
 * schema describes (a block's params, and objects inside them such as
 * `search` or `champion`). zod drops such keys silently, so a misspelled
 * "maxdepth" would be ignored and the default used.
 */
function unknownKeys(
  schema: unknown,
  value: unknown,
  path: PropertyKey[],
  out: { path: PropertyKey[]; key: string; known: string[] }[],
): void {
  const def = defOf(unwrapSchema(schema));
  if (def.type === "object" && value && typeof value === "object" && !Array.isArray(value)) {
    const shape = def.shape as Record<string, unknown>;
    const catchall = def.catchall as unknown;
    // A loose object (catchall unknown) takes any key; strip and strict objects name theirs.
    const closed = catchall === undefined || defOf(catchall).type === "never";
    for (const [key, v] of Object.entries(value)) {
      if (Object.hasOwn(shape, key)) unknownKeys(shape[key], v, [...path, key], out);
      else if (closed) out.push({ path: [...path, key], key, known: Object.keys(shape) });
    }
  } else if (def.type === "array" && Array.isArray(value)) {
    for (const [i, v] of value.entries()) unknownKeys(def.element, v, [...path, i], out);
  } else if (def.type === "record" && value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) unknownKeys(def.valueType, v, [...path, key], out);
  } else if (
    def.type === "union" &&
    Array.isArray(def.options) &&
    value &&
    typeof value === "object" &&
    !Array.isArray(value)
  ) {
    // An object against the union's object options: none reported if one takes every key, else
    // the nearest option's unknown keys.
    let fewest: typeof out | undefined;
    const objects = (def.options as unknown[]).filter((o) => defOf(unwrapSchema(o)).type === "object");
    for (const option of objects) {
      const found: typeof out = [];
      unknownKeys(option, value, path, found);
      if (!fewest || found.length < fewest.length) fewest = found;
      if (found.length === 0) break;
    }
    out.push(...(fewest ?? []));
  }
}

/** Problems for params a block does not have, each naming the nearest param it does have. */
function unknownParamProblems(block: AnyBlock, params: unknown, at: PropertyKey[]): Problem[] {
  const found: { path: PropertyKey[]; key: string; known: string[] }[] = [];
  unknownKeys(block.params, params, at, found);
  return found.map(({ path, key, known }) => {
    const near = nearestName(key, known);
    const where = path.length > at.length + 1 ? ` in ${jsonPath(path.slice(at.length, -1)).slice(2)}` : "";
    const hint = near
      ? `did you mean "${near}"?`
      : known.length
        ? `known params${where}: ${known.join(", ")}`
        : "it takes none";
    return {
      path: jsonPath(path),
      message: `Unknown param "${key}"${where} for ${block.kind}: ${hint}`,
    };
  });
}

export interface ResolvedNode {
  id: string;
  block: AnyBlock;
  /** Params after `${}` substitution and the block schema's defaults. */
  params: unknown;
  /** input port → "nodeId.port" of the upstream output. */
  inputs: Record<string, { node: string; port: string }>;
}

export interface Plan {
  pipeline: Pipeline;
  /** Effective pipeline parameters (file values with overrides applied). */
  params: Record<string, unknown>;
  /** Nodes in a topological order. */
  order: ResolvedNode[];
}

/** Finds one cycle among `nodes` (each with its upstream ids) and names it, "a → b → a". */
function describeCycle(remaining: Set<string>, upstream: Map<string, Set<string>>): string {
  const start = [...remaining].sort()[0]!;
  const path: string[] = [];
  const seen = new Map<string, number>();
  let cur: string | undefined = start;
  while (cur !== undefined && !seen.has(cur)) {
    seen.set(cur, path.length);
    path.push(cur);
    cur = [...(upstream.get(cur) ?? [])].filter((u) => remaining.has(u)).sort()[0];
  }
  if (cur === undefined) return [...remaining].sort().join(", ");
  // path runs against the edges (node → its upstream); reverse it to read along them.
  const cycle = path.slice(seen.get(cur)!).reverse();
  // Start at the smallest id so the same cycle always reads the same way.
  const first = cycle.indexOf([...cycle].sort()[0]!);
  const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
  return [...rotated, rotated[0]].join(" → ");
}

/**
 * Checks a parsed pipeline against the catalog and reports every problem at
 * once: duplicate ids, unknown blocks, bad params, unknown `${params}`,
 * unknown nodes or ports in edges, mismatched port types, inputs connected
 * twice or left unconnected, and cycles. Returns the plan when there are none.
 */
export function planPipeline(
  pipeline: Pipeline,
  catalog: Catalog,
  overrides: Record<string, unknown> = {},
): { plan?: Plan; problems: Problem[] } {
  const problems: Problem[] = [];
  // No prototype: a parameter named "__proto__" or "constructor" is a plain entry.
  const params: Record<string, unknown> = Object.assign(Object.create(null), pipeline.params);
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(pipeline.params, name)) {
      problems.push({
        path: "$.params",
        message: `--param ${name}: the pipeline has no parameter "${name}" (it has: ${Object.keys(pipeline.params).join(", ") || "none"})`,
      });
      continue;
    }
    const limits = limitProblems(value, ["params", name]);
    if (limits.length) {
      problems.push(...limits.map((p) => ({ ...p, message: `--param ${name}: ${p.message}` })));
      continue;
    }
    params[name] = value;
  }

  // A merge left these for a person to decide (app/pipeline/merge.ts); running a guess would hide them.
  (pipeline.conflicts ?? []).forEach((c, index) => {
    problems.push({ path: jsonPath(["conflicts", index]), message: conflictMessage(c) });
  });

  const byId = new Map<string, { index: number; block?: AnyBlock }>();
  pipeline.nodes.forEach((node, index) => {
    const at: PropertyKey[] = ["nodes", index];
    if (byId.has(node.id)) {
      problems.push({ path: jsonPath([...at, "id"]), message: `Duplicate node id "${node.id}"` });
      return;
    }
    const block = catalog.get(node.block);
    byId.set(node.id, { index, block });
    if (!block) {
      problems.push({ path: jsonPath([...at, "block"]), message: `Unknown block "${node.block}"` });
    }
    for (const ref of findReferences(node.params, [])) {
      if (!Object.hasOwn(params, ref.name)) {
        problems.push({
          path: jsonPath([...at, "params", ...ref.path]),
          message: `Unknown parameter \${${ref.name}}: declare it in the pipeline's "params"`,
        });
      }
    }
  });

  const resolved = new Map<string, ResolvedNode>();
  for (const node of pipeline.nodes) {
    const entry = byId.get(node.id);
    if (!entry?.block || pipeline.nodes[entry.index] !== node) continue;
    // Checked after substitution: a "${search}" whose pipeline param holds a typo is caught too.
    const given = substitute(node.params, params);
    const unknown = unknownParamProblems(entry.block, given, ["nodes", entry.index, "params"]);
    problems.push(...unknown);
    const parsed = entry.block.params.safeParse(given);
    if (!parsed.success) {
      // A value that is still an unknown ${ref} was reported above; its type error would only repeat it.
      const unresolved = new Set(
        findReferences(node.params)
          .filter((r) => !Object.hasOwn(params, r.name))
          .map((r) => jsonPath(["nodes", entry.index, "params", ...r.path])),
      );
      const schema = paramsJsonSchema(entry.block.params);
      problems.push(
        ...parsed.error.issues
          .map((i) => ({
            path: jsonPath(["nodes", entry.index, "params", ...i.path]),
            message: paramIssueMessage(i, given, schema),
          }))
          .filter((p) => !unresolved.has(p.path)),
      );
      continue;
    }
    if (unknown.length) continue;
    resolved.set(node.id, { id: node.id, block: entry.block, params: parsed.data, inputs: {} });
  }

  const upstream = new Map<string, Set<string>>(pipeline.nodes.map((n) => [n.id, new Set()]));
  const connected = new Set<string>();
  pipeline.edges.forEach((edge, i) => {
    const from = splitEndpoint(edge.from);
    const to = splitEndpoint(edge.to);
    const src = byId.get(from.node);
    const dst = byId.get(to.node);
    let ok = true;
    if (!src) {
      problems.push({ path: jsonPath(["edges", i, "from"]), message: `Unknown node "${from.node}"` });
      ok = false;
    } else if (src.block && !src.block.outputs[from.port]) {
      problems.push({
        path: jsonPath(["edges", i, "from"]),
        message: `Block ${src.block.kind} has no output "${from.port}" (outputs: ${Object.keys(src.block.outputs).join(", ") || "none"})`,
      });
      ok = false;
    }
    if (!dst) {
      problems.push({ path: jsonPath(["edges", i, "to"]), message: `Unknown node "${to.node}"` });
      ok = false;
    } else if (dst.block && !dst.block.inputs[to.port]) {
      problems.push({
        path: jsonPath(["edges", i, "to"]),
        message: `Block ${dst.block.kind} has no input "${to.port}" (inputs: ${Object.keys(dst.block.inputs).join(", ") || "none"})`,
      });
      ok = false;
    }
    if (!ok || !src?.block || !dst?.block) {
      if (src && dst) upstream.get(to.node)?.add(from.node);
      return;
    }
    const outType = src.block.outputs[from.port]!.type;
    const inType = dst.block.inputs[to.port]!.type;
    if (!portsCompatible(outType, inType)) {
      problems.push({
        path: jsonPath(["edges", i]),
        message: `Port types do not match: ${edge.from} is a ${outType}, ${edge.to} takes a ${inType}`,
      });
    }
    upstream.get(to.node)?.add(from.node);
    connected.add(edge.to);
    const target = resolved.get(to.node);
    if (target) {
      if (target.inputs[to.port]) {
        problems.push({
          path: jsonPath(["edges", i, "to"]),
          message: `Input ${edge.to} is connected twice; an input takes one edge`,
        });
      }
      target.inputs[to.port] = from;
    }
  });

  for (const node of pipeline.nodes) {
    const entry = byId.get(node.id);
    if (!entry?.block || pipeline.nodes[entry.index] !== node) continue;
    for (const [port, spec] of Object.entries(entry.block.inputs)) {
      if (!spec.optional && !connected.has(`${node.id}.${port}`)) {
        problems.push({
          path: jsonPath(["nodes", entry.index]),
          message: `Input "${port}" of node "${node.id}" (${entry.block.kind}) is not connected`,
        });
      }
    }
  }

  // Kahn's algorithm: what cannot be ordered lies on (or behind) a cycle.
  const indegree = new Map([...upstream].map(([id, ups]) => [id, ups.size]));
  const downstream = new Map<string, string[]>(pipeline.nodes.map((n) => [n.id, []]));
  for (const [id, ups] of upstream) for (const u of ups) downstream.get(u)?.push(id);
  const queue = pipeline.nodes.map((n) => n.id).filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  while (queue.length) {
    const id = queue.shift()!;
    order.push(id);
    for (const d of downstream.get(id) ?? []) {
      indegree.set(d, indegree.get(d)! - 1);
      if (indegree.get(d) === 0) queue.push(d);
    }
  }
  if (order.length < upstream.size) {
    const remaining = new Set([...upstream.keys()].filter((id) => !order.includes(id)));
    problems.push({
      path: "$.edges",
      message: `The graph has a cycle: ${describeCycle(remaining, upstream)}`,
    });
  }

  if (problems.length) return { problems };
  return {
    plan: {
      pipeline,
      params: Object.fromEntries(Object.entries(params)),
      order: order.map((id) => resolved.get(id)!),
    },
    problems,
  };
}

/** An unresolved merge conflict in words, with what to do about it. */
function conflictMessage(c: PipelineConflict): string {
  const show = (side: "base" | "ours" | "theirs") => {
    if (c[side] === undefined) return "absent";
    const text = JSON.stringify(c[side]);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  };
  if (c.path === "" && c.node !== undefined) {
    const gone = c.ours === undefined ? "ours" : "theirs";
    return (
      `Unresolved merge conflict: node ${c.node} was deleted on ${gone}' side and changed on the other; the file keeps ` +
      `the changed node. Keep it or delete it (in the app, or here), then delete this entry from "conflicts".`
    );
  }
  const where = c.node === undefined ? c.path : `${c.node}.${c.path}`;
  return (
    `Unresolved merge conflict at ${where}: ours ${show("ours")}, theirs ${show("theirs")} (base ${show("base")}); ` +
    `the file holds ${c.kept}. Pick one in the app, or edit the value and delete this entry from "conflicts".`
  );
}

/** Parses and plans in one step. */
export function validatePipelineText(
  text: string,
  catalog: Catalog,
  overrides: Record<string, unknown> = {},
): { plan?: Plan; pipeline?: Pipeline; problems: Problem[] } {
  const parsed = parsePipelineText(text);
  if (!parsed.pipeline) return parsed;
  return { pipeline: parsed.pipeline, ...planPipeline(parsed.pipeline, catalog, overrides) };
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `  ${p.path}: ${p.message}`).join("\n");
}
