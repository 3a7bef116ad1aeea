import type { Fragment } from "../document/ops";

/**
 * The editor's clipboard: what Copy took, and how many times it was pasted
 * (each paste lands a little further along). In memory: pasting between
 * windows is not needed, and reading the system clipboard asks for permission.
 */
export const clipboard: { fragment: Fragment | null; pastes: number } = { fragment: null, pastes: 0 };
