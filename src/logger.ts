/**
 * The logger interface: pino's (and bunyan's) `level(obj, msg)` shape, so a pino logger can be
 * passed as it is. Silent by default. The library logs structured fields only: keys, counts,
 * request ids and outcomes, never state values or credentials.
 */

export interface Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});
