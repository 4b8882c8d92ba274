import type { Command } from 'commander';
import type {
  ApiToken,
  AuditEntry,
  AuditQuery,
  Project,
  ProjectQuotasPatch,
  RoleName,
  User,
} from '@novacron/api';
import { parseSizeGiB, parseSizeMiB } from '@novacron/domain';
import { formatOf, type CliClient, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerArg, withOutput } from '../options.js';
import { renderList, renderOne, type Column } from '../output.js';

// Users, projects, API tokens and the audit log (docs/adr/0016-security-model.md).

const ROLES = ['viewer', 'operator', 'admin'];

function roleOf(value: string): RoleName {
  if (!ROLES.includes(value)) {
    throw new CliError('VALIDATION_FAILED', `role must be one of ${ROLES.join(', ')}`);
  }
  return value as RoleName;
}

const userColumns: readonly Column<User>[] = [
  { header: 'USERNAME', value: (user) => user.username },
  {
    header: 'ROLES',
    value: (user) =>
      user.clusterAdmin
        ? 'cluster admin'
        : user.bindings.map((b) => `${b.role}@${b.project}`).join(', ') || '-',
  },
  { header: 'CREATED', value: (user) => user.createdAt },
];

const limit = (value: number | null) => (value === null ? '-' : String(value));

const projectColumns: readonly Column<Project>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'VMS', value: (p) => `${p.usage.vms}/${limit(p.quotas.maxVms)}` },
  { header: 'VCPUS', value: (p) => `${p.usage.vcpus}/${limit(p.quotas.maxVcpus)}` },
  { header: 'MEMORY MIB', value: (p) => `${p.usage.memoryMiB}/${limit(p.quotas.maxMemoryMiB)}` },
  { header: 'DISK GIB', value: (p) => `${p.usage.diskGiB}/${limit(p.quotas.maxDiskGiB)}` },
];

const projectFields = (p: Project): [string, string | number | null][] => [
  ['name', p.name],
  ['id', p.id],
  ['vms', `${p.usage.vms} of ${limit(p.quotas.maxVms)}`],
  ['vcpus', `${p.usage.vcpus} of ${limit(p.quotas.maxVcpus)}`],
  ['memory MiB', `${p.usage.memoryMiB} of ${limit(p.quotas.maxMemoryMiB)}`],
  ['disk GiB', `${p.usage.diskGiB} of ${limit(p.quotas.maxDiskGiB)}`],
  ['created', p.createdAt],
];

const tokenColumns: readonly Column<ApiToken>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'NAME', value: (t) => t.name },
  { header: 'USER', value: (t) => t.username },
  { header: 'PROJECT', value: (t) => t.project },
  { header: 'ROLE', value: (t) => t.role },
  { header: 'EXPIRES', value: (t) => t.expiresAt },
  { header: 'REVOKED', value: (t) => t.revokedAt ?? '-' },
  { header: 'LAST USED', value: (t) => t.lastUsedAt ?? '-' },
];

const auditColumns: readonly Column<AuditEntry>[] = [
  { header: 'TIME', value: (e) => e.time },
  { header: 'USER', value: (e) => e.actor ?? '-' },
  { header: 'ACTION', value: (e) => e.action },
  {
    header: 'TARGET',
    value: (e) =>
      e.target === null ? '-' : `${e.target.type} ${e.target.name ?? e.target.id ?? ''}`,
  },
  { header: 'PROJECT', value: (e) => e.project ?? '-' },
  { header: 'FROM', value: (e) => e.sourceAddress },
  { header: 'RESULT', value: (e) => e.result },
];

interface QuotaOptions {
  maxVcpus?: number;
  maxMemory?: string;
  maxDisk?: string;
  maxVms?: number;
}

/** `--max-memory 8GiB`; `none` lifts a quota. */
function quotasOf(options: QuotaOptions): ProjectQuotasPatch {
  const size = (value: string, parse: (text: string) => number) =>
    value === 'none' ? null : parse(value);
  return {
    ...(options.maxVcpus === undefined ? {} : { maxVcpus: options.maxVcpus }),
    ...(options.maxMemory === undefined
      ? {}
      : { maxMemoryMiB: size(options.maxMemory, parseSizeMiB) }),
    ...(options.maxDisk === undefined ? {} : { maxDiskGiB: size(options.maxDisk, parseSizeGiB) }),
    ...(options.maxVms === undefined ? {} : { maxVms: options.maxVms }),
  };
}

