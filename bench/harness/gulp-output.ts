// Figures the gulp processes print, for the notes that say where a case's time goes.

/** "537 ms" / "1.08 s" / "2.5 min" (gulp's pretty-hrtime) → ms. */
export function toMs(text: string): number {
  const value = Number.parseFloat(text);
  if (/\smin$/.test(text)) return value * 60_000;
  if (/\ss$/.test(text)) return value * 1_000;
  if (/\sμs$/.test(text)) return value / 1_000;
  return value;
}

/** The duration of gulp's last "Finished 'TASK' after …" line (the outermost task, when inner ones share its name). */
export function finishedMs(output: string, task: string): number | undefined {
  const escaped = task.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const matches = [...output.matchAll(new RegExp(`Finished '${escaped}' after ([\\d.]+ (?:ms|s|min|μs))`, 'g'))];
  const last = matches.at(-1)?.[1];
  return last === undefined ? undefined : toMs(last);
}
