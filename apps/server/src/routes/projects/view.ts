import type { Project } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerDeps } from '../../deps.js';

/** A project as the API shows it: its quotas and what its VMs hold now. */
export async function projectView(deps: ServerDeps, name: string): Promise<Project> {
  const project = await deps.store.projects.get(name);
  if (project === undefined) {
    throw new DomainError('PROJECT_NOT_FOUND', `project '${name}' not found`);
  }
  return {
    id: project.id,
    name: project.name,
    quotas: project.quotas,
    usage: await deps.store.projects.usage(project.name),
    createdAt: project.createdAt,
  };
}
