/**
 * The calendar parts of an epoch-milliseconds input inside the ONNX graph:
 * the steps of `datePartsOf` (app/ml/date-parts.ts, after Howard Hinnant's
 * `civil_from_days`), in the same order, as DOUBLE Div, Floor, Mul, Add and
 * Sub, so the served model and the native one compute the same parts bit for
 * bit. NaN in gives NaN for every part (Floor and arithmetic carry NaN), as
 * natively.
 */
import type { DatePart } from "../date-parts";
import { MS_PER_DAY, MS_PER_HOUR } from "../date-parts";
import { type OnnxGraphBuilder, tensor } from "./builder";

/**
 * Appends the parts of `ms` (DOUBLE [N,1], epoch milliseconds, NaN when
 * missing) and returns one DOUBLE [N,1] tensor per part, in `parts` order.
 */
export function appendDateParts(
  builder: OnnxGraphBuilder,
  ms: string,
  prefix: string,
  parts: readonly DatePart[],
): string[] {
  const constants = new Map<number, string>();
  const c = (value: number): string => {
    let name = constants.get(value);
    if (!name) {
      name = builder.initializer(`${prefix}_k${value}`, tensor("DOUBLE", [], [value]));
      constants.set(value, name);
    }
    return name;
  };
  const op = (type: string, a: string, b: string, what: string): string =>
    builder.node(type, [a, b], [builder.fresh(`${prefix}_${what}`)])[0]!;
  const floorDiv = (a: string, b: number, what: string): string =>
    builder.node("Floor", [op("Div", a, c(b), `${what}_q`)], [builder.fresh(`${prefix}_${what}`)])[0]!;
  const add = (a: string, b: string, what: string) => op("Add", a, b, what);
  const sub = (a: string, b: string, what: string) => op("Sub", a, b, what);
  const mul = (a: string, b: number, what: string) => op("Mul", a, c(b), what);

  // days = floor(ms / 86,400,000); z = days + 719468
  const days = floorDiv(ms, MS_PER_DAY, "days");
  const z = add(days, c(719468), "z");
  // era = floor(z / 146097); doe = z − era × 146097
  const era = floorDiv(z, 146097, "era");
  const doe = sub(z, mul(era, 146097, "era_days"), "doe");
  // yoe = floor((doe − floor(doe/1460) + floor(doe/36524) − floor(doe/146096)) / 365)
  const t1 = sub(doe, floorDiv(doe, 1460, "doe_1460"), "yoe_t1");
  const t2 = add(t1, floorDiv(doe, 36524, "doe_36524"), "yoe_t2");
  const t3 = sub(t2, floorDiv(doe, 146096, "doe_146096"), "yoe_t3");
  const yoe = floorDiv(t3, 365, "yoe");
  // doy = doe − (yoe × 365 + floor(yoe/4) − floor(yoe/100))
  const d1 = add(mul(yoe, 365, "yoe_365"), floorDiv(yoe, 4, "yoe_4"), "doy_t1");
  const d2 = sub(d1, floorDiv(yoe, 100, "yoe_100"), "doy_t2");
  const doy = sub(doe, d2, "doy");
  // mp = floor((doy × 5 + 2) / 153); day = doy − floor((mp × 153 + 2) / 5) + 1
  const mp = floorDiv(add(mul(doy, 5, "doy_5"), c(2), "doy_5_2"), 153, "mp");
  const m1 = floorDiv(add(mul(mp, 153, "mp_153"), c(2), "mp_153_2"), 5, "mp_days");
  // wrap = floor(mp / 10): 1 for January and February, which belong to the next year.
  let wrapped: string | undefined;
  const wrap = () => {
    wrapped ??= floorDiv(mp, 10, "wrap");
    return wrapped;
  };
  const outputs: Partial<Record<DatePart, () => string>> = {
    day: () => add(sub(doy, m1, "day_0"), c(1), "day"),
    month: () => sub(add(mp, c(3), "mp_3"), mul(wrap(), 12, "wrap_12"), "month"),
    year: () => add(add(yoe, mul(era, 400, "era_400"), "year_0"), wrap(), "year"),
    weekday: () => {
      const shifted = add(days, c(3), "shifted");
      const weeks = mul(floorDiv(shifted, 7, "weeks"), 7, "weeks_7");
      return add(sub(shifted, weeks, "weekday_0"), c(1), "weekday");
    },
    hour: () => floorDiv(sub(ms, mul(days, MS_PER_DAY, "day_start"), "ms_of_day"), MS_PER_HOUR, "hour"),
  };
  return parts.map((part) => outputs[part]!());
}
