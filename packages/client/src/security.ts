import type {
  ApiToken,
  ApiTokenCreate,
  ApiTokenCreated,
  ApiTokenPage,
  AuditPage,
  AuditQuery,
  Project,
  ProjectCreate,
  ProjectPage,
  ProjectQuotasPatch,
  RoleName,
  User,
  UserCreate,
  UserPage,
} from '@novacron/api';

/** The part of the client's transport these resources use. */
export interface JsonTransport {
  json<T>(
    method: string,
    path: string,
    options?: {
      params?: Record<string, string>;
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
    },
  ): Promise<T>;
  text(
    method: string,
    path: string,
    options?: { params?: Record<string, string>; body?: unknown },
  ): Promise<string>;
}

/** Projects and their quotas (creating, changing and deleting need the cluster admin). */
export class ProjectsResource {
  constructor(private readonly http: JsonTransport) {}

  list(): Promise<ProjectPage> {
    return this.http.json('GET', '/api/v1/projects');
  }

  get(name: string): Promise<Project> {
    return this.http.json('GET', '/api/v1/projects/:name', { params: { name } });
  }

  create(request: ProjectCreate): Promise<Project> {
    return this.http.json('POST', '/api/v1/projects', { body: request });
  }

  /** Changes quotas; null lifts one. */
  setQuotas(name: string, quotas: ProjectQuotasPatch): Promise<Project> {
    return this.http.json('PATCH', '/api/v1/projects/:name', { params: { name }, body: quotas });
  }

  async delete(name: string): Promise<void> {
    await this.http.text('DELETE', '/api/v1/projects/:name', { params: { name } });
  }
}

/** Users and their roles (cluster admin). */
export class UsersResource {
  constructor(private readonly http: JsonTransport) {}

  list(): Promise<UserPage> {
    return this.http.json('GET', '/api/v1/users');
  }

  create(request: UserCreate): Promise<User> {
    return this.http.json('POST', '/api/v1/users', { body: request });
  }

  async delete(username: string): Promise<void> {
    await this.http.text('DELETE', '/api/v1/users/:username', { params: { username } });
  }

  async setPassword(username: string, password: string): Promise<void> {
    await this.http.text('PUT', '/api/v1/users/:username/password', {
      params: { username },
      body: { password },
    });
  }

  /** Gives the user `role` in `project`, or changes it; answers the user with its roles. */
  setRole(username: string, project: string, role: RoleName): Promise<User> {
    return this.http.json('PUT', '/api/v1/users/:username/roles/:project', {
      params: { username, project },
      body: { role },
    });
  }

  /** Takes the user's role in `project` away (ROLE_BINDING_NOT_FOUND when it has none). */
  removeRole(username: string, project: string): Promise<User> {
    return this.http.json('DELETE', '/api/v1/users/:username/roles/:project', {
      params: { username, project },
    });
  }
}

/** API tokens for automation: the secret is in the answer to `create` only. */
export class TokensResource {
  constructor(private readonly http: JsonTransport) {}

  list(): Promise<ApiTokenPage> {
    return this.http.json('GET', '/api/v1/tokens');
  }

  create(request: ApiTokenCreate): Promise<ApiTokenCreated> {
    return this.http.json('POST', '/api/v1/tokens', { body: request });
  }

  revoke(id: string): Promise<ApiToken> {
    return this.http.json('DELETE', '/api/v1/tokens/:id', { params: { id } });
  }
}

/** The audit log, newest first (cluster admin). */
export class AuditResource {
  constructor(private readonly http: JsonTransport) {}

  list(query: AuditQuery = {}): Promise<AuditPage> {
    return this.http.json('GET', '/api/v1/audit', { query: { ...query } });
  }
}
