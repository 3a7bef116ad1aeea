import { describe, expect, it } from "vitest";
import { maskRows, maskValue } from "./mask";

describe("maskValue", () => {
  it.each([
    ["jane@example.com", "email", "j***@e***.com"],
    ["4242424242424242", "card", "**** **** **** 4242"],
    ["4242-4242-4242-4242", "card", "**** **** **** 4242"],
    ["+44 20 7946 0958", "phone", "+** ** **** **58"],
    ["(555) 123-4567", "phone", "(***) ***-**67"],
    ["DE89 3704 0044 0532 0130 00", "iban", "DE** **** 3000"],
    ["192.168.1.20", "ipv4", "192.168.*.*"],
    ["2001:db8::1", "ipv6", "2001:*:*:*:*:*:*:*"],
    ["::ffff:192.0.2.1", "ipv6", "::*"],
    ["1984-03-07", "birthdate", "1984-**-**"],
    ["07.03.1984", "birthdate", "1984-**-**"],
    ["Jane", "personal_name", "J***"],
    ["J", "personal_name", "*"],
  ] as const)("%s as %s → %s", (value, kind, masked) => {
    expect(maskValue(value, kind)).toBe(masked);
  });

  it("masks non-text values by kind: integer cards and phones, Date birth dates", () => {
    expect(maskValue(4242424242424242n, "card")).toBe("**** **** **** 4242");
    expect(maskValue(15551234567, "phone")).toBe("*********67");
    expect(maskValue(new Date("1984-03-07T00:00:00Z"), "birthdate")).toBe("1984-**-**");
    expect(maskValue(4242.5, "card")).toBeNull();
  });

  it("without a kind shows nothing of the value: text is ***, numbers, dates and booleans null", () => {
    expect(maskValue("jane@example.com")).toBe("***");
    expect(maskValue("4242 4242 4242 4242")).toBe("***");
    expect(maskValue("😀 smile")).toBe("***");
    expect(maskValue("x")).toBe("***");
    expect(maskValue("")).toBe("");
    expect(maskValue(123)).toBeNull();
    expect(maskValue(123n)).toBeNull();
    expect(maskValue(new Date())).toBeNull();
    // A sensitive column's categories and flags are the secret itself: a first letter (female → f***)
    // or a boolean (hiv_positive) would show it.
    expect(new Set(["female", "male", "other"].map((v) => maskValue(v)))).toEqual(new Set(["***"]));
    expect(maskValue(true)).toBeNull();
    expect(maskValue(false)).toBeNull();
    expect(maskValue(null)).toBeNull();
    expect(maskValue(undefined)).toBeUndefined();
  });

  it("a value without its kind's shape gets the kind-less form, never the clear value", () => {
    expect(maskValue("not-an-email", "email")).toBe("***");
    expect(maskValue("12", "card")).toBe("***");
    expect(maskValue("nothing", "ipv4")).toBe("***");
    expect(maskValue("unknown", "birthdate")).toBe("***");
    expect(maskValue({ a: 1 }, "email")).toBeNull();
  });
});

describe("maskRows", () => {
  it("masks the named columns of a copy and leaves the others", () => {
    const rows = [{ email: "jane@example.com", card: "4242424242424242", n: 1 }];
    const out = maskRows(
      rows,
      new Map([
        ["email", "email" as const],
        ["card", undefined],
      ]),
    );
    expect(out).toEqual([{ email: "j***@e***.com", card: "***", n: 1 }]);
    expect(rows[0]!.email).toBe("jane@example.com");
    expect(maskRows(rows, new Set(["n"]))).toEqual([{ ...rows[0], n: null }]);
    expect(maskRows(rows, new Set())).toEqual(rows);
  });
});