function withQuotaOptions(command: Command): Command {
  return command
    .option('--max-vcpus <n>', 'most vCPUs its VMs may hold together', integerArg(0))
    .option('--max-memory <size>', 'most memory, e.g. 8GiB (none: no limit)')
    .option('--max-disk <size>', 'most disk, e.g. 100GiB (none: no limit)')
    .option('--max-vms <n>', 'most VMs', integerArg(0));
}

type SecurityClient = Required<Pick<CliClient, 'users' | 'projects' | 'tokens' | 'audit'>>;

/** The client, with the security resources every real client has. */
async function clientOf(ctx: CliContext): Promise<SecurityClient> {
  const client = await ctx.client();
  const { users, projects, tokens, audit } = client;
  if (
    users === undefined ||
    projects === undefined ||
    tokens === undefined ||
    audit === undefined
  ) {
    throw new CliError('INTERNAL', 'this client cannot manage users, projects or tokens');
  }
  return { users, projects, tokens, audit };
}

export function registerSecurityCommands(program: Command, ctx: CliContext): void {
  const user = program.command('user').description('users and their roles (cluster admin)');

  withOutput(
    user
      .command('create')
      .description('create a user with a role in a project (default: viewer in default)')
      .argument('<username>', 'the new user')
      .option('--role <role>', 'viewer, operator or admin', 'viewer')
      .option('--project <name>', 'the project the role is in (default: default)')
      .option('--cluster-admin', 'admin of the cluster and every project instead')
      .option('--password-stdin', 'read the password from standard input'),
  ).action(
    async (
      username: string,
      options: { role: string; project?: string; clusterAdmin?: boolean; passwordStdin?: boolean },
      command: Command,
    ) => {
      const password = await ctx.deps.readPassword({
        prompt: `Password for the new user ${username}: `,
        fromStdin: options.passwordStdin === true,
      });
      const client = await clientOf(ctx);
      const created = await client.users.create({
        username,
        password,
        ...(options.clusterAdmin === true
          ? { clusterAdmin: true }
          : {
              role: roleOf(options.role),
              ...(options.project === undefined ? {} : { project: options.project }),
            }),
      });
      ctx.print(renderList(formatOf(command) ?? 'table', [created], userColumns));
    },
  );

  withOutput(user.command('list').description('list users and their roles')).action(
    async (_options: unknown, command: Command) => {
      const client = await clientOf(ctx);
      ctx.print(
        renderList(formatOf(command) ?? 'table', (await client.users.list()).items, userColumns),
      );
    },
  );

  user
    .command('delete')
    .description('delete a user, its sessions and its API tokens')
    .argument('<username>', 'the user')
    .action(async (username: string) => {
      const client = await clientOf(ctx);
      await client.users.delete(username);
      ctx.print(`user ${username} deleted`);
    });

  user
    .command('passwd')
    .description("set a user's password")
    .argument('<username>', 'the user')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, options: { passwordStdin?: boolean }) => {
      const password = await ctx.deps.readPassword({
        prompt: `New password for ${username}: `,
        fromStdin: options.passwordStdin === true,
      });
      const client = await clientOf(ctx);
      await client.users.setPassword(username, password);
      ctx.print(`password of ${username} changed`);
    });

  withOutput(
    user
      .command('grant')
      .description('give a user a role in a project, or change it')
      .argument('<username>', 'the user')
      .requiredOption('--role <role>', 'viewer, operator or admin')
      .option('--project <name>', 'the project the role is in', 'default'),
  ).action(
    async (username: string, options: { role: string; project: string }, command: Command) => {
      const role = roleOf(options.role);
      const client = await clientOf(ctx);
      const updated = await client.users.setRole(username, options.project, role);
      ctx.print(renderList(formatOf(command) ?? 'table', [updated], userColumns));
    },
  );

  withOutput(
    user
      .command('revoke')
      .description("take a user's role in a project away; its API tokens there stop working")
      .argument('<username>', 'the user')
      .option('--project <name>', 'the project the role is in', 'default'),
  ).action(async (username: string, options: { project: string }, command: Command) => {
    const client = await clientOf(ctx);
    const updated = await client.users.removeRole(username, options.project);
    ctx.print(renderList(formatOf(command) ?? 'table', [updated], userColumns));
  });

  const project = program.command('project').description('projects and their quotas');

  withOutput(
    withQuotaOptions(
      project.command('create').description('create a project (cluster admin)').argument('<name>'),
    ),
  ).action(async (name: string, options: QuotaOptions, command: Command) => {
    const client = await clientOf(ctx);
    const created = await client.projects.create({ name, ...quotasOf(options) });
    ctx.print(renderOne(formatOf(command) ?? 'table', created, projectFields));
  });

  withOutput(
    withQuotaOptions(
      project
        .command('set')
        .description('change the quotas of a project (cluster admin)')
        .argument('<name>'),
    ),
  ).action(async (name: string, options: QuotaOptions, command: Command) => {
    const quotas = quotasOf(options);
    if (Object.keys(quotas).length === 0) {
      throw new CliError(
        'VALIDATION_FAILED',
        'give at least one of --max-vcpus, --max-memory, --max-disk, --max-vms',
      );
    }
    const client = await clientOf(ctx);
    ctx.print(
      renderOne(
        formatOf(command) ?? 'table',
        await client.projects.setQuotas(name, quotas),
        projectFields,
      ),
    );
  });

  withOutput(project.command('list').description('list the projects you have a role in')).action(
    async (_options: unknown, command: Command) => {
      const client = await clientOf(ctx);
      ctx.print(
        renderList(
          formatOf(command) ?? 'table',
          (await client.projects.list()).items,
          projectColumns,
        ),
      );
    },
  );

  withOutput(
    project.command('get').description('show a project, its quotas and usage').argument('<name>'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await clientOf(ctx);
    ctx.print(
      renderOne(formatOf(command) ?? 'table', await client.projects.get(name), projectFields),
    );
  });

  project
    .command('delete')
    .description('delete an empty project (cluster admin)')
    .argument('<name>')
    .action(async (name: string) => {
      const client = await clientOf(ctx);
      await client.projects.delete(name);
      ctx.print(`project ${name} deleted`);
    });

  const token = program.command('token').description('API tokens for automation');

  withOutput(
    token
      .command('create')
      .description('create an API token acting as you in one project; its secret is shown once')
      .argument('<name>', 'what the token is for, e.g. ci')
      .option('--project <name>', 'the project it acts in (default: default)')
      .option('--role <role>', 'viewer, operator or admin (at most your own)', 'viewer')
      .option('--expires-in-days <days>', 'lifetime in days (default 90)', integerArg(1, 3650)),
  ).action(
    async (
      name: string,
      options: { project?: string; role: string; expiresInDays?: number },
      command: Command,
    ) => {
      const client = await clientOf(ctx);
      const created = await client.tokens.create({
        name,
        role: roleOf(options.role),
        ...(options.project === undefined ? {} : { project: options.project }),
        ...(options.expiresInDays === undefined ? {} : { expiresInDays: options.expiresInDays }),
      });
      const format = formatOf(command);
      ctx.print(
        format === undefined || format === 'table'
          ? [
              `token ${created.id} (${created.name}): ${created.role} in project ${created.project}, until ${created.expiresAt}`,
              'shown only once; use it as NOVACRON_TOKEN or Authorization: Bearer:',
              `  ${created.token}`,
            ].join('\n')
          : renderOne(format, created, () => []),
      );
    },
  );

  withOutput(
    token.command('list').description('list your API tokens (all, for the cluster admin)'),
  ).action(async (_options: unknown, command: Command) => {
    const client = await clientOf(ctx);
    ctx.print(
      renderList(formatOf(command) ?? 'table', (await client.tokens.list()).items, tokenColumns),
    );
  });

  token
    .command('revoke')
    .description('revoke an API token: it stops working at once')
    .argument('<id>', 'the token id (see token list)')
    .action(async (id: string) => {
      const client = await clientOf(ctx);
      const revoked = await client.tokens.revoke(id);
      ctx.print(`token ${revoked.id} (${revoked.name}) revoked`);
    });

  const audit = program.command('audit').description('the audit log (cluster admin)');
  withOutput(
    audit
      .command('list')
      .description('list audit entries, newest first')
      .option('--user <username>', 'only what this user did')
      .option('--action <action>', 'only this action, e.g. vm.create or auth.login')
      .option('--since <time>', 'only entries at or after this ISO time')
      .option('--until <time>', 'only entries before this ISO time')
      .option('--limit <n>', 'at most this many entries', integerArg(1), 100),
  ).action(
    async (
      options: { user?: string; action?: string; since?: string; until?: string; limit: number },
      command: Command,
    ) => {
      const client = await clientOf(ctx);
      const query: AuditQuery = {
        ...(options.user === undefined ? {} : { user: options.user }),
        ...(options.action === undefined ? {} : { action: options.action }),
        ...(options.since === undefined ? {} : { since: options.since }),
        ...(options.until === undefined ? {} : { until: options.until }),
      };
      const entries: AuditEntry[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.audit.list({
          ...query,
          limit: Math.min(1000, options.limit - entries.length),
          ...(cursor === undefined ? {} : { cursor }),
        });
        entries.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined && entries.length < options.limit);
      ctx.print(renderList(formatOf(command) ?? 'table', entries, auditColumns));
    },
  );
}
