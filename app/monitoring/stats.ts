/**
 * The statistics behind the drift tests, in plain TypeScript so they need no
 * Python: each follows the SciPy function Evidently calls, algorithm for
 * algorithm, so the numbers match SciPy's (checked against SciPy in
 * stats.test.ts). Inputs are already cleaned of missing values.
 */

// ---------------------------------------------------------------------------
// Special functions

const LANCZOS_G = 7;
const LANCZOS = [
  0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
  12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9: relative error below 1e-14). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a):
 * the series for P below x < a + 1, Lentz's continued fraction above
 * (Numerical Recipes §6.2), both to double precision.
 */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lead));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lead) * h;
}

/** Survival function of the chi-squared distribution with `df` degrees of freedom (scipy.stats.chi2.sf). */
export function chi2Sf(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/** Standard normal CDF (scipy.stats.norm.cdf), through erfc(z) = Q(1/2, z²). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const tail = 0.5 * gammaQ(0.5, (z * z) / 2);
  return z < 0 ? tail : 1 - tail;
}

// ---------------------------------------------------------------------------
// Two-sample Kolmogorov-Smirnov, as scipy.stats.ks_2samp (SciPy 1.17,
// scipy/stats/_stats_py.py) with alternative "two-sided" and method "auto":
// exact when both samples have at most 10,000 values, else the one-sample
// distribution kstwo at n = round(m·n / (m + n)) (scipy/stats/_ksstats.py).

/** scipy's MAX_AUTO_N: method "auto" is exact up to this many values in the larger sample. */
export const KS_MAX_EXACT_N = 10_000;

export interface KsResult {
  statistic: number;
  pValue: number;
  method: "exact" | "asymp";
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The KS statistic D = max |F1 - F2| of two ascending arrays (ties handled as scipy's searchsorted 'right'). */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 && j < n2) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < n1 && a[i]! <= x) i++;
    while (j < n2 && b[j]! <= x) j++;
    const diff = Math.abs(i / n1 - j / n2);
    if (diff > d) d = diff;
  }
  return d;
}

/** Pr(D_{n,n} ≥ h/n) (scipy's _compute_prob_outside_square). */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/** 1 - Pr(paths stay strictly inside the diagonals) (scipy's _compute_outer_prob_inside_method, Viehmann's recursion). */
function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  const [m, n] = m0 < n0 ? [n0, m0] : [m0, n0];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1]!;
}

const E128 = 2 ** 128;
const EM128 = 2 ** -128;
const clip01 = (p: number) => Math.min(1, Math.max(0, p));

/** Durbin's matrix algorithm for Pr(D_n ≤ d), after Marsaglia-Tsang-Wang (scipy's _kolmogn_DMTW). */
function kolmognDMTW(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - i + 1]!;
  for (let r = 0; r < m; r++) H[r * m] = v[r]!;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]!;
  const matmul = (a: Float64Array, b: Float64Array) => {
    const out = new Float64Array(m * m);
    for (let r = 0; r < m; r++)
      for (let q = 0; q < m; q++) {
        const arq = a[r * m + q]!;
        if (arq === 0) continue;
        for (let c = 0; c < m; c++) out[r * m + c]! += arq * b[q * m + c]!;
      }
    return out;
  };
  let Hpwr = new Float64Array(m * m);
  for (let r = 0; r < m; r++) Hpwr[r * m + r] = 1;
  let nn = n;
  let expnt = 0;
  let Hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      Hpwr = matmul(Hpwr, H);
      expnt += Hexpnt;
    }
    H = matmul(H, H);
    Hexpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]!) > E128) {
      for (let x = 0; x < H.length; x++) H[x]! /= E128;
      Hexpnt += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = Hpwr[(k - 1) * m + (k - 1)]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      expnt -= 128;
    }
  }
  if (expnt !== 0) p *= 2 ** expnt;
  return clip01(p);
}

