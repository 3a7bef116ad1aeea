import type { NodeSummary, RunEvent } from "../engine/events";

/** Human durations: 850 ms, 2.4 s, 3 min 05 s. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")} s`;
}

export function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** A row count, 1234567 → "1,234,567", without Intl: loading ICU's number formats costs a command's start ~10 ms. */
function withCommas(rows: number): string {
  return String(rows).replace(/\B(?=(\d{3})+$)/g, ",");
}

/** "2 warnings", "1 warning". */
export function warningCount(n: number): string {
  return `${withCommas(n)} warning${n === 1 ? "" : "s"}`;
}

/** How a run ended, with its warnings: "succeeded", "succeeded with 2 warnings". */
export function runOutcome(status: string, warnings: number | undefined): string {
  return warnings ? `${status} with ${warningCount(warnings)}` : status;
}

/** The run's warnings: its own count, else the sum over its nodes (a summary folded from events). */
export function runWarnings(s: { warnings?: number; nodes: readonly NodeSummary[] }): number {
  return s.warnings ?? s.nodes.reduce((n, node) => n + (node.warnings ?? 0), 0);
}

function rowsOf(n: NodeSummary): string {
  const tables = Object.values(n.outputs).filter((o) => o.rows !== undefined);
  return tables.map((o) => withCommas(o.rows!)).join(" / ");
}

/** The final table: node, block, status, time, rows; and warnings, when a node logged any. */
export function renderSummaryTable(nodes: readonly NodeSummary[]): string {
  const warned = nodes.some((n) => n.warnings);
  const header = ["node", "block", "status", "time", "rows", ...(warned ? ["warnings"] : [])];
  const rows = nodes.map((n) => [
    n.id,
    n.block,
    n.status,
    n.status === "skipped" ? "" : formatMs(n.ms),
    rowsOf(n),
    ...(warned ? [n.warnings ? withCommas(n.warnings) : ""] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

const SYMBOL = { ran: "✓", cached: "•", failed: "✗", skipped: "-" } as const;

/**
 * Progress on stderr. On a terminal a live line shows each running node with
 * a bar; elsewhere (CI logs) one line per event, and progress in quarter steps
 * for nodes that take long.
 */
export class ProgressPrinter {
  private readonly running = new Map<
    string,
    { fraction: number; message?: string; started: number; lastQuarter: number }
  >();
  private liveShown = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly verbose = false,
  ) {
    if (out.isTTY) {
      this.timer = setInterval(() => this.drawLive(), 200);
      this.timer.unref();
    }
  }

  private write(line: string) {
    this.clearLive();
    this.out.write(`${line}\n`);
    this.drawLive();
  }

  private clearLive() {
    if (this.liveShown) this.out.write("\r\x1b[K");
    this.liveShown = false;
  }

  private drawLive() {
    if (!this.out.isTTY || this.running.size === 0) return;
    const width = this.out.columns ?? 80;
    const parts = [...this.running].map(([id, r]) => {
      const secs = ((performance.now() - r.started) / 1000).toFixed(0);
      return `${id} ${bar(r.fraction, 12)} ${Math.round(r.fraction * 100)}% ${secs}s${r.message ? ` ${r.message}` : ""}`;
    });
    this.out.write(`\r\x1b[K${parts.join("  |  ").slice(0, width - 1)}`);
    this.liveShown = true;
  }

  handle(e: RunEvent): void {
    switch (e.type) {
      case "run.started":
        this.write(`Running ${e.pipeline} (${e.nodes.length} nodes, run ${e.runId})`);
        break;
      case "run.warning":
        this.write(`warning: ${e.message}`);
        break;
      case "node.started":
        this.running.set(e.nodeId, { fraction: 0, started: performance.now(), lastQuarter: 0 });
        this.write(`▶ ${e.nodeId} (${e.block}): ${e.reason}`);
        break;
      case "node.progress": {
        const r = this.running.get(e.nodeId);
        if (!r) break;
        r.fraction = e.fraction;
        r.message = e.message;
        const quarter = Math.floor(e.fraction * 4);
        if (!this.out.isTTY && quarter > r.lastQuarter && performance.now() - r.started > 1000) {
          r.lastQuarter = quarter;
          this.write(
            `  ${e.nodeId} ${bar(e.fraction)} ${Math.round(e.fraction * 100)}%${e.message ? ` ${e.message}` : ""}`,
          );
        }
        break;
      }
      case "node.log":
        if (this.verbose || e.level === "warn" || e.level === "error") {
          this.write(`  ${e.nodeId} ${e.level === "info" ? "" : `${e.level}: `}${e.message}`);
        }
        break;
      case "node.metric":
        if (this.verbose)
          this.write(
            `  ${e.nodeId} ${e.name} = ${e.value}${e.step !== undefined ? ` (step ${e.step})` : ""}`,
          );
        break;
      case "node.finished": {
        this.running.delete(e.nodeId);
        const detail =
          e.status === "failed"
            ? `\n    ${e.error}`
            : e.status === "skipped"
              ? ` (${e.reason})`
              : ` ${formatMs(e.ms)}`;
        this.write(`${SYMBOL[e.status]} ${e.nodeId} ${e.status}${detail}`);
        break;
      }
      case "run.finished":
        this.write(`Run ${e.runId} ${runOutcome(e.status, e.warnings)} in ${formatMs(e.ms)}`);
        this.close();
        break;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.clearLive();
  }
}

/**
 * A plain text table: a header, a rule, the rows. Columns listed in
 * `alignRight` (numbers) are right-aligned; trailing spaces are trimmed.
 */
export function renderTable(
  header: string[],
  rows: string[][],
  alignRight: ReadonlySet<number> = new Set(),
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    widths
      .map((w, i) => (alignRight.has(i) ? (cells[i] ?? "").padStart(w) : (cells[i] ?? "").padEnd(w)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

/** A metric or param value for a table cell: 4 significant digits, NaN and Infinity by name. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") {
    if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** An ISO time as "2026-11-26 16:57:07" (UTC). */
export function formatTime(iso: string | null): string {
  return iso ? iso.slice(0, 19).replace("T", " ") : "—";
}

/** JSON for --json output: NaN and ±Infinity stay visible as strings rather than becoming null. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)}\n`;
}
