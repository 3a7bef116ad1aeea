/**
 * The port-type table, for the editor: it lives with the value types
 * (app/values), which the engine and the renderer both import.
 */
export { PORT_TYPES, type PortType, portsCompatible } from "../values/port-types";
