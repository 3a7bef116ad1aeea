import { type ParseError, parse as parseJson, printParseErrorCode } from "jsonc-parser";
import type { z } from "zod";
import type { AnyBlock, Catalog } from "../engine/block";
import { portsCompatible } from "../engine/ports";
import { findReferences, substitute } from "./params";
import { PIPELINE_FORMAT, type Pipeline, PipelineSchema, splitEndpoint } from "./schema";

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

/** Parses pipeline JSON text: syntax, format version and shape (no catalog needed). */
export function parsePipelineText(text: string): ParseResult {
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
  const params = { ...pipeline.params };
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(pipeline.params, name)) {
      problems.push({
        path: "$.params",
        message: `--param ${name}: the pipeline has no parameter "${name}" (it has: ${Object.keys(pipeline.params).join(", ") || "none"})`,
      });
    }
    params[name] = value;
  }

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
    const parsed = entry.block.params.safeParse(substitute(node.params, params));
    if (!parsed.success) {
      // A value that is still an unknown ${ref} was reported above; its type error would only repeat it.
      const unresolved = new Set(
        findReferences(node.params)
          .filter((r) => !Object.hasOwn(params, r.name))
          .map((r) => jsonPath(["nodes", entry.index, "params", ...r.path])),
      );
      problems.push(
        ...zodProblems(parsed.error, ["nodes", entry.index, "params"]).filter((p) => !unresolved.has(p.path)),
      );
      continue;
    }
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
  return { plan: { pipeline, params, order: order.map((id) => resolved.get(id)!) }, problems };
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
