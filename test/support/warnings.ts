/**
 * Captures the process warnings and unhandled rejections raised while a test runs, for tests of code
 * that must report through warnings rather than throw.
 */

/** What was raised while `fn` ran: warnings as `Name: message`, and rejections nobody handled. */
export async function capturing(fn: (seen: { warnings: string[]; rejections: unknown[] }) => Promise<void>): Promise<void> {
  const seen = { warnings: [] as string[], rejections: [] as unknown[] };
  const onWarning = (w: Error): void => void seen.warnings.push(`${w.name}: ${w.message}`);
  const onRejection = (r: unknown): void => void seen.rejections.push(r);
  process.on('warning', onWarning);
  process.on('unhandledRejection', onRejection);
  try {
    await fn(seen);
  } finally {
    process.off('warning', onWarning);
    process.off('unhandledRejection', onRejection);
  }
}
