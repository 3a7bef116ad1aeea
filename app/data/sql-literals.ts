/** A single-quoted string literal in SQL text: its span (quotes included) and its value. */
export interface SqlLiteral {
  start: number;
  end: number;
  value: string;
}

/**
 * The single-quoted string literals of a SQL text, skipping comments,
 * double-quoted identifiers and dollar-quoted strings, so a quote inside any
 * of those does not throw the scan off.
 */
export function stringLiterals(sql: string): SqlLiteral[] {
  const out: SqlLiteral[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      i = j + 1;
    } else if (c === "$" && /^\$[A-Za-z_]*\$/.test(sql.slice(i))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))![0];
      const close = sql.indexOf(tag, i + tag.length);
      i = close < 0 ? sql.length : close + tag.length;
    } else if (c === "'") {
      let j = i + 1;
      let value = "";
      while (j < sql.length) {
        if (sql[j] === "'" && sql[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (sql[j] === "'") {
          break;
        } else {
          value += sql[j];
          j++;
        }
      }
      out.push({ start: i, end: j + 1, value });
      i = j + 1;
    } else {
      i++;
    }
  }
  return out;
}

/** Replaces literal spans with new values, quoting them. */
export function replaceLiterals(sql: string, replacements: { literal: SqlLiteral; value: string }[]): string {
  let out = "";
  let at = 0;
  for (const { literal, value } of [...replacements].sort((a, b) => a.literal.start - b.literal.start)) {
    out += `${sql.slice(at, literal.start)}'${value.replaceAll("'", "''")}'`;
    at = literal.end;
  }
  return out + sql.slice(at);
}
