/**
 * Which input columns each output column of a transform.sql query is derived
 * from, read from DuckDB's own syntax tree (`SELECT json_serialize_sql(?)`,
 * https://duckdb.org/docs/stable/data/json/sql_to_and_from_json), for column
 * tags to follow the lineage (app/privacy/tags.ts).
 *
 * An output column derives from every column its select-list expression
 * refers to: through functions, CASE, casts, aggregates and window functions
 * (their PARTITION BY and ORDER BY included), scalar subqueries, and through
 * CTEs and subqueries in FROM by name. `*` and `t.*` expand to the columns of
 * the relations they name (EXCLUDE, REPLACE and RENAME applied; a JOIN's USING
 * or NATURAL columns once). A column used only in WHERE, a JOIN condition,
 * GROUP BY, HAVING, QUALIFY or ORDER BY does not derive the output.
 *
 * Where the tree cannot say (DuckDB cannot serialize the statement, e.g.
 * PIVOT; a table function or a workspace table whose columns are not known
 * here; COLUMNS(...); a name that resolves nowhere), the column falls back
 * conservatively: the same-named input column and every input column the
 * statement refers to anywhere, a `*`'s RENAMEd columns included (every input
 * column when there is no tree; every column of the inputs it reads when it
 * uses COLUMNS(...)) — it may over-tag, never miss.
 */
import type { SqlSession } from "../data/sql";
import type { ColumnSource } from "./tags";

/** The input tables by the names the query uses, with their columns: input → port "in", other → "other". */
export type LineageInputs = Record<string, { port: string; columns: readonly string[] }>;

/** A column of a relation while resolving: its name (null: not known), and its sources (null: not resolvable). */
interface Col {
  name: string | null;
  sources: Set<string> | null;
}

interface Relation {
  alias: string;
  /** null: the relation's columns are not known here (a table function, a workspace table). */
  columns: Col[] | null;
}

interface Scope {
  relations: Relation[];
  /** Names shared by a JOIN's USING or NATURAL: `*` gives them once. */
  merged: Set<string>;
  parent?: Scope;
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => !!v && typeof v === "object" && !Array.isArray(v);
const low = (s: string) => s.toLowerCase();
const key = (port: string, column: string) => `${port}\0${column}`;

class Unresolvable extends Error {}

/** Sources of a set of columns, or null when one of them is unresolved. */
function union(sets: readonly (Set<string> | null)[]): Set<string> | null {
  const out = new Set<string>();
  for (const s of sets) {
    if (!s) return null;
    for (const x of s) out.add(x);
  }
  return out;
}

class Resolver {
  /**
   * Every named column of every relation met on the way (CTEs, subqueries, alias lists), by name: where
   * the whole query cannot be resolved, an output column of that name may be one of them (null: one of
   * that name could not be resolved).
   */
  readonly met = new Map<string, Set<string> | null>();

  constructor(private readonly inputs: LineageInputs) {}

  private meet(columns: Col[] | null): Col[] | null {
    for (const c of columns ?? []) {
      if (c.name === null) continue;
      const name = low(c.name);
      this.met.set(name, this.met.has(name) ? union([this.met.get(name)!, c.sources]) : c.sources);
    }
    return columns;
  }

  /** A query node (SELECT, set operation) as its output columns; throws Unresolvable where it cannot tell. */
  query(node: unknown, ctes: Map<string, Col[] | null>, parent?: Scope): Col[] {
    if (!isNode(node)) throw new Unresolvable();
    const local = new Map(ctes);
    const map =
      (node.cte_map as { map?: { key: string; value: { query?: { node?: unknown }; aliases?: string[] } }[] })
        ?.map ?? [];
    for (const entry of map) {
      let cols: Col[] | null;
      try {
        cols = this.query(entry.value.query?.node, local, parent);
        cols = renamed(cols, entry.value.aliases ?? []);
      } catch (e) {
        if (!(e instanceof Unresolvable)) throw e;
        cols = null;
        for (const name of entry.value.aliases ?? []) this.met.set(low(name), null);
      }
      local.set(low(entry.key), cols);
    }
    if (node.type === "SET_OPERATION_NODE") {
      const left = this.query(node.left, local, parent);
      const right = this.query(node.right, local, parent);
      if (node.setop_type === "UNION_BY_NAME") {
        const out: Col[] = [...left.map((c) => ({ ...c }))];
        for (const r of right) {
          const same = out.find((c) => c.name !== null && r.name !== null && low(c.name) === low(r.name));
          if (same) same.sources = union([same.sources, r.sources]);
          else out.push({ ...r });
        }
        return out;
      }
      if (left.length !== right.length) throw new Unresolvable();
      return left.map((c, i) => ({ name: c.name, sources: union([c.sources, right[i]!.sources]) }));
    }
    if (node.type !== "SELECT_NODE") throw new Unresolvable();
    const scope: Scope = { relations: [], merged: new Set(), parent };
    this.from(node.from_table, local, scope);
    const out: Col[] = [];
    for (const expr of (node.select_list as unknown[]) ?? []) {
      if (!isNode(expr)) throw new Unresolvable();
      if (expr.class === "STAR" && !expr.columns) {
        out.push(...this.star(expr, scope, local));
        continue;
      }
      if (expr.class === "STAR") throw new Unresolvable(); // COLUMNS(...): which columns, only binding tells
      const alias = typeof expr.alias === "string" && expr.alias ? expr.alias : null;
      const names = expr.class === "COLUMN_REF" ? (expr.column_names as string[]) : undefined;
      out.push({ name: alias ?? names?.at(-1) ?? null, sources: this.expression(expr, scope, local, out) });
    }
    return out;
  }

