import type { Kysely } from 'kysely';
import type { Image, ImageKind, ImageStatus } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { now, write, type Scope, type StoreContext } from '../context.js';
import type { ImagesTable, Tables } from '../schema.js';
import { projectIdOf } from './projects.js';

export interface NewImage {
  /** Project name. */
  project: string;
  name: string;
  kind: ImageKind;
  status: ImageStatus;
  builtin?: boolean;
  sizeBytes: number;
  defaultKernelArgs: string;
  sha256: string;
}

export type ImageChanges = Partial<
  Pick<Image, 'status' | 'sizeBytes' | 'defaultKernelArgs' | 'sha256'>
>;

export interface ImageRepository {
  /** Throws PROJECT_NOT_FOUND, or IMAGE_NAME_TAKEN when the name is taken in the project. */
  create(image: NewImage): Promise<Image>;
  list(project: string): Promise<Image[]>;
  /** An id matches in any project; a name only within `project`. */
  get(project: string, idOrName: string): Promise<Image | undefined>;
  update(id: string, changes: ImageChanges): Promise<Image | undefined>;
  /** Removes the image; throws IMAGE_IN_USE while a VM is based on it. Undefined when absent. */
  delete(id: string): Promise<Image | undefined>;
}

export function createImageRepository(ctx: StoreContext, scope: Scope): ImageRepository {
  return {
    create(image) {
      return write(ctx, scope, async (w) => {
        const at = now(ctx);
        const row = await w.db
          .insertInto('images')
          .values({
            id: ctx.newId(),
            name: image.name,
            project_id: await projectIdOf(w, image.project),
            kind: image.kind,
            status: image.status,
            builtin: image.builtin ? 1 : 0,
            size_bytes: image.sizeBytes,
            default_kernel_args: image.defaultKernelArgs,
            sha256: image.sha256,
            created_at: at,
            updated_at: at,
          })
          .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!row) {
          throw new DomainError(
            'IMAGE_NAME_TAKEN',
            `an image named ${image.name} already exists in project ${image.project}`,
            { name: image.name, project: image.project },
          );
        }
        return mustGet(w.db, row.id);
      });
    },

    async list(project) {
      const rows = await selectImages(scope.db)
        .where('projects.name', '=', project)
        .orderBy('images.name')
        .execute();
      return rows.map(toImage);
    },

    async get(project, idOrName) {
      const row =
        (await selectImages(scope.db).where('images.id', '=', idOrName).executeTakeFirst()) ??
        (await selectImages(scope.db)
          .where('projects.name', '=', project)
          .where('images.name', '=', idOrName)
          .executeTakeFirst());
      return row && toImage(row);
    },

    update(id, changes) {
      return write(ctx, scope, async (w) => {
        const result = await w.db
          .updateTable('images')
          .set({
            status: changes.status,
            size_bytes: changes.sizeBytes,
            default_kernel_args: changes.defaultKernelArgs,
            sha256: changes.sha256,
            updated_at: now(ctx),
          })
          .where('id', '=', id)
          .executeTakeFirst();
        return result.numUpdatedRows === 0n ? undefined : mustGet(w.db, id);
      });
    },

    delete(id) {
      return write(ctx, scope, async (w) => {
        const image = await selectImages(w.db).where('images.id', '=', id).executeTakeFirst();
        if (!image) return undefined;
        const users = await w.db
          .selectFrom('vms')
          .select('name')
          .where('image_id', '=', id)
          .orderBy('name')
          .execute();
        if (users.length > 0) {
          throw new DomainError(
            'IMAGE_IN_USE',
            `image ${image.name} is used by ${users.length} VM(s): ${users.map((u) => u.name).join(', ')}`,
            { image: image.name, vms: users.map((u) => u.name) },
          );
        }
        await w.db.deleteFrom('images').where('id', '=', id).execute();
        return toImage(image);
      });
    },
  };
}

function selectImages(db: Kysely<Tables>) {
  return db
    .selectFrom('images')
    .innerJoin('projects', 'projects.id', 'images.project_id')
    .selectAll('images')
    .select('projects.name as project_name');
}

async function mustGet(db: Kysely<Tables>, id: string): Promise<Image> {
  return toImage(await selectImages(db).where('images.id', '=', id).executeTakeFirstOrThrow());
}

type ImageRow = Omit<ImagesTable, 'size_bytes'> & {
  size_bytes: string | number;
  project_name: string;
};

function toImage(row: ImageRow): Image {
  return {
    id: row.id,
    name: row.name,
    project: row.project_name,
    kind: row.kind as ImageKind,
    status: row.status as ImageStatus,
    builtin: row.builtin === 1,
    sizeBytes: Number(row.size_bytes),
    defaultKernelArgs: row.default_kernel_args,
    sha256: row.sha256,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
