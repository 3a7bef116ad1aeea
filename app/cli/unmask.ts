/**
 * `--unmasked` on the export commands: personal columns in clear only when
 * the user confirms — "Export personal data in clear? [y/N]" on a terminal,
 * `--yes` otherwise. The export itself records the audit entry.
 */
import { createInterface } from "node:readline/promises";
import { EXIT, type Io } from "./args";

/** The options every export command takes for it. */
export const UNMASK_OPTIONS = {
  unmasked: { type: "boolean" },
  yes: { type: "boolean" },
} as const;

export const UNMASK_HELP =
  "--unmasked: personal columns (tagged pii or sensitive) in clear instead of masked; asks to confirm on a terminal, --yes confirms otherwise. Recorded in the audit log (privacy.unmasked).";

type Stdin = NodeJS.ReadableStream & { isTTY?: boolean };

/**
 * null to go on (no --unmasked, or it is confirmed), else the exit code to
 * stop with: 2 off a terminal without --yes (after saying how to confirm),
 * 1 when the user answers no.
 */
export async function confirmUnmasked(
  io: Io,
  values: { unmasked?: boolean | undefined; yes?: boolean | undefined },
  stdin: Stdin = process.stdin,
): Promise<number | null> {
  if (!values.unmasked || values.yes) return null;
  if (!stdin.isTTY || !io.stderr.isTTY) {
    io.stderr.write(
      "--unmasked exports personal data in clear and needs confirmation: add --yes to confirm (the export is recorded in the audit log).\n",
    );
    return EXIT.invalid;
  }
  const rl = createInterface({ input: stdin, output: io.stderr });
  try {
    const answer = await rl.question(
      "Export personal data in clear? It is recorded in the audit log. [y/N] ",
    );
    if (/^y(es)?$/i.test(answer.trim())) return null;
    io.stderr.write("Not exported.\n");
    return EXIT.failed;
  } finally {
    rl.close();
  }
}
