#!/usr/bin/env node
// Command line: parses, then calls the modules. Exit codes: 0 ok, 1 runtime failure, 2 usage/config error.
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../version.js';
import { ConfigError, parsePort } from '../config/load.js';
import { StoreError } from '../store/db.js';
import { UserError } from '../store/users.js';
import { ScriptError } from '../scripts/errors.js';
import { BrokerConfigError } from '../broker/broker.js';
import { AclError } from '../broker/acl.js';
import { serveCommand } from './serve.js';
import { userAdd, userList, userRemove } from './users.js';
import { runCommand, checkCommand } from './scripts.js';
import { actionCommand, dryRunAutomation, dryRunScript, integrationCommand } from './action.js';
import { automationsCommand } from './automations.js';
import { backupCommand, restoreCommand } from './backup.js';
import { testCommand } from './test.js';
import { BackupError } from '../backup/backup.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

const portOption = (flag: string, what: string) =>
  new Option(flag, what).argParser((v: string) => parsePort(v, flag.split(' ')[0]!));

function configOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: smart-home.yaml in the data dir or the current dir)')
    .option('-d, --data <dir>', 'data directory: database, scripts (default: ./data)')
    .addOption(new Option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent'));
}

const program = new Command()
  .name('smart-home')
  .description('Home-automation hub: embedded MQTT broker and sandboxed JavaScript/TypeScript/CoffeeScript scripts')
  .version(VERSION)
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(s) });

configOptions(program.command('serve').description('start the hub: broker, scripts, HTTP'))
  .addOption(portOption('--mqtt-port <n>', 'port of the MQTT TCP listener (default 1883)'))
  .addOption(portOption('--http-port <n>', 'port of the HTTP server (default 8080)'))
  .option(
    '--broker <url>',
    'use this external MQTT broker instead of the embedded one (mqtt://, mqtts://, ws://, wss://)',
  )
  .action(serveCommand);

configOptions(
  program
    .command('run')
    .description(
      "run one script against the hub's broker or --broker; exits when its timers and publishes are done (--watch: and its subscriptions)",
    ),
)
  .argument('<file>', 'script: .js, .ts or .coffee')
  .option('--broker <url>', "MQTT broker URL (default: the hub's broker from the config, mqtt://127.0.0.1:1883)")
  .option('--set <name=value...>', 'define a global for the script, e.g. --set actionName=on (JSON values are parsed)')
  .option('--watch', "also wait for the script's subscriptions: run until it unsubscribes, --timeout or Ctrl-C")
  .option('--timeout <duration>', 'stop after this long, e.g. 30s or 5m')
  .option(
    '--dry-run',
    'have the running hub run its copy of the script against its current state: prints what it would publish and ask for, sends nothing',
  )
  .option('--for <duration>', 'with --dry-run: also what it would do in the next 10m (the clock moved on)')
  .option('--message <topic=payload>', 'with --dry-run: this message comes in, as from a device (a replay)')
  .option('--url <url>', "with --dry-run: the hub's HTTP address (default: from the config)")
  .option('--user <name>', 'with --dry-run: authenticate as this user')
  .option('--password-stdin', 'with --dry-run: read the password from standard input')
  .action((file: string, opts: Parameters<typeof runCommand>[1] & { dryRun?: boolean }) =>
    opts.dryRun ? dryRunScript(file, opts) : runCommand(file, opts),
  );

program
  .command('check')
  .description('compile and type-check scripts; prints every error at its line')
  .argument('<files...>', 'scripts: .js, .ts or .coffee')
  .action(checkCommand);

configOptions(
  program
    .command('action')
    .description(
      'run an entity action in the running hub and wait for the device to confirm, e.g. action light.hall turn_on --param brightness=128',
    ),
)
  .argument('<entity>', 'entity id, e.g. light.living_room')
  .argument('<action>', 'action name, e.g. on')
  .option('--param <name=value...>', 'action parameter (JSON values are parsed), e.g. --param brightness=200')
  .option('--url <url>', "the hub's HTTP address (default: from the config, http://127.0.0.1:8080)")
  .option('--user <name>', 'authenticate as this user (once the hub has users)')
  .option('--password-stdin', 'read the password from standard input')
  .action(actionCommand);