  /** Adds the relations of a FROM clause to the scope. */
  private from(ref: unknown, ctes: Map<string, Col[] | null>, scope: Scope): void {
    if (!isNode(ref) || ref.type === "EMPTY") return;
    const alias = (fallback: string) =>
      low(typeof ref.alias === "string" && ref.alias ? ref.alias : fallback);
    const renames = (ref.column_name_alias as string[] | undefined) ?? [];
    if (ref.type === "BASE_TABLE") {
      const name = low(String(ref.table_name ?? ""));
      let columns: Col[] | null = null;
      if (!ref.schema_name && ctes.has(name)) columns = ctes.get(name) ?? null;
      else if (!ref.schema_name && this.inputs[name]) {
        const { port, columns: names } = this.inputs[name]!;
        columns = names.map((c) => ({ name: c, sources: new Set([key(port, c)]) }));
      }
      scope.relations.push({ alias: alias(name), columns: this.meet(columns && renamed(columns, renames)) });
      return;
    }
    if (ref.type === "SUBQUERY") {
      let columns: Col[] | null;
      // DuckDB lets a subquery in FROM read the columns of the relations before it (LATERAL, explicit or
      // not): they are its next scope out, before the enclosing query's.
      const before: Scope = { relations: [...scope.relations], merged: scope.merged, parent: scope.parent };
      try {
        columns = renamed(this.query((ref.subquery as Node)?.node, ctes, before), renames);
      } catch (e) {
        if (!(e instanceof Unresolvable)) throw e;
        columns = null;
        // Its columns renamed by an alias list: under those names, anything may leave.
        for (const name of renames) this.met.set(low(name), null);
      }
      scope.relations.push({ alias: alias(""), columns: this.meet(columns) });
      return;
    }
    if (ref.type === "JOIN") {
      const before = scope.relations.length;
      this.from(ref.left, ctes, scope);
      const leftNames = new Set(
        scope.relations.slice(before).flatMap((r) => (r.columns ?? []).map((c) => low(c.name ?? ""))),
      );
      const mid = scope.relations.length;
      this.from(ref.right, ctes, scope);
      for (const u of (ref.using_columns as string[] | undefined) ?? []) scope.merged.add(low(u));
      if (ref.ref_type === "NATURAL") {
        const right = scope.relations.slice(mid);
        if (right.some((r) => !r.columns) || scope.relations.slice(before, mid).some((r) => !r.columns))
          throw new Unresolvable();
        for (const r of right)
          for (const c of r.columns!) if (c.name && leftNames.has(low(c.name))) scope.merged.add(low(c.name));
      }
      return;
    }
    // A table function, PIVOT, VALUES list…: present, with columns not known here.
    scope.relations.push({ alias: alias(""), columns: null });
  }

