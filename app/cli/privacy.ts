/**
 * `dagwood privacy <command>`: personal data found, kept out, erased (issue 19).
 * Each command is one entry of PRIVACY_COMMANDS: its help (usage lines
 * starting "  dagwood privacy <name>", notes indented under them) and its code,
 * in its own module loaded only when it runs (so `dagwood` starts without it).
 * Adding a command is adding an entry.
 */
import { type Io, runSubcommand, type Subcommands } from "./args";

type Command = (args: string[], io: Io) => Promise<number>;

const PRIVACY_COMMANDS: { name: string; help: string; load: () => Promise<Command> }[] = [
  {
    name: "scan",
    help: `  dagwood privacy scan <file or table> [--project DIR] [--json] [--sample N] [--seed S]
    per column, the personal data found (email, phone, card, iban, ipv4, ipv6, birthdate, personal_name), the share
    of values that match and masked examples, over a reservoir sample (dagwood.json privacy.scanSample, 10,000 rows)
`,
    load: async () => (await import("./privacy-scan")).privacyScanCommand,
  },
  {
    name: "policy",
    help: `  dagwood privacy policy [<model>] [--tagged hash|drop|clear] [--retention-days N|off] [--json]\n    show or set (in dagwood.json, audited) what the inference log keeps of tagged inputs, and for how long\n`,
    load: async () => (await import("./privacy-log")).privacyPolicyCommand,
  },
  {
    name: "retention",
    help: `  dagwood privacy retention [--model M] [--dry-run] [--json]\n    delete the local inference log's entries older than each model's retention now, and print what went\n`,
    load: async () => (await import("./privacy-log")).privacyRetentionCommand,
  },
  {
    name: "erase",
    help: `  dagwood privacy erase --column C --value V [--dry-run] [--json] | --resume
    remove a subject's rows from the inference log, the feature store, held-out rows and cached node outputs
    (audited; lists the model versions trained on them); an interrupted erase is completed by running it again
`,
    load: async () => (await import("./privacy-erase")).privacyEraseCommand,
  },
];

export const PRIVACY_HELP = `Privacy (personal data: found, masked, hashed in the inference log, erased):
${PRIVACY_COMMANDS.map((c) => c.help).join("")}`;

export function privacyCommand(args: string[], io: Io): Promise<number> {
  const table: Subcommands = Object.fromEntries(
    PRIVACY_COMMANDS.map((c): [string, Command] => [c.name, async (rest, io) => (await c.load())(rest, io)]),
  );
  return runSubcommand("privacy", table, args, io);
}
