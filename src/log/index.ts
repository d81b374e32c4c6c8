// Logging: the catalog of log events.
export { EVENTS, type EventName, logEvent } from "./events.js";
