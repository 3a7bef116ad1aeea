import { useEffect, useState } from "react";
import { messageOf } from "../../services/errors";

export type Answer<T> =
  | { status: "idle" }
  | { status: "loading" }
  | { status: "ok"; value: T }
  | { status: "error"; message: string };

/**
 * Asks the Api whenever `key` changes (null: nothing to ask) and keeps the latest answer; an older
 * answer arriving late is dropped. A failure is shown where the answer would be, in the core's
 * words (a wrong password, a missing table), not as a toast: it is part of what the form says.
 */
export function useAnswer<T>(key: string | null, ask: () => Promise<T>): Answer<T> {
  const [answer, setAnswer] = useState<Answer<T>>({ status: "idle" });
  // biome-ignore lint/correctness/useExhaustiveDependencies: `ask` is a new closure each render; `key` names what it depends on
  useEffect(() => {
    if (key === null) {
      setAnswer({ status: "idle" });
      return;
    }
    let live = true;
    setAnswer({ status: "loading" });
    ask().then(
      (value) => live && setAnswer({ status: "ok", value }),
      (e) => live && setAnswer({ status: "error", message: messageOf(e) }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return answer;
}