configOptions(
  program
    .command('integration')
    .description(
      'run a command of an integration in the running hub, e.g. integration zigbee2mqtt permit_join --param time=120',
    ),
)
  .argument('<name>', 'integration: zigbee2mqtt')
  .argument('<command>', 'zigbee2mqtt: permit_join, rename, remove')
  .option('--param <name=value...>', 'command parameter (JSON values are parsed), e.g. --param time=120')
  .option('--url <url>', "the hub's HTTP address (default: from the config, http://127.0.0.1:8080)")
  .option('--user <name>', 'authenticate as this user (once the hub has users)')
  .option('--password-stdin', 'read the password from standard input')
  .action(integrationCommand);

configOptions(
  program
    .command('test')
    .description(
      'run the tests next to the scripts (NAME.test.js|ts|coffee), each in a simulated home: a virtual clock, fake devices, nothing sent',
    ),
)
  .argument('[files...]', 'test files (default: every test in the scripts dir)')
  .option('--at <time>', 'where the virtual clock starts, e.g. 2026-06-21T22:00:00 (default: now)')
  .action(testCommand);

configOptions(program.command('automations').description('list automations with their last run'))
  .option('--runs <id>', 'also show the recent runs of this automation, step by step')
  .option(
    '--dry-run <id>',
    'have the running hub run this automation against its current state (as its Run button): prints what it would do, sends nothing',
  )
  .option('--replay <run>', 'with --dry-run: with the trigger of this past run (its number in --runs)')
  .option('--message <topic=payload>', 'with --dry-run: this message comes in, as from a device')
  .option('--for <duration>', 'with --dry-run: also what it would do in the next 10m')
  .option('--url <url>', "with --dry-run: the hub's HTTP address (default: from the config)")
  .option('--user <name>', 'with --dry-run: authenticate as this user')
  .option('--password-stdin', 'with --dry-run: read the password from standard input')
  .action((opts: Parameters<typeof automationsCommand>[0] & { dryRun?: string; replay?: string }) =>
    opts.dryRun ? dryRunAutomation(opts.dryRun, opts) : automationsCommand(opts),
  );

configOptions(
  program
    .command('backup')
    .description(
      'write the database (online: the hub may run), scripts, config, automations and secrets into one .tar.gz',
    ),
)
  .argument('<file>', 'the archive to write, e.g. smart-home-backup.tar.gz')
  .action(backupCommand);

configOptions(
  program
    .command('restore')
    .description(
      'check a backup whole, then put it in the data dir (what was there is moved aside); the hub must be stopped',
    ),
)
  .argument('<file>', 'an archive written by smart-home backup')
  .action(restoreCommand);

const user = program.command('user').description('broker users (stored hashed in the database)');
configOptions(user.command('add').description('add a user; the password is asked for, or read from stdin'))
  .argument('<name>')
  .option('--password-stdin', 'read the password from standard input')
  .option('--admin', 'the user may administer the hub')
  .action(userAdd);
configOptions(user.command('list').description('list users')).action(userList);
configOptions(user.command('remove').description('remove a user')).argument('<name>').action(userRemove);

/** Maps an error to its exit code and prints it for the user. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (
    err instanceof ConfigError ||
    err instanceof BrokerConfigError ||
    err instanceof AclError ||
    err instanceof UserError
  ) {
    process.stderr.write(`smart-home: ${err.message}\n`);
    return err instanceof UserError && !err.badInput ? EXIT_RUNTIME : EXIT_USAGE;
  }
  if (err instanceof ScriptError) {
    process.stderr.write(`${err.report}\n`);
    return EXIT_RUNTIME;
  }
  if (err instanceof BackupError) {
    process.stderr.write(`smart-home: ${err.message}\n`);
    return EXIT_RUNTIME;
  }
  if (err instanceof StoreError) {
    process.stderr.write(`smart-home: ${err.message}\n`);
    return EXIT_RUNTIME;
  }
  process.stderr.write(`smart-home: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT_RUNTIME;
}

// `smart-home automations --runs X | head`: a closed pipe ends the output, not with a stack trace
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    else throw err;
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
