/**
 * Reads what the Deployments view charts from a Dagwood server's `/metrics`
 * (Prometheus text, app/serving/observability.ts): requests, errors and
 * latency per model and version.
 */

export interface VersionTraffic {
  model: string;
  version: string;
  requests: number;
  /** Requests answered with a status other than 200. */
  errors: number;
  /** Inferences timed (all roles, shadow included). */
  timed: number;
  meanMs: number | null;
  /** From the histogram buckets: the upper bound of the bucket holding the quantile. */
  p50Ms: number | null;
  p99Ms: number | null;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One `name{a="x",b="y"} value` line per sample; comments and blank lines skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    }
    const raw = match[3]!;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

function quantileMs(buckets: { le: number; count: number }[], total: number, q: number): number | null {
  if (total === 0) return null;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const rank = q * total;
  for (const b of sorted) if (b.count >= rank) return Number.isFinite(b.le) ? b.le * 1000 : null;
  return null;
}

/** Per model and version: requests, errors and latency; sorted by model then version. */
export function trafficByVersion(text: string): VersionTraffic[] {
  const rows = new Map<string, VersionTraffic & { buckets: Map<number, number>; sum: number }>();
  const row = (model: string, version: string) => {
    const key = `${model}\u0000${version}`;
    let r = rows.get(key);
    if (!r) {
      r = {
        model,
        version,
        requests: 0,
        errors: 0,
        timed: 0,
        meanMs: null,
        p50Ms: null,
        p99Ms: null,
        buckets: new Map(),
        sum: 0,
      };
      rows.set(key, r);
    }
    return r;
  };
  for (const s of parsePrometheus(text)) {
    const { model, version } = s.labels;
    if (!model || !version) continue;
    if (s.name === "dagwood_requests_total") {
      const r = row(model, version);
      r.requests += s.value;
      if (s.labels.code !== "200") r.errors += s.value;
    } else if (s.name === "dagwood_inference_duration_seconds_bucket") {
      const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      const r = row(model, version);
      r.buckets.set(le, (r.buckets.get(le) ?? 0) + s.value);
    } else if (s.name === "dagwood_inference_duration_seconds_sum") {
      row(model, version).sum += s.value;
    } else if (s.name === "dagwood_inference_duration_seconds_count") {
      row(model, version).timed += s.value;
    }
  }
  return [...rows.values()]
    .map(({ buckets, sum, ...r }) => {
      const list = [...buckets].map(([le, count]) => ({ le, count }));
      return {
        ...r,
        meanMs: r.timed > 0 ? (sum / r.timed) * 1000 : null,
        p50Ms: quantileMs(list, r.timed, 0.5),
        p99Ms: quantileMs(list, r.timed, 0.99),
      };
    })
    .sort((a, b) => a.model.localeCompare(b.model) || Number(a.version) - Number(b.version));
}
