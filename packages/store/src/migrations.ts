import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * The one migration set, in code so that it ships inside the bundle. Column types are chosen to
 * mean the same on both dialects; the only difference is how `events.seq` is generated.
 * Never edit a migration that has shipped: add the next one.
 */
export function migrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('projects')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) =>
            c.notNull().references('users.id').onDelete('cascade'),
          )
          .addColumn('refresh_token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_user_id').on('sessions').column('user_id').execute();

        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('hosts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('agent_url', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('cpus', 'integer', (c) => c.notNull())
          .addColumn('memory_mib', 'integer', (c) => c.notNull())
          .addColumn('accelerator', 'text')
          .addColumn('accelerator_reason', 'text', (c) => c.notNull())
          .addColumn('qemu_version', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('last_heartbeat_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('images')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('builtin', 'integer', (c) => c.notNull())
          // Images are bigger than 2 GiB: a 32-bit integer would overflow on PostgreSQL.
          .addColumn('size_bytes', 'bigint', (c) => c.notNull())
          .addColumn('default_kernel_args', 'text', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('images_project_name', ['project_id', 'name'])
          .execute();

        await db.schema
          .createTable('vms')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('desired_state', 'text', (c) => c.notNull())
          .addColumn('host_id', 'text', (c) => c.references('hosts.id'))
          .addColumn('image_id', 'text', (c) => c.notNull().references('images.id'))
          .addColumn('cpus', 'integer', (c) => c.notNull())
          .addColumn('memory_mib', 'integer', (c) => c.notNull())
          .addColumn('disk_gib', 'integer', (c) => c.notNull())
          .addColumn('kernel_args', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('state_reason', 'text')
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('vms_project_name', ['project_id', 'name'])
          .execute();
        // The list order (keyset pagination) and its most common filters.
        await db.schema
          .createIndex('vms_created')
          .on('vms')
          .columns(['created_at', 'id'])
          .execute();
        await db.schema.createIndex('vms_host_id').on('vms').column('host_id').execute();
        await db.schema.createIndex('vms_image_id').on('vms').column('image_id').execute();

        await db.schema
          .createTable('operations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('phase', 'text', (c) => c.notNull())
          .addColumn('progress', 'double precision', (c) => c.notNull())
          .addColumn('target_type', 'text', (c) => c.notNull())
          .addColumn('target_id', 'text', (c) => c.notNull())
          .addColumn('target_name', 'text', (c) => c.notNull())
          // Nullable: operations on hosts (drains) belong to no project.
          .addColumn('project_id', 'text', (c) => c.references('projects.id'))
          .addColumn('result', 'text')
          .addColumn('error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('operations_status')
          .on('operations')
          .columns(['status', 'created_at'])
          .execute();

        await db.schema
          .createTable('events')
          .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
            dialect === 'postgres'
              ? c.primaryKey().generatedAlwaysAsIdentity()
              : // AUTOINCREMENT: a seq is never reused, even after the newest rows are deleted.
                c.primaryKey().autoIncrement(),
          )
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('time', 'text', (c) => c.notNull())
          .addColumn('project', 'text')
          .addColumn('subject_kind', 'text', (c) => c.notNull())
          .addColumn('subject_id', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        for (const table of [
          'events',
          'operations',
          'vms',
          'images',
          'hosts',
          'settings',
          'sessions',
          'users',
          'projects',
        ]) {
          await db.schema.dropTable(table).execute();
        }
      },
    },

    // Host enable/cordon flags; per-VM restart policy, restart count and description.
    '0002_resources': {
      async up(db: Kysely<unknown>): Promise<void> {
        // One column per statement: SQLite's ALTER TABLE adds only one at a time.
        const columns: [
          string,
          string,
          'integer' | 'text',
          (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder,
        ][] = [
          ['hosts', 'enabled', 'integer', (c) => c.notNull().defaultTo(1)],
          ['hosts', 'cordoned', 'integer', (c) => c.notNull().defaultTo(0)],
          ['vms', 'description', 'text', (c) => c.notNull().defaultTo('')],
          ['vms', 'restart_policy', 'text', (c) => c.notNull().defaultTo('never')],
          ['vms', 'restarts', 'integer', (c) => c.notNull().defaultTo(0)],
          ['vms', 'last_restart_at', 'text', (c) => c],
        ];
        for (const [table, column, type, build] of columns) {
          await db.schema.alterTable(table).addColumn(column, type, build).execute();
        }
        // The operation list (newest first) and its filter by target.
        await db.schema
          .createIndex('operations_created')
          .on('operations')
          .columns(['created_at', 'id'])
          .execute();
        await db.schema
          .createIndex('operations_target_id')
          .on('operations')
          .column('target_id')
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropIndex('operations_target_id').execute();
        await db.schema.dropIndex('operations_created').execute();
        for (const [table, column] of [
          ['vms', 'last_restart_at'],
          ['vms', 'restarts'],
          ['vms', 'restart_policy'],
          ['vms', 'description'],
          ['hosts', 'cordoned'],
          ['hosts', 'enabled'],
        ] as const) {
          await db.schema.alterTable(table).dropColumn(column).execute();
        }
      },
    },

    // One-time join tokens for hosts (docs/adr/0008-cluster-trust.md); only their hash is kept.
    '0003_join_tokens': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('join_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('host_name', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('join_tokens').execute();
      },
    },

    // Storage pool of a VM's disk (docs/adr/0013-live-migration.md); what running work has
    // decided so far, e.g. a migration's source and target, for a restarted server to act on.
    '0004_pools_and_operation_metadata': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .alterTable('vms')
          .addColumn('storage_pool', 'text', (c) => c.notNull().defaultTo('local'))
          .execute();
        await db.schema.alterTable('operations').addColumn('metadata', 'text').execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('operations').dropColumn('metadata').execute();
        await db.schema.alterTable('vms').dropColumn('storage_pool').execute();
      },
    },

    // Scheduling: a drained host is in maintenance; a VM keeps the placement rules it was created
    // with (group, affinity, selector), so a drain or migration places it by the same rules.
    '0005_scheduling': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .alterTable('hosts')
          .addColumn('maintenance', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema
          .alterTable('vms')
          .addColumn('placement', 'text', (c) => c.notNull().defaultTo('{}'))
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('vms').dropColumn('placement').execute();
        await db.schema.alterTable('hosts').dropColumn('maintenance').execute();
      },
    },
    // Projects with quotas, role bindings per project, API tokens, refresh-token rotation and
    // the append-only audit log (docs/adr/0016-security-model.md). users.role keeps only the
    // cluster-wide role: `admin` (every project) or `none`; other roles become bindings.
    '0006_projects_and_audit': {
      async up(db: Kysely<unknown>): Promise<void> {
        for (const column of ['max_vcpus', 'max_memory_mib', 'max_disk_gib', 'max_vms']) {
          await db.schema.alterTable('projects').addColumn(column, 'integer').execute();
        }

        await db.schema
          .createTable('role_bindings')
          .addColumn('user_id', 'text', (c) =>
            c.notNull().references('users.id').onDelete('cascade'),
          )
          .addColumn('project_id', 'text', (c) =>
            c.notNull().references('projects.id').onDelete('cascade'),
          )
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('role_bindings_pk', ['user_id', 'project_id'])
          .execute();
        await sql`insert into role_bindings (user_id, project_id, role, created_at)
          select users.id, projects.id, users.role, users.created_at from users, projects
          where projects.name = 'default' and users.role <> 'admin'`.execute(db);
        await sql`update users set role = 'none' where role <> 'admin'`.execute(db);

        await db.schema
          .createTable('api_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text', (c) =>
            c.notNull().references('users.id').onDelete('cascade'),
          )
          .addColumn('project_id', 'text', (c) =>
            c.notNull().references('projects.id').onDelete('cascade'),
          )
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('last_used_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('api_tokens_user_id')
          .on('api_tokens')
          .column('user_id')
          .execute();

        // Refresh tokens a session has rotated away from: presenting one again means it leaked.
        await db.schema
          .createTable('rotated_refresh_tokens')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) =>
            c.notNull().references('sessions.id').onDelete('cascade'),
          )
          .addColumn('rotated_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
            dialect === 'postgres'
              ? c.primaryKey().generatedAlwaysAsIdentity()
              : c.primaryKey().autoIncrement(),
          )
          .addColumn('time', 'text', (c) => c.notNull())
          .addColumn('actor', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target_type', 'text')
          .addColumn('target_id', 'text')
          .addColumn('target_name', 'text')
          .addColumn('project', 'text')
          .addColumn('source_address', 'text', (c) => c.notNull())
          .addColumn('result', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_log_time').on('audit_log').column('time').execute();
        await db.schema.createIndex('audit_log_actor').on('audit_log').column('actor').execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        for (const table of ['audit_log', 'rotated_refresh_tokens', 'api_tokens']) {
          await db.schema.dropTable(table).execute();
        }
        await sql`update users set role = coalesce((select role from role_bindings
          where role_bindings.user_id = users.id limit 1), role) where role = 'none'`.execute(db);
        await db.schema.dropTable('role_bindings').execute();
        for (const column of ['max_vms', 'max_disk_gib', 'max_memory_mib', 'max_vcpus']) {
          await db.schema.alterTable('projects').dropColumn(column).execute();
        }
      },
    },

    // The TOTP second factor (docs/adr/0018-second-factor-and-login-lockout.md): the secret sealed
    // by the server (never stored in clear), the last time step used (a code is good once), and
    // one-time recovery codes, of which only a hash is kept.
    '0007_second_factor': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('second_factors')
          .addColumn('user_id', 'text', (c) =>
            c.primaryKey().references('users.id').onDelete('cascade'),
          )
          .addColumn('secret_sealed', 'text')
          .addColumn('pending_secret_sealed', 'text')
          .addColumn('enabled_at', 'text')
          .addColumn('last_step', 'bigint')
          .addColumn('required', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('recovery_codes')
          .addColumn('user_id', 'text', (c) =>
            c.notNull().references('users.id').onDelete('cascade'),
          )
          .addColumn('code_hash', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .addPrimaryKeyConstraint('recovery_codes_pk', ['user_id', 'code_hash'])
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('recovery_codes').execute();
        await db.schema.dropTable('second_factors').execute();
      },
    },

    // Snapshots, clones and templates (docs/adr/0022-snapshots-clones-templates.md): a VM's
    // snapshots (the data itself lives in its qcow2 disk; the row is what the API lists, gone with
    // the VM), whether a VM is a template, and which template a linked clone's disk reads from.
    '0008_snapshots_and_templates': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('vm_snapshots')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('vm_id', 'text', (c) => c.notNull().references('vms.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('memory', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('vm_state', 'text', (c) => c.notNull())
          .addColumn('vm_state_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('vm_snapshots_vm_name', ['vm_id', 'name'])
          .execute();
        await db.schema
          .alterTable('vms')
          .addColumn('template', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.alterTable('vms').addColumn('base_vm_id', 'text').execute();
        await db.schema.createIndex('vms_base_vm_id').on('vms').column('base_vm_id').execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropIndex('vms_base_vm_id').execute();
        await db.schema.alterTable('vms').dropColumn('base_vm_id').execute();
        await db.schema.alterTable('vms').dropColumn('template').execute();
        await db.schema.dropTable('vm_snapshots').execute();
      },
    },

    // A VM's cloud-init data (docs/adr/0024-cloud-init-and-foreign-images.md), in a table of its
    // own: most VMs have none, and VM lists never read user-data. Gone with its VM.
    '0009_cloud_init': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('vm_cloud_init')
          .addColumn('vm_id', 'text', (c) =>
            c.primaryKey().references('vms.id').onDelete('cascade'),
          )
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('vm_cloud_init').execute();
      },
    },

    // Resize and hotplug (docs/adr/0023-resize-and-hotplug.md): a VM's headroom, live-added CPUs
    // and DIMMs, data disks and extra NICs, as JSON beside its row; the data disks' total size is a
    // column so that the project's disk usage can sum it.
    '0010_hotplug': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('vm_hardware')
          .addColumn('vm_id', 'text', (c) =>
            c.primaryKey().references('vms.id').onDelete('cascade'),
          )
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('data_disk_gib', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('vm_hardware').execute();
      },
    },
  };
}