  /** `*`, `t.*` with EXCLUDE, REPLACE and RENAME. */
  private star(expr: Node, scope: Scope, ctes: Map<string, Col[] | null>): Col[] {
    const relationName =
      typeof expr.relation_name === "string" && expr.relation_name ? low(expr.relation_name) : "";
    const relations = relationName
      ? scope.relations.filter((r) => r.alias === relationName)
      : scope.relations;
    if (!relations.length || relations.some((r) => !r.columns)) throw new Unresolvable();
    const excluded = new Set(
      [
        ...((expr.exclude_list as unknown[]) ?? []),
        ...((expr.qualified_exclude_list as unknown[]) ?? []).map((q) => (isNode(q) ? q.column : q)),
      ]
        .map((x) => (isNode(x) ? x.column : x))
        .filter((x): x is string => typeof x === "string")
        .map(low),
    );
    const replace = new Map<string, unknown>();
    for (const r of (expr.replace_list as { key: string; value: unknown }[]) ?? [])
      replace.set(low(r.key), r.value);
    const rename = new Map<string, string>();
    for (const r of (expr.rename_list as { key: unknown; value: string }[]) ?? []) {
      const k = isNode(r.key) ? r.key.column : r.key;
      if (typeof k === "string") rename.set(low(k), r.value);
    }
    const out: Col[] = [];
    const seen = new Map<string, Col>();
    for (const rel of relations) {
      for (const c of rel.columns!) {
        if (c.name === null) throw new Unresolvable();
        const name = low(c.name);
        if (excluded.has(name)) continue;
        const merged = !relationName && scope.merged.has(name) ? seen.get(name) : undefined;
        if (merged) {
          merged.sources = union([merged.sources, c.sources]);
          continue;
        }
        const replaced = replace.get(name);
        const col: Col = {
          name: rename.get(name) ?? c.name,
          sources: replaced === undefined ? c.sources : this.expression(replaced, scope, ctes, out),
        };
        seen.set(name, col);
        out.push(col);
      }
    }
    return out;
  }

  /** Every column an expression refers to; null when one resolves nowhere. */
  private expression(
    expr: unknown,
    scope: Scope,
    ctes: Map<string, Col[] | null>,
    earlier: readonly Col[],
    lambda: ReadonlySet<string> = new Set(),
  ): Set<string> | null {
    if (Array.isArray(expr)) return union(expr.map((e) => this.expression(e, scope, ctes, earlier, lambda)));
    if (!isNode(expr)) return new Set();
    if (expr.class === "COLUMN_REF")
      return this.column(expr.column_names as string[], scope, earlier, lambda);
    if (expr.class === "LAMBDA") {
      const params = new Set(lambda);
      const lhs = expr.lhs;
      for (const p of Array.isArray(lhs) ? lhs : [lhs])
        if (isNode(p) && p.class === "COLUMN_REF") params.add(low((p.column_names as string[]).join(".")));
      return this.expression(expr.expr, scope, ctes, earlier, params);
    }
    if (expr.class === "SUBQUERY") {
      const inner: Scope = { relations: [], merged: new Set(), parent: scope };
      try {
        const cols = this.query((expr.subquery as Node)?.node, ctes, inner.parent);
        return union([
          ...cols.map((c) => c.sources),
          this.expression(expr.child, scope, ctes, earlier, lambda),
        ]);
      } catch (e) {
        if (e instanceof Unresolvable) return null;
        throw e;
      }
    }
    if (expr.class === "STAR") return null; // COLUMNS(*) inside an expression
    const parts: (Set<string> | null)[] = [];
    for (const [k, v] of Object.entries(expr)) {
      if (k === "class" || k === "type" || k === "alias") continue;
      if (v && typeof v === "object") parts.push(this.expression(v, scope, ctes, earlier, lambda));
    }
    return union(parts);
  }

  /** A column reference: `col`, `t.col`, or a struct field of either. */
  private column(
    names: string[],
    scope: Scope,
    earlier: readonly Col[],
    lambda: ReadonlySet<string>,
  ): Set<string> | null {
    if (!names?.length) return null;
    if (lambda.has(low(names[0]!)) || lambda.has(low(names.join(".")))) return new Set();
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      // t.col (and t.col.field)
      if (names.length >= 2) {
        const rel = s.relations.find((r) => r.alias === low(names[0]!));
        if (rel) {
          if (!rel.columns) return null;
          const c = rel.columns.find((x) => x.name !== null && low(x.name) === low(names[1]!));
          if (c) return c.sources;
        }
      }
      // col (and col.field)
      const found = s.relations.flatMap((r) =>
        (r.columns ?? []).filter((c) => c.name !== null && low(c.name) === low(names[0]!)),
      );
      if (found.length) return union(found.map((c) => c.sources));
      if (s.relations.some((r) => !r.columns)) return null;
      // An alias defined earlier in the same select list (DuckDB allows SELECT a + 1 AS x, x * 2 AS y).
      if (s === scope) {
        const alias = earlier.find((c) => c.name !== null && low(c.name) === low(names[0]!));
        if (alias) return alias.sources;
      }
    }
    return null;
  }
}

