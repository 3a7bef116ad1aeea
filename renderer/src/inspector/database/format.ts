/** Display text of the database source panel. */

/** 1234 → "~1.2k rows"; null (the database keeps no estimate) → "". */
export function rowsEstimateText(n: number | null): string {
  if (n === null || n < 0) return "";
  if (n < 1000) return `~${n} row${n === 1 ? "" : "s"}`;
  const units: [number, string][] = [
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  const [size, unit] = units.find(([s]) => n >= s) as [number, string];
  const v = n / size;
  return `~${v < 10 ? v.toFixed(1) : Math.round(v)}${unit} rows`;
}
