/** A served model's traffic per version from the target's /metrics (recharts; loaded with the view on demand). */
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from "recharts";
import { COLORS } from "../panels/evaluation/format";
import type { TrafficRow } from "./format";

const W = 280;
const H = 170;
const TICK = { fontSize: 10 };
const MARGIN = { top: 6, right: 8, bottom: 0, left: -18 };

export default function TrafficCharts({ rows, testId }: { rows: TrafficRow[]; testId: string }) {
  return (
    <div className="traffic-charts" data-testid={testId}>
      <figure className="traffic-chart">
        <figcaption>Requests per version</figcaption>
        <BarChart width={W} height={H} data={rows} margin={MARGIN}>
          <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
          <XAxis dataKey="version" tick={TICK} />
          <YAxis tick={TICK} allowDecimals={false} />
          <Tooltip />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          <Bar dataKey="requests" name="requests" fill={COLORS[0]} isAnimationActive={false} />
          <Bar dataKey="errors" name="errors" fill="#c8423b" isAnimationActive={false} />
        </BarChart>
      </figure>
      <figure className="traffic-chart">
        <figcaption>Latency per version (ms, histogram bucket bounds)</figcaption>
        <BarChart width={W} height={H} data={rows} margin={MARGIN}>
          <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" vertical={false} />
          <XAxis dataKey="version" tick={TICK} />
          <YAxis tick={TICK} />
          <Tooltip />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          <Bar dataKey="p50Ms" name="p50" fill={COLORS[1]} isAnimationActive={false} />
          <Bar dataKey="p99Ms" name="p99" fill={COLORS[2]} isAnimationActive={false} />
        </BarChart>
      </figure>
    </div>
  );
}
