/** The privacy vocabulary lives with the other shared value types (app/values/privacy.ts). */
export * from "../values/privacy";
