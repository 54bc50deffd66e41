// `smart-home user add|list|remove`: manage broker users in the database.
import { createInterface } from 'node:readline';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { openStore } from '../store/db.js';
import { UserError, UserStore } from '../store/users.js';

function withUsers<T>(opts: ConfigOverrides, fn: (users: UserStore) => Promise<T> | T): Promise<T> {
  const { config } = loadConfig(opts);
  const db = openStore(config.data_dir);
  return Promise.resolve(fn(new UserStore(db))).finally(() => db.close());
}

export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      // Do not echo the password.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s) => {
        if (s.startsWith(q)) process.stderr.write(q);
      };
      rl.question(q, (a) => {
        rl.close();
        process.stderr.write('\n');
        resolve(a);
      });
    });
  const a = await ask('Password: ');
  const b = await ask('Again: ');
  if (a !== b) throw new UserError('the passwords differ', true);
  return a;
}

export async function userAdd(
  name: string,
  opts: ConfigOverrides & { passwordStdin?: boolean; admin?: boolean },
): Promise<void> {
  UserStore.checkName(name);
  const password = await readPassword(opts.passwordStdin === true);
  await withUsers(opts, (u) => u.add(name, password, opts.admin === true));
  process.stdout.write(`user "${name}" added\n`);
}

export async function userList(opts: ConfigOverrides): Promise<void> {
  const users = await withUsers(opts, (u) => u.list());
  if (users.length === 0) process.stdout.write('no users (anonymous clients are allowed on loopback-only listeners)\n');
  for (const u of users) process.stdout.write(`${u.name}${u.admin ? ' (admin)' : ''}\n`);
}

export async function userRemove(name: string, opts: ConfigOverrides): Promise<void> {
  await withUsers(opts, (u) => u.remove(name));
  process.stdout.write(`user "${name}" removed\n`);
}