/** Pomeranz's recursion for Pr(D_n ≤ x) (scipy's _kolmogn_Pomeranz), used for n ≤ 140. */
function kolmognPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1;
  let expnt = 0;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1]! * (g / n)) / m;
    twogpower[m] = (twogpower[m - 1]! * ((2 * g) / n)) / m;
    onem2gpower[m] = (onem2gpower[m - 1]! * ((1 - 2 * g) / n)) / m;
  }
  const j1j2 = (i: number): [number, number] => {
    let j1: number;
    let j2: number;
    if (i === 0) {
      j1 = -ll - ceilf - 1;
      j2 = ll + ceilf - 1;
    } else {
      const ip1div2 = Math.floor((i + 1) / 2);
      const ip1mod2 = (i + 1) % 2;
      if (ip1mod2 === 0) {
        if (ip1div2 === n + 1) {
          j1 = n - ll - ceilf - 1;
          j2 = n + ll + ceilf - 1;
        } else {
          j1 = ip1div2 - 1 - ll - roundf - 1;
          j2 = ip1div2 + ll - 1 + ceilf - 1;
        }
      } else {
        j1 = ip1div2 - 1 - ll - 1;
        j2 = ip1div2 + ll + roundf - 1;
      }
    }
    return [Math.max(j1 + 2, 0), Math.min(j2, n)];
  };
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let [j1, j2] = j1j2(0);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = j1j2(i);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // np.convolve(V0[k1-V0s : k1-V0s+ln2], pwrs[:ln2]) (full mode), entries j1-k1 … j2-k1.
      const off = k1 - V0s;
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      let max = 0;
      for (let c = 0; c < convLen; c++) {
        const idx = convStart + c;
        let s = 0;
        for (let a = Math.max(0, idx - ln2 + 1); a <= Math.min(idx, ln2 - 1); a++)
          s += V0[off + a]! * pwrs[idx - a]!;
        V1[c] = s;
        if (s > max) max = s;
      }
      if (max > 0 && max < EM128) {
        for (let c = 0; c < V1.length; c++) V1[c]! *= E128;
        expnt -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s]!;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > E128) {
      ans *= EM128;
      expnt += 128;
    }
    ans *= m;
  }
  if (expnt !== 0) ans *= 2 ** expnt;
  return clip01(ans);
}

const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
const SQRT2PI = Math.sqrt(2 * Math.PI);

/** The Pelz-Good approximation of Pr(D_n ≤ x) (scipy's _kolmogn_PelzGood). */
function kolmognPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z ** 2;
  const z3 = z ** 3;
  const z4 = z ** 4;
  const z6 = z ** 6;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m ** 2;
    const m4 = m ** 4;
    const m6 = m ** 6;
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qpower + coeffs[i]!;
  }
  const div = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT2PI) / div[i]!;
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    k2extra += k2 * qp;
    const kspi = Math.PI * k;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * k2 * qp;
  }
  K[2] = K[2]! + (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] = K[3]! + (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i]! / n ** (i / 2);
  return sum;
}

/**
 * Pr(D+_n ≥ d), the one-sided Smirnov survival function (scipy.special.smirnov),
 * by the Birnbaum-Tingey sum, whose terms are all positive; each term is
 * formed in logs so large n neither overflows nor loses precision.
 */
export function smirnovSf(n: number, d: number): number {
  if (d <= 0) return 1;
  if (d >= 1) return 0;
  const top = Math.floor(n * (1 - d) + 1e-12);
  const lgn1 = logGamma(n + 1);
  let sum = 0;
  for (let v = 0; v <= top; v++) {
    const a = d + v / n;
    const b = 1 - d - v / n;
    if (b <= 0 && n - v > 0) continue;
    const logTerm =
      lgn1 -
      logGamma(v + 1) -
      logGamma(n - v + 1) +
      Math.log(d) +
      (v - 1) * Math.log(a) +
      (n - v === 0 ? 0 : (n - v) * Math.log(b));
    sum += Math.exp(logTerm);
  }
  return clip01(sum);
}

/** log(n!/nⁿ) by Stirling's series (scipy's _log_nfactorial_div_n_pow_n). */
function logNFactorialDivNPowN(n: number): number {
  const c = [
    -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
    -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
  ];
  const rn = 1 / n;
  let poly = 0;
  for (const k of c) poly = poly * (rn / n) + k;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + rn * poly;
}

