/** What every recharts chart of the evaluation and explanation views draws alike. */

export const TICK = { fontSize: 10 };

/** Spread on a CartesianGrid: light dashed lines. */
export const GRID = { strokeDasharray: "2 3", stroke: "#e6e9ee" };

/** The label under an x axis. */
export const xAxisLabel = (value: string, offset = -8) => ({
  value,
  position: "insideBottom" as const,
  offset,
  fontSize: 10,
});

/** The label beside a y axis, read bottom to top. */
export const yAxisLabel = (value: string, offset = 16) => ({
  value,
  angle: -90,
  position: "insideLeft" as const,
  offset,
  fontSize: 10,
});
