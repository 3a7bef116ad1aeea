/**
 * Names of the columns scoring adds to a table (`prediction`, `label`,
 * `probability_<class>`), one rule for the predict block and `dagwood predict`:
 * a name the input already has, in any case, gets the first free `_1`, `_2`…
 */

/** `name`, or `name_1`, `name_2`… when `taken` (lower-cased names) has it; the name returned is added to `taken`. */
export function freeName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let i = 1; taken.has(candidate.toLowerCase()); i++) candidate = `${name}_${i}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}
