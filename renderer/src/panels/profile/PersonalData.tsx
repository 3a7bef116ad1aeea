/**
 * The profile's "Personal data" section: per column, the kinds the privacy
 * scan found (app/privacy/scan.ts), the share of sampled values that match,
 * and masked examples; one line when nothing was found. The examples come
 * masked from the core: nothing here shows a value in clear.
 */
import "./personal-data.css";
import type { PiiKind } from "../../../../app/values/privacy";
import type { ProfilePrivacy } from "../../../../app/values/profile";

const KIND_LABEL: Record<PiiKind, string> = {
  email: "e-mail",
  phone: "phone",
  card: "card number",
  iban: "IBAN",
  ipv4: "IPv4",
  ipv6: "IPv6",
  birthdate: "birth date",
  personal_name: "personal",
};

/** "all 344 rows" or "10,000 of 3,000,000 rows (reservoir sample, seed 42)". */
export function sampleText(scan: Pick<ProfilePrivacy, "rows" | "sampled" | "seed">): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return scan.sampled < scan.rows
    ? `${n(scan.sampled)} of ${n(scan.rows)} rows (reservoir sample, seed ${scan.seed})`
    : `all ${n(scan.rows)} row${scan.rows === 1 ? "" : "s"}`;
}

/** A share as "98.5 %", "100 %", "<0.1 %"; "by name" for a column whose name says it is personal. */
export function shareText(share: number, by: "values" | "name" | undefined): string {
  if (by === "name") return "by name";
  const p = share * 100;
  if (p === 100 || p === 0) return `${p} %`;
  if (p < 0.05) return "<0.1 %";
  return `${p >= 99.95 ? "99.9" : p.toFixed(1)} %`;
}

export function PersonalData({ scan }: { scan: ProfilePrivacy }) {
  const found = scan.columns.filter((c) => c.kinds.length > 0);
  const scanned = `Scanned ${sampleText(scan)} for e-mail addresses, phone and card numbers, IBANs, IP addresses, birth dates and personal column names.`;
  if (!found.length)
    return (
      <section className="personal-data" data-testid="personal-data">
        <h4>Personal data</h4>
        <p className="muted small" data-testid="personal-data-none" title={scanned}>
          None found ({sampleText(scan)}).
        </p>
      </section>
    );
  return (
    <section className="personal-data" data-testid="personal-data">
      <h4>
        Personal data{" "}
        <span className="muted small">
          · {found.length} of {scan.columns.length} columns
        </span>
      </h4>
      <table className="personal-data-table">
        <thead>
          <tr>
            <th>Column</th>
            <th>Kind</th>
            <th className="num">Share</th>
            <th>Examples (masked)</th>
          </tr>
        </thead>
        <tbody>
          {found.flatMap((c) =>
            c.kinds.map((k, i) => (
              <tr key={`${c.column}:${k.kind}`} data-testid={`personal-data-${c.column}-${k.kind}`}>
                <td className="pd-column" title={c.column}>
                  {i === 0 ? c.column : ""}
                </td>
                <td>
                  <span className={`pd-kind pd-${k.kind}`}>{KIND_LABEL[k.kind]}</span>
                </td>
                <td className="num">{shareText(k.share, k.by)}</td>
                <td className="mono pd-examples" title={k.examples.join(", ")}>
                  {k.examples.length ? k.examples.join(", ") : "—"}
                </td>
              </tr>
            )),
          )}
        </tbody>
      </table>
      <p className="muted small pd-sample">{scanned}</p>
    </section>
  );
}
