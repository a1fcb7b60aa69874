// `--profile`: the gulp processes of the cases run with V8's CPU profiler (NODE_OPTIONS=--cpu-prof); this sums the
// profiles' self time per function and per package, to say where the time goes.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './processes';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  profiles: number;
  /** Total sampled time per profile, averaged (ms). */
  averageMs: number;
  /** Self time per function ("name (file:line)") and per package / repository file, averaged per profile (ms). */
  functions: [string, number][];
  packages: [string, number][];
}

/** Reads every .cpuprofile in `dir` (one per process) and averages their self times. */
export function summarizeProfiles(dir: string, top = 12): ProfileSummary | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  if (files.length === 0) return undefined;
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    profile.samples.forEach((id, index) => {
      const ms = (profile.timeDeltas[index] ?? 0) / 1_000;
      const frame = byId.get(id);
      if (!frame) return;
      total += ms;
      const where = shortUrl(frame.url);
      const name = `${frame.functionName || '(anonymous)'}${where ? ` (${where}:${frame.lineNumber + 1})` : ''}`;
      functions.set(name, (functions.get(name) ?? 0) + ms);
      const group = packageOf(frame.url, frame.functionName);
      packages.set(group, (packages.get(group) ?? 0) + ms);
    });
  }
  const average = (entries: Map<string, number>) =>
    [...entries.entries()]
      .map(([key, ms]): [string, number] => [key, ms / files.length])
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
  return { profiles: files.length, averageMs: total / files.length, functions: average(functions), packages: average(packages) };
}

export function formatProfile(summary: ProfileSummary): string[] {
  const line = ([name, ms]: [string, number]) => `      ${Math.round(ms).toString().padStart(6)} ms  ${name}`;
  return [
    `   profile: ${summary.profiles} process(es), ${Math.round(summary.averageMs)} ms sampled on average; self time by package:`,
    ...summary.packages.map(line),
    '    by function:',
    ...summary.functions.map(line),
  ];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) return file.slice(modules + '/node_modules/'.length);
  return file.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, file) : file;
}

/** node_modules/<package>, a repository folder (tasks/lint), node's internals, or V8's pseudo-frames ((garbage collector)). */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const file = url.replace(/^file:\/\//, '');
  const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file.slice(file.lastIndexOf('/node_modules/')));
  if (match) return match[1]!;
  if (file.startsWith('node:')) return 'node (internals)';
  if (file.startsWith(REPO_ROOT)) return path.dirname(path.relative(REPO_ROOT, file)) || '.';
  return file;
}
