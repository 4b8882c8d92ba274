'use client';

import { Tabs } from 'radix-ui';
import { useState } from 'react';
import { ProjectsPanel } from '../../components/admin-projects';
import { TokensPanel } from '../../components/admin-tokens';
import { UsersPanel } from '../../components/admin-users';
import { PageHeader } from '../../components/ui';

const TAB =
  'rounded-md px-3 py-1.5 text-sm text-muted data-[state=active]:bg-accent/15 data-[state=active]:font-medium data-[state=active]:text-accent';

export default function AdminPage() {
  const [tab, setTab] = useState('users');
  return (
    <>
      <PageHeader
        title="Admin"
        subtitle="Who may do what, where: users and their roles, projects and their quotas, API tokens"
      />
      <Tabs.Root value={tab} onValueChange={setTab}>
        <Tabs.List aria-label="Admin sections" className="mb-3 flex flex-wrap gap-1">
          <Tabs.Trigger value="users" className={TAB}>
            Users
          </Tabs.Trigger>
          <Tabs.Trigger value="projects" className={TAB}>
            Projects
          </Tabs.Trigger>
          <Tabs.Trigger value="tokens" className={TAB}>
            API tokens
          </Tabs.Trigger>
        </Tabs.List>
        <Tabs.Content value="users">
          <UsersPanel />
        </Tabs.Content>
        <Tabs.Content value="projects">
          <ProjectsPanel />
        </Tabs.Content>
        <Tabs.Content value="tokens">
          <TokensPanel />
        </Tabs.Content>
      </Tabs.Root>
    </>
  );
}