/** Survival function of the two-sided one-sample KS statistic, scipy.stats.kstwo.sf(x, n) (Simard & L'Ecuyer's choice of methods). */
export function kstwoSf(n: number, x: number): number {
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    return clip01(1 - prob);
  }
  if (t >= n - 1) return clip01(2 * (1 - x) ** n);
  if (x >= 0.5) return clip01(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return clip01(1 - kolmognDMTW(n, x));
    if (nx2 <= 4) return clip01(1 - kolmognPomeranz(n, x));
    return clip01(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip01(2 * smirnovSf(n, x));
  let cdf: number;
  if (nx2 >= 18) cdf = 1;
  else if (n <= 100_000 && n * x ** 1.5 <= 1.4) cdf = kolmognDMTW(n, x);
  else cdf = kolmognPelzGood(n, x);
  return clip01(1 - cdf);
}

/** scipy.stats.ks_2samp(a, b) (two-sided, method "auto") on two ascending arrays. */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (!n1 || !n2) throw new Error("ks2samp needs two non-empty samples");
  let d = ksStatistic(a, b);
  if (Math.max(n1, n2) <= KS_MAX_EXACT_N) {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = Math.round(d * lcm);
    d = h / lcm;
    if (h === 0) return { statistic: d, pValue: 1, method: "exact" };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
    if (Number.isFinite(p) && p >= 0 && p <= 1) return { statistic: d, pValue: p, method: "exact" };
  }
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (m * n) / (m + n);
  return { statistic: d, pValue: clip01(kstwoSf(roundHalfEven(en), d)), method: "asymp" };
}

/** numpy's round: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---------------------------------------------------------------------------
// Distances and the other tests

/**
 * scipy.stats.wasserstein_distance(u, v) on two ascending arrays: the area
 * between the two empirical CDFs, over the merged sorted values.
 */
export function wasserstein(u: ArrayLike<number>, v: ArrayLike<number>): number {
  const nu = u.length;
  const nv = v.length;
  let i = 0;
  let j = 0;
  let sum = 0;
  let prev = Math.min(u[0]!, v[0]!);
  while (i < nu || j < nv) {
    const x = j >= nv || (i < nu && u[i]! <= v[j]!) ? u[i]! : v[j]!;
    sum += Math.abs(i / nu - j / nv) * (x - prev);
    prev = x;
    while (i < nu && u[i]! <= x) i++;
    while (j < nv && v[j]! <= x) j++;
  }
  return sum;
}

/** np.std (population, ddof = 0) by the two-pass formula. */
export function populationStd(values: ArrayLike<number>): number {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  return Math.sqrt(ss / n);
}

/** scipy.spatial.distance.jensenshannon(p, q) with the natural logarithm (base None): p and q are normalized first. */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  const sp = p.reduce((s, x) => s + x, 0);
  const sq = q.reduce((s, x) => s + x, 0);
  let left = 0;
  let right = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    if (pi > 0) left += pi * Math.log(pi / m);
    if (qi > 0) right += qi * Math.log(qi / m);
  }
  return Math.sqrt(Math.max(0, (left + right) / 2));
}

/** Population stability index Σ (r - c)·ln(r / c), as Evidently's psi.py, on shares with no zeros left. */
export function psi(reference: readonly number[], current: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const c = current[i]!;
    s += (r - c) * Math.log(r / c);
  }
  return s;
}

/**
 * Evidently's zero filling (utils.py get_binned_data, feel_zeroes): empty
 * bins get 0.0001, or a millionth of the smallest non-zero share when that
 * share is itself at most 0.0001.
 */
export function fillZeroShares(shares: number[]): number[] {
  const nonZero = shares.filter((x) => x !== 0);
  if (!nonZero.length) return shares;
  const min = Math.min(...nonZero);
  const fill = min <= 0.0001 ? min / 10 ** 6 : 0.0001;
  return shares.map((x) => (x === 0 ? fill : x));
}

export interface ChiSquareResult {
  /** Infinity when a category of the current data is absent from the reference (expected count 0). */
  statistic: number;
  pValue: number;
}

/** scipy.stats.chisquare(observed, expected): Pearson's statistic, k - 1 degrees of freedom. */
export function chiSquare(observed: readonly number[], expected: readonly number[]): ChiSquareResult {
  let stat = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i]!;
    const o = observed[i]!;
    stat += e === 0 ? (o === 0 ? Number.NaN : Number.POSITIVE_INFINITY) : (o - e) ** 2 / e;
  }
  const df = observed.length - 1;
  if (Number.isNaN(stat) || df < 1) return { statistic: stat, pValue: Number.NaN };
  return { statistic: stat, pValue: chi2Sf(stat, df) };
}