/** A relation's columns renamed by a column alias list `t(a, b)`; the rest keep their names. */
function renamed(columns: Col[], names: readonly string[]): Col[] {
  return columns.map((c, i) => (names[i] ? { ...c, name: names[i]! } : c));
}

/** Stands for "every input column" among the referenced names: COLUMNS(...) may pick any of them. */
const ANY = "\0any";
const tableRef = (name: string) => `\0table:${low(name)}`;

/**
 * Every name part of every column reference in the tree (for the fallback), and the columns a `*`
 * RENAMEs (they leave under a new name); COLUMNS(...) counts as every column.
 */
function referencedNames(tree: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(tree)) for (const x of tree) referencedNames(x, into);
  else if (isNode(tree)) {
    if (tree.class === "COLUMN_REF") for (const n of (tree.column_names as string[]) ?? []) into.add(low(n));
    if (tree.type === "BASE_TABLE" && typeof tree.table_name === "string")
      into.add(tableRef(tree.table_name));
    if (tree.class === "STAR") {
      if (tree.columns) into.add(ANY);
      for (const r of (tree.rename_list as { key: unknown }[] | undefined) ?? []) {
        const k = isNode(r.key) ? r.key.column : r.key;
        if (typeof k === "string") into.add(low(k));
      }
    }
    for (const v of Object.values(tree)) if (v && typeof v === "object") referencedNames(v, into);
  }
  return into;
}

const decode = (s: string): ColumnSource => {
  const [port, column] = s.split("\0") as [string, string];
  return { port, column };
};

/**
 * Per output column, the input columns it is derived from. `tree` is what
 * json_serialize_sql answered (or undefined when the statement could not be
 * serialized); `output` the table's columns in order.
 */
export function sqlColumnLineage(
  tree: unknown,
  inputs: LineageInputs,
  output: readonly string[],
): Record<string, ColumnSource[]> {
  let resolved: Col[] | null = null;
  const statement = isNode(tree) && !tree.error ? (tree.statements as Node[] | undefined)?.[0] : undefined;
  const resolver = new Resolver(inputs);
  if (statement) {
    try {
      resolved = resolver.query(statement.node, new Map());
    } catch {
      // Unresolvable, or a tree of a shape this reader does not know (a newer DuckDB): the fallback,
      // never a failed node.
      resolved = null;
    }
  }
  const referenced = tree ? referencedNames(tree) : undefined;
  // The same-named input column AND every input column the statement names anywhere (all, when it could
  // not be read): a same name alone would miss `md5(email) || x AS id` beside an input column id.
  // …and the sources of every relation column of its name met in the tree (renamed by an alias list,
  // then passed on by a `*` that could not be expanded); every column when one of them is unresolved.
  const fallback = (column: string): ColumnSource[] => {
    const met = resolver.met.has(low(column)) ? resolver.met.get(low(column)) : new Set<string>();
    const fromMet = met ? [...met].map(decode) : [];
    const all = met === null;
    const listed = Object.entries(inputs).flatMap(([name, { port, columns }]) =>
      columns
        .filter(
          (c) =>
            low(c) === low(column) ||
            !referenced ||
            all ||
            (referenced.has(ANY) && referenced.has(tableRef(name))) ||
            referenced.has(low(c)),
        )
        .map((c) => ({ port, column: c })),
    );
    const seen = new Set(listed.map((s) => key(s.port, s.column)));
    return [...listed, ...fromMet.filter((s) => !seen.has(key(s.port, s.column)))];
  };
  const lineage: Record<string, ColumnSource[]> = {};
  output.forEach((column, i) => {
    // Positions line up when the whole select list resolved; DuckDB names unaliased expressions itself.
    const col =
      resolved?.length === output.length
        ? resolved[i]
        : resolved?.find((c) => c.name !== null && low(c.name) === low(column));
    lineage[column] = col?.sources ? [...col.sources].map(decode) : fallback(column);
  });
  return lineage;
}

/** The statement's syntax tree from DuckDB (json_serialize_sql); undefined when DuckDB cannot serialize it. */
export async function sqlSyntaxTree(sql: SqlSession, query: string): Promise<unknown> {
  try {
    const row = await sql.one<{ tree: string }>("SELECT json_serialize_sql(?::VARCHAR) AS tree", [query]);
    const tree = JSON.parse(row.tree) as Node;
    return tree.error ? undefined : tree;
  } catch {
    return undefined;
  }
}
