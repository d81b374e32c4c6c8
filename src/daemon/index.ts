// The daemon and its configuration: what the command line runs and the control endpoints read.
export {
  type Config,
  ConfigError,
  configOrError,
  EMBEDDED_DEFAULT,
  loadConfig,
  VARIABLES,
} from "./config.js";
export { Daemon, makeSource, type Source } from "./daemon.js";
export { createLogger, levelOfSeverity } from "./log.js";
export { LogLimit } from "./log-limit.js";