/**
 * Evidently's two-proportion z-test (z_stattest.py): the share of values other
 * than the first key in each sample, the pooled proportion, and the two-sided
 * p-value 2·(1 - Φ(|z|)).
 */
export function proportionsZTest(
  refOther: number,
  refN: number,
  curOther: number,
  curN: number,
): { statistic: number; pValue: number } {
  const p1 = refOther / refN;
  const p2 = curOther / curN;
  const P = (p1 * refN + p2 * curN) / (refN + curN);
  const z = (p1 - p2) / Math.sqrt(P * (1 - P) * (1 / refN + 1 / curN));
  return { statistic: z, pValue: 2 * (1 - normalCdf(Math.abs(z))) };
}

/**
 * numpy.histogram_bin_edges(values, bins="sturges") from the combined
 * count, min and max: width = ptp / (log2 n + 1), ceil(ptp / width) bins,
 * edges by numpy.linspace (the last edge exactly max); a constant sample gets
 * the one bin [x - 0.5, x + 0.5].
 */
export function sturgesEdges(n: number, min: number, max: number): number[] {
  let lo = min;
  let hi = max;
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const ptp = max - min;
  const width = ptp / (Math.log2(n) + 1);
  const bins = width ? Math.ceil((hi - lo) / width) : 1;
  const step = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => i * step + lo);
  edges[bins] = hi;
  return edges;
}

/**
 * Sorts finite doubles ascending, in place: an LSD radix sort on the IEEE-754
 * bit patterns (sign flipped for positives, all bits for negatives, so the
 * unsigned order is the numeric order), four passes of 16 bits, the four
 * digit histograms counted in the one pass that flips the bits. For the
 * million-value samples of a drift check it is several times faster than
 * Float64Array.prototype.sort.
 */
export function sortDoubles(values: Float64Array): Float64Array {
  const n = values.length;
  if (n < 2048) return values.sort();
  const words = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  // Little-endian pairs: words[2i] low, words[2i + 1] high (with the sign bit).
  const counts = new Uint32Array(4 * 65536);
  for (let i = 0; i < n; i++) {
    let lo = words[2 * i]!;
    let hi = words[2 * i + 1]!;
    if (hi & 0x80000000) {
      lo = ~lo >>> 0;
      hi = ~hi >>> 0;
    } else hi = (hi | 0x80000000) >>> 0;
    words[2 * i] = lo;
    words[2 * i + 1] = hi;
    counts[lo & 0xffff]!++;
    counts[65536 + (lo >>> 16)]!++;
    counts[131072 + (hi & 0xffff)]!++;
    counts[196608 + (hi >>> 16)]!++;
  }
  let src: Uint32Array = words;
  let dst: Uint32Array = new Uint32Array(n * 2);
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 65536;
    const shift = pass % 2 ? 16 : 0;
    // Offsets from the counts; a digit every key shares leaves the order as it is.
    let shared = false;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[base + d]!;
      if (c === n) {
        shared = true;
        break;
      }
      counts[base + d] = sum;
      sum += c;
    }
    if (shared) continue;
    if (pass < 2) {
      for (let i = 0; i < n; i++) {
        const lo = src[2 * i]!;
        const at = 2 * counts[base + ((lo >>> shift) & 0xffff)]!++;
        dst[at] = lo;
        dst[at + 1] = src[2 * i + 1]!;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const hi = src[2 * i + 1]!;
        const at = 2 * counts[base + ((hi >>> shift) & 0xffff)]!++;
        dst[at] = src[2 * i]!;
        dst[at + 1] = hi;
      }
    }
    [src, dst] = [dst, src];
  }
  if (src !== words) words.set(src);
  for (let i = 0; i < n; i++) {
    const hi = words[2 * i + 1]!;
    if (hi & 0x80000000) words[2 * i + 1] = (hi & 0x7fffffff) >>> 0;
    else {
      words[2 * i] = ~words[2 * i]! >>> 0;
      words[2 * i + 1] = ~hi >>> 0;
    }
  }
  return values;
}
