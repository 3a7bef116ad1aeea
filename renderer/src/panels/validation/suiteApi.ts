/**
 * The Api's expectation-suite methods as the app uses them (listSuites,
 * loadSuite, saveSuite, suggestSuite, listExpectationTypes; handlers in
 * app/api/handlers/expectations.ts), and their result shapes under the
 * names the app's views use.
 */
import type { ExpectationInfo, LoadedSuite, SuiteProblem, SuiteSummary } from "../../../../app/api/api";
import { api } from "../../api/client";

export type { LoadedSuite, SuiteProblem };
export type SuiteListing = SuiteSummary;
export type ExpectationTypeInfo = ExpectationInfo;

export const suiteApi = api;
