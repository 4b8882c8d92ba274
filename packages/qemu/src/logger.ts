/** The slice of a pino logger this package uses; pino's `Logger` satisfies it. */
export interface QemuLogger {
  debug(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export const silentLogger: QemuLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};
