/** Maps the core's JSON paths ("$.nodes[3].params.testFraction") onto nodes and their params. */
import type { Problem } from "../../../app/api/api";
import type { PipelineDocument } from "../store/types";
import type { LocatedProblem } from "../store/validation";
import { splitEndpoint } from "./endpoints";

/** "$.a[2][\"b c\"].d" → ["a", 2, "b c", "d"]. */
export function parseJsonPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of path.slice(1).matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(JSON.parse(m[3]) as string);
  }
  return out;
}

export function locateProblem(doc: PipelineDocument, problem: Problem): LocatedProblem {
  const [head, index, field, ...rest] = parseJsonPath(problem.path);
  if (head === "nodes" && typeof index === "number") {
    const nodeId = doc.nodes[index]?.id;
    const param = field === "params" ? rest.map(String) : undefined;
    return { ...problem, nodeId, param };
  }
  if (head === "edges" && typeof index === "number") {
    const edge = doc.edges[index];
    const end = field === "from" ? edge?.from : edge?.to;
    return { ...problem, nodeId: end ? splitEndpoint(end).node : undefined };
  }
  return problem;
}

/**
 * The part of the document that has no problems: nodes the problems name are
 * left out, with everything downstream of them. The core can tell cached from
 * stale only for a valid pipeline, so this is what it is asked about while the
 * user is midway through an edit. Null when a problem concerns the whole pipeline.
 */
export function validPart(doc: PipelineDocument, problems: LocatedProblem[]): PipelineDocument | null {
  if (!problems.length) return doc;
  if (problems.some((p) => !p.nodeId)) return null;
  const bad = new Set(problems.map((p) => p.nodeId!));
  let grew = true;
  while (grew) {
    grew = false;
    for (const e of doc.edges) {
      const from = splitEndpoint(e.from).node;
      const to = splitEndpoint(e.to).node;
      if (bad.has(from) && !bad.has(to)) {
        bad.add(to);
        grew = true;
      }
    }
  }
  const keep = (id: string) => !bad.has(id);
  return {
    ...doc,
    nodes: doc.nodes.filter((n) => keep(n.id)),
    edges: doc.edges.filter((e) => keep(splitEndpoint(e.from).node) && keep(splitEndpoint(e.to).node)),
  };
}
