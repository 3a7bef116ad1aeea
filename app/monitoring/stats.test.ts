/**
 * The special functions behind the p-values, against SciPy on grids that
 * reach every branch of scipy.stats.kstwo's method choice (Ruben-Gambino,
 * Durbin's matrix, Pomeranz, Pelz-Good, the one-sided Smirnov sum).
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { chi2Sf, ks2samp, kstwoSf, normalCdf, sortDoubles, sturgesEdges, wasserstein } from "./stats";

const scipy = (code: string, input: unknown): number[][] =>
  JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", code], {
      input: JSON.stringify(input),
      maxBuffer: 1 << 26,
    }).toString(),
  );

describe("special functions against SciPy", () => {
  it("kstwo.sf over n and x in every branch", () => {
    const grid: [number, number][] = [];
    for (const n of [1, 2, 5, 20, 100, 140, 141, 500, 990, 5000, 100_000, 200_000])
      for (const t of [0.4, 0.6, 0.9, 1.5, 3, 0.3, 0.7, 0.87, 1, 1.2, 1.4, 1.6, 2, 2.5, 4, 8, 20])
        grid.push([n, Math.min(0.999, t / Math.sqrt(n))]);
    for (const n of [3, 10, 50, 200])
      for (const x of [0.05, 0.2, 0.45, 0.5, 0.6, 0.9, 1 - 1 / n + 0.001]) grid.push([n, x]);
    const want = scipy(
      "import json,sys\nfrom scipy.stats import kstwo\nprint(json.dumps([[float(kstwo.sf(x, n))] for n,x in json.load(sys.stdin)]))",
      grid,
    );
    for (const [i, [n, x]] of grid.entries()) {
      expect(Math.abs(kstwoSf(n, x) - want[i]![0]!), `n=${n} x=${x}`).toBeLessThan(1e-9);
    }
  });

  it("chi2.sf and norm.cdf", () => {
    const chi: [number, number][] = [];
    for (const df of [1, 2, 3, 7, 30, 200])
      for (const x of [0, 0.01, 0.5, 1, 3, 10, 50, 300]) chi.push([x, df]);
    const zs = [-40, -8, -3.3, -1.96, -0.5, 0, 0.1, 1.2, 2.5, 6, 12];
    const want = scipy(
      "import json,sys\nfrom scipy.stats import chi2, norm\nc,z=json.load(sys.stdin)\nprint(json.dumps([[float(chi2.sf(x,d)) for x,d in c],[float(norm.cdf(v)) for v in z]]))",
      [chi, zs],
    );
    for (const [i, [x, df]] of chi.entries()) {
      expect(Math.abs(chi2Sf(x, df) - want[0]![i]!), `x=${x} df=${df}`).toBeLessThan(1e-12);
    }
    for (const [i, z] of zs.entries()) {
      expect(Math.abs(normalCdf(z) - want[1]![i]!), `z=${z}`).toBeLessThan(1e-14);
    }
  });

  it("ks_2samp exact and asymptotic, with ties; wasserstein_distance; Sturges edges", () => {
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const cases: [number[], number[]][] = [];
    for (const [n1, n2, shift, round] of [
      [7, 9, 0.3, 10],
      [50, 50, 0.1, 100],
      [100, 137, 0.1, 20],
      [1000, 800, 0.05, 1000],
      [60, 25000, 0.05, 1000],
      [1000, 20000, 0.03, 50],
      [10001, 300, 0.02, 1e6],
    ] as const) {
      const a = Array.from({ length: n1 }, () => Math.round(rand() * round) / round).sort((x, y) => x - y);
      const b = Array.from({ length: n2 }, () => Math.round((rand() + shift) * round) / round).sort(
        (x, y) => x - y,
      );
      cases.push([a, b]);
    }
    const want = scipy(
      "import json,sys\nimport numpy as np\nfrom scipy import stats\ncs=json.load(sys.stdin)\nprint(json.dumps([[*map(float, stats.ks_2samp(a,b)[:2]), float(stats.wasserstein_distance(a,b)), *map(float, np.histogram_bin_edges(a+b, bins='sturges'))] for a,b in cs]))",
      cases,
    );
    cases.forEach(([a, b], i) => {
      const k = ks2samp(a, b);
      const [d, pv, w, ...edges] = want[i]!;
      expect(k.statistic).toBeCloseTo(d!, 12);
      expect(Math.abs(k.pValue - pv!), `case ${i} (${a.length} vs ${b.length}, ${k.method})`).toBeLessThan(
        1e-9,
      );
      expect(Math.abs(wasserstein(a, b) - w!)).toBeLessThan(1e-9);
      expect(
        sturgesEdges(a.length + b.length, Math.min(a[0]!, b[0]!), Math.max(a.at(-1)!, b.at(-1)!)),
      ).toEqual(edges);
    });
    expect(() => ks2samp([], [1])).toThrow(/non-empty/);
  });

  it("sortDoubles orders negatives, zeros, subnormals, huge values and ties as a numeric sort does", () => {
    let seed = 3;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const mixed = Float64Array.from(
      { length: 50_000 },
      () => (rand() - 0.4) * 10 ** Math.floor(rand() * 40 - 20),
    );
    mixed.set([0, -0, 5e-324, -5e-324, 1.7e308, -1.7e308, 1, 1, 1], 100);
    const ties = Float64Array.from({ length: 30_000 }, () => Math.round(rand() * 50) - 25);
    for (const values of [mixed, ties, Float64Array.from([3, -1, 2])]) {
      const want = Array.from(values).sort((a, b) => a - b);
      const got = sortDoubles(values.slice());
      // === on each pair: -0 and 0 are equal values, in either order.
      expect(want.filter((x, i) => x !== got[i]).length).toBe(0);
      expect(got.length).toBe(want.length);
    }
  });
});
