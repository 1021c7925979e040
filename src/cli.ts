/**
 * Command-line wiring only: parse arguments, call a command, map errors to exit codes.
 * The only place that sets the process's exit code.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
// Each command's module is imported when that command runs: resolve and inspect pull in
// the AWS SDK and pg, which would otherwise double the start-up time of every compile.
import { InternalError, PlanError, UsageError } from './plan/findings.js';
import { compilerVersion } from './paths.js';
import { colourEnabled, styleText } from './terminal-style.js';

/** A stream's writer: plain text, or its terminal form when colour is on for that stream (terminal-style.ts). */
function writerFor(stream: NodeJS.WriteStream): (text: string) => void {
  const colour = colourEnabled({ isTTY: stream.isTTY, env: process.env });
  return colour ? (text) => stream.write(styleText(text)) : (text) => stream.write(text);
}

const io = {
  readFile: (file: string) => readFileSync(file, 'utf8'),
  stdout: writerFor(process.stdout),
  stderr: writerFor(process.stderr),
};

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('pitr')
    .description('Compile PostgreSQL point-in-time-recovery plans into reviewed bash scripts')
    .version(compilerVersion())
    .exitOverride()
    .showHelpAfterError();

  program
    .command('validate')
    .description('check plans against the schema and the rules; exit 0 valid, 1 findings, 2 usage/internal')
    .argument('<plan...>', 'plan files (YAML)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (plans: string[], options: { format: string }) => {
      if (options.format !== 'text' && options.format !== 'json') throw new UsageError(`--format must be text or json, not ${options.format}`);
      const { runValidate } = await import('./commands/validate.js');
      setExit(await runValidate(plans, { format: options.format }, io));
    });

  program
    .command('compile')
    .description('write DIR/<name>/ for each plan (run.sh, drill.sh, rollback.sh, phases, RUNBOOK.md, ...)')
    .argument('<plan...>', 'plan files (YAML)')
    .option('--out <dir>', 'output directory', 'out')
    .option('--check', 'write nothing; exit 1 naming each file that differs from a fresh compile', false)
    .option('--no-shellcheck', 'skip the shellcheck gate (for a machine without shellcheck)')
    .action(async (plans: string[], options: { out: string; check: boolean; shellcheck: boolean }) => {
      const { runCompile } = await import('./commands/compile.js');
      setExit(runCompile(plans, options, io));
    });
  program
    .command('bundle')
    .description('the compiled scripts of PLAN as DIR/<name>.tar.gz plus its sha256, for an air-gapped host')
    .argument('<plan>', 'plan file (YAML)')
    .option('--out <dir>', 'output directory', 'bundles')
    .option('--no-shellcheck', 'skip the shellcheck gate (for a machine without shellcheck)')
    .action(async (plan: string, options: { out: string; shellcheck: boolean }) => {
      const { runBundle } = await import('./commands/bundle.js');
      setExit(runBundle(plan, options, io));
    });
  program
    .command('resolve')
    .description("pin the base backup and WAL range from PLAN's archive into PLAN's .lock.json beside it; exit 0 written, 1 the archive cannot serve the plan, 2 unreadable")
    .argument('<plan>', 'plan file (YAML)')
    .action(async (plan: string) => {
      const { runResolve } = await import('./commands/resolve.js');
      setExit(await runResolve(plan, io));
    });
  program
    .command('inspect')
    .description('check PLAN against the live server (version, data_directory, archiving, verify tables); exit 0 ok, 1 a check failed, 2 cannot connect')
    .argument('<plan>', 'plan file (YAML)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (plan: string, options: { format: string }) => {
      if (options.format !== 'text' && options.format !== 'json') throw new UsageError(`--format must be text or json, not ${options.format}`);
      const { runInspect } = await import('./commands/inspect.js');
      setExit(await runInspect(plan, { format: options.format }, io));
    });
  return program;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => { code = c; });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      io.stderr(`pitr: ${error.message}\n`);
      return 2;
    }
    if (error instanceof PlanError) {
      io.stderr(`${error.message}\n`);
      return 1;
    }
    if (error instanceof InternalError) {
      io.stderr(`pitr: ${error.message}\n`);
      return 2;
    }
    io.stderr(`pitr: internal error: ${(error as Error).stack ?? String(error)}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv);
